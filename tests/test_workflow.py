""".github/workflows/evalkit.yml: its shape, its pins, and its own ``run:`` steps executed here.

The steps are read from the workflow file (not copied) and run in order with bash, as GitHub runs
them (``bash --noprofile --norc -eo pipefail``), in a temporary checkout-like folder holding the
suites and a link to this repository's ``.venv``. The install step is skipped: the venv is already
built from the same lock (``make venv`` needs the network). ``uses:`` steps are GitHub's to run;
their inputs are checked instead. The candidate is served by evalkit's test server through the
workflow's own ``EVALKIT_CANDIDATE_API_BASE``; the replayed baseline must never reach it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from evalkit.analysis.aggregate import summarize_run
from evalkit.analysis.gate import evaluate_gate, gate_config_from_manifest
from evalkit.analysis.outcome import gate_exit_code
from evalkit.rundir.manifest import read_manifest
from evalkit.testing.server import TestServer

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "evalkit.yml"
SHA_PIN = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s+v\d+(\.\d+)*\s*$")


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _job() -> dict[str, Any]:
    (job,) = _workflow()["jobs"].values()
    return job


def test_triggers_permissions_and_steps():
    wf = _workflow()
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert "pull_request" in on and "workflow_dispatch" in on
    assert wf["permissions"] == {"contents": "read", "checks": "write"}  # least privilege
    assert wf["defaults"]["run"]["shell"] == "bash"
    steps = _job()["steps"]
    runs = [s.get("run", "") for s in steps]
    uses = {s["uses"].split("@")[0]: s for s in steps if "uses" in s}
    assert any("make venv" in r for r in runs), "install from the lock (Makefile venv target)"
    assert any("evalkit run" in r for r in runs) and any("evalkit gate" in r for r in runs)
    assert any("GITHUB_STEP_SUMMARY" in r for r in runs)
    junit = uses["mikepenz/action-junit-report"]
    assert junit["with"]["report_paths"].endswith("/junit.xml") and "!cancelled()" in junit["if"]
    artifact = uses["actions/upload-artifact"]
    assert "RUN_DIR" in artifact["with"]["path"] and "!cancelled()" in artifact["if"]
    assert uses["actions/checkout"]["with"]["persist-credentials"] is False
    # the gate step carries the job's result: nothing after it that could fail runs as `run:`
    gate_index = next(i for i, r in enumerate(runs) if "evalkit gate" in r)
    assert all("run" not in s for s in steps[gate_index + 1 :])
    # the suite it runs replays its closed model
    suite = yaml.safe_load((ROOT / _job()["env"]["EVALKIT_SUITE"]).read_text())
    closed = [m for m in suite["models"] if m["group"] == "closed"]
    assert closed and all(m.get("replay") for m in closed)
    assert any(m["name"] == _job()["env"]["EVALKIT_CANDIDATE"] for m in suite["models"])


def test_every_action_is_pinned_by_full_sha_with_its_version():
    lines = [line for line in WORKFLOW.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert len(lines) == 4
    for line in lines:
        assert SHA_PIN.match(line), f"not pinned to a 40-hex SHA with a '# vX.Y' comment: {line.strip()}"


# --- the workflow's own commands, run here --------------------------------------------------


def _checkout(tmp_path: Path) -> Path:
    """A checkout-like folder: the suites and the repository's (already installed) venv."""
    work = tmp_path / "checkout"
    work.mkdir()
    shutil.copytree(ROOT / "suites", work / "suites")
    (work / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    return work


def _expression(value: str, context: dict[str, str]) -> str:
    """Substitute the ``${{ ... }}`` expressions of a job env value (vars, secrets, runner)."""

    def sub(m: re.Match[str]) -> str:
        key = m.group(1).strip()
        assert key in context, f"the test gives no value for ${{{{ {key} }}}}"
        return context[key]

    return re.sub(r"\$\{\{(.*?)\}\}", sub, value)


def _run_steps(work: Path, context: dict[str, str], tmp_path: Path) -> tuple[int, dict[str, str]]:
    """Run the job's ``run:`` steps in order; the job's exit code (first failing step) and final env."""
    job = _job()
    runner_temp = Path(context["runner.temp"])
    runner_temp.mkdir(parents=True, exist_ok=True)
    github_env = tmp_path / "github_env"
    github_env.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "EVALKIT_"))}
    env.update({k: _expression(str(v), context) for k, v in job["env"].items()})
    env.update(
        GITHUB_ENV=str(github_env),
        GITHUB_STEP_SUMMARY=str(tmp_path / "step_summary.md"),
        RUNNER_TEMP=str(runner_temp),
    )
    failed = 0
    ran: list[str] = []
    for step in job["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue  # actions are GitHub's; the install needs the network (the venv is built already)
        condition = step.get("if", "")
        if failed and "always()" not in condition and "!cancelled()" not in condition:
            continue
        script = tmp_path / f"step{len(ran)}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        ran.append(step["name"])
        for line in github_env.read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
        if proc.returncode and not failed:
            failed = proc.returncode
            env["_FAILED_STEP"] = f"{step['name']}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    assert ran == [s["name"] for s in job["steps"] if "run" in s and s.get("id") != "install"][: len(ran)]
    return failed, env


def _labels(work: Path) -> dict[str, str]:
    rows = [
        json.loads(x) for x in (work / "suites/data/ci_example_banking77_40.jsonl").read_text().splitlines()
    ]
    return {r["input"]: r["expected"] for r in rows}


@pytest.mark.parametrize(
    ("candidate_right", "verdict", "code"),
    [
        (True, "MIGRATE", 0),  # right on all 40; the baseline on 38: gap -0.05, upper bound < 0.10
        pytest.param(False, "STAY", 1, marks=pytest.mark.slow),  # always wrong: gap 0.95
    ],
)
def test_the_workflow_steps_run_and_the_job_result_is_the_gate(
    tmp_path: Path, candidate_right: bool, verdict: str, code: int
):
    work = _checkout(tmp_path)
    expected = _labels(work)

    def answer(model: str, messages: list[dict[str, Any]]) -> str:
        text = messages[-1]["content"]
        msg = text.split("Message: ", 1)[1].rsplit("\nIntent:", 1)[0]
        return expected[msg] if candidate_right else "terminate_account"

    with TestServer(responder=answer) as server:
        context = {
            "vars.EVALKIT_CANDIDATE_API_BASE": server.openai_base,
            "secrets.TOGETHERAI_API_KEY": "",
            "secrets.GROQ_API_KEY": "",
            "runner.temp": str(tmp_path / "runner"),
        }
        exit_code, env = _run_steps(work, context, tmp_path)
        seen = dict(server.stats.by_model)
    assert seen == {"meta-llama/Llama-3.1-8B-Instruct": 40}, (
        "only the candidate is called; the baseline is replayed"
    )
    run_dir = Path(env["RUN_DIR"])
    assert run_dir.is_dir() and run_dir.parent.parent == tmp_path / "runner" / "evalkit-results"
    assert env["EVALKIT_RUN_SUITE"] == "suites/ci-example.ci.yaml"
    # the job's result is the gate's exit code, computed here from the run folder alone
    outcome = evaluate_gate(summarize_run(run_dir), gate_config_from_manifest(read_manifest(run_dir)))
    assert exit_code == int(gate_exit_code(outcome)) == code, env.get("_FAILED_STEP")
    summary = (tmp_path / "step_summary.md").read_text()
    assert (run_dir / "summary.md").read_text() in summary  # evalkit run appended summary.md
    assert f"### evalkit gate (exit {code})" in summary and f"verdict: {verdict}" in summary
    cases = list(ET.parse(run_dir / "junit.xml").getroot().iter("testcase"))
    assert cases and any("max_gap" in (c.get("name") or "") for c in cases)
    manifest = read_manifest(run_dir)
    baseline = manifest.model("closed-baseline")
    assert baseline is not None and baseline.replay is not None
    assert baseline.replay["kind"] == "jsonl" and baseline.replay["missing"] == 0
    assert baseline.counts["replayed"] == 40

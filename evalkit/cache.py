"""The response cache shared across runs.

Keyed on the whole request — the resolved model, the endpoint identity, every message,
every parameter and the epoch — so changing any of them misses. Only successful
completions are stored: an error is retried next run, not replayed. SQLite (WAL) makes
each write atomic, so a killed run never leaves a half-written entry; an entry that does
not parse is reported and ignored, never trusted.

Location: ``$EVALKIT_CACHE_DIR/responses.sqlite3`` (default ``~/.cache/evalkit``);
``--no-cache`` switches it off for a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from evalkit.types import Completion, Request


def cache_dir() -> Path:
    base = os.environ.get("EVALKIT_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "evalkit"


def request_key(request: Request) -> str:
    """sha256 of the canonical JSON of everything that defines the request."""
    payload: dict[str, Any] = {
        "model": request.model,
        "api_base": request.api_base,
        "messages": list(request.messages),
        "params": request.params,
        "epoch": request.epoch,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """A key -> completion store. Not shared between threads; one per run."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, completion TEXT NOT NULL)"
        )
        self.hits = 0
        self.corrupt = 0

    @classmethod
    def default(cls) -> ResponseCache:
        return cls(cache_dir() / "responses.sqlite3")

    def get(self, key: str) -> Completion | None:
        row = self._db.execute("SELECT completion FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            completion = Completion.from_dict(json.loads(row[0]))
        except (ValueError, KeyError, TypeError):
            self.corrupt += 1
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))
            return None
        self.hits += 1
        return replace(
            completion, cached=True
        )  # cost_usd stays what the request costs; nothing was spent now

    def contains(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def put(self, key: str, completion: Completion) -> None:
        if not completion.ok:
            return
        blob = json.dumps(completion.to_dict(), ensure_ascii=False)
        self._db.execute("INSERT OR REPLACE INTO responses (key, completion) VALUES (?, ?)", (key, blob))

    def close(self) -> None:
        self._db.close()

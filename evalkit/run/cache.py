"""The response cache shared across runs.

Keyed on the whole request — the resolved model, the endpoint identity, every message,
every parameter and the epoch — so changing any of them misses. Only successful
completions are stored: an error is retried next run, not replayed. SQLite (WAL) makes
each write atomic, so a killed run never leaves a half-written entry; an entry that does
not parse is reported and ignored, never trusted.

Location: ``$EVALKIT_CACHE_DIR/responses.sqlite3`` (default ``~/.cache/evalkit``);
``--no-cache`` switches it off for a run.

A run asks for many keys at once (:meth:`ResponseCache.present`, :meth:`ResponseCache.get_many`,
a few hundred per query), and :class:`KeyMaker` computes the same key as :func:`request_key`
while serialising each sample's messages once for every model and epoch.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
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


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class KeyMaker:
    """:func:`request_key` for one model, in parts: the model's fixed fields are serialised once.

    ``KeyMaker(model, api_base, params).key(KeyMaker.messages_json(messages), epoch)`` equals
    ``request_key(Request(model, messages, params, api_base, epoch))`` (the canonical JSON has its
    keys sorted: api_base, epoch, messages, model, params).
    """

    __slots__ = ("_head", "_tail")

    def __init__(self, model: str, api_base: str | None, params: dict[str, Any]) -> None:
        self._head = '{"api_base":' + _canonical(api_base) + ',"epoch":'
        self._tail = ',"model":' + _canonical(model) + ',"params":' + _canonical(params) + "}"

    @staticmethod
    def messages_json(messages: Sequence[dict[str, str]]) -> str:
        return _canonical(list(messages))

    def key(self, messages_json: str, epoch: int) -> str:
        blob = f'{self._head}{int(epoch)},"messages":{messages_json}{self._tail}'
        return hashlib.sha256(blob.encode()).hexdigest()


BATCH = 500
"""Keys per query (SQLite allows at least 999 parameters)."""


def _batches(keys: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for k in keys:
        batch.append(k)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


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
        except (ValueError, KeyError, TypeError, AttributeError):
            self.corrupt += 1
            self._db.execute("DELETE FROM responses WHERE key = ?", (key,))
            return None
        self.hits += 1
        return replace(
            completion, cached=True
        )  # cost_usd stays what the request costs; nothing was spent now

    def present(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` the cache holds (not parsed: a corrupt entry is found out by :meth:`get_many`)."""
        found: set[str] = set()
        for batch in _batches(keys):
            marks = ",".join("?" * len(batch))
            found.update(
                row[0] for row in self._db.execute(f"SELECT key FROM responses WHERE key IN ({marks})", batch)
            )
        return found

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        """The completions held for ``keys`` (each marked ``cached``); corrupt entries are dropped and counted."""
        out: dict[str, Completion] = {}
        bad: list[str] = []
        for batch in _batches(keys):
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(f"SELECT key, completion FROM responses WHERE key IN ({marks})", batch)
            for key, blob in rows:
                try:
                    d = json.loads(blob)
                    d["cached"] = True  # cost_usd stays what the request costs; nothing was spent now
                    out[key] = Completion.from_dict(d)
                except (ValueError, KeyError, TypeError, AttributeError):
                    bad.append(key)
        if bad:
            self.corrupt += len(bad)
            self._db.executemany("DELETE FROM responses WHERE key = ?", [(k,) for k in bad])
        self.hits += len(out)
        return out

    def contains(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def put(self, key: str, completion: Completion) -> None:
        if not completion.ok:
            return
        blob = json.dumps(completion.to_dict(), ensure_ascii=False)
        self._db.execute("INSERT OR REPLACE INTO responses (key, completion) VALUES (?, ?)", (key, blob))

    def close(self) -> None:
        self._db.close()

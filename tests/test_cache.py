"""The response cache: keyed on the whole request; only successes; corrupt entries not trusted."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from evalkit.run.cache import ResponseCache, request_key
from evalkit.types import Completion, ErrorInfo, ErrorKind, Request

BASE = Request(
    model="openai/gpt-4o-mini",
    messages=({"role": "user", "content": "hi"},),
    params={"temperature": 0, "max_tokens": 10},
    api_base=None,
    epoch=0,
)


@pytest.mark.parametrize(
    "changed",
    [
        replace(BASE, model="openai/gpt-4o"),
        replace(BASE, api_base="http://127.0.0.1:9/v1"),
        replace(BASE, messages=({"role": "user", "content": "hi!"},)),
        replace(BASE, messages=({"role": "system", "content": "x"}, {"role": "user", "content": "hi"})),
        replace(BASE, params={"temperature": 0, "max_tokens": 11}),
        replace(BASE, params={"temperature": 0.5, "max_tokens": 10}),
        replace(BASE, params={"temperature": 0, "max_tokens": 10, "seed": 1}),
        replace(
            BASE, params={"temperature": 0, "max_tokens": 10, "response_format": {"type": "json_object"}}
        ),
        replace(BASE, epoch=1),
    ],
)
def test_every_part_of_the_request_is_in_the_key(changed: Request):
    assert request_key(changed) != request_key(BASE)


def test_key_ignores_param_order():
    assert request_key(replace(BASE, params={"max_tokens": 10, "temperature": 0})) == request_key(BASE)


def test_round_trip_and_errors_not_cached(tmp_path: Path):
    cache = ResponseCache(tmp_path / "c.sqlite3")
    ok = Completion(
        text="yes", finish_reason="stop", input_tokens=3, output_tokens=1, cost_usd=0.001, latency_s=0.2
    )
    cache.put("k1", ok)
    cache.put("k2", Completion(text=None, error=ErrorInfo(ErrorKind.SERVER, "500", 500)))
    got = cache.get("k1")
    assert got is not None and got.cached and got.text == "yes" and got.cost_usd == 0.001
    assert cache.get("k2") is None
    cache.close()
    again = ResponseCache(tmp_path / "c.sqlite3")  # shared across runs: survives reopening
    assert again.get("k1") is not None


def test_corrupt_entry_is_reported_and_dropped(tmp_path: Path):
    cache = ResponseCache(tmp_path / "c.sqlite3")
    db = sqlite3.connect(tmp_path / "c.sqlite3")
    db.execute("INSERT INTO responses VALUES ('bad', '{not json')")
    db.commit()
    assert cache.get("bad") is None
    assert cache.corrupt == 1
    assert cache.get("bad") is None and cache.corrupt == 1  # deleted, not re-counted

"""The cached path: keys computed in parts equal the canonical key, lookups in batches, and a
re-run renders each sample once and sends nothing."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from evalkit.cli import main
from evalkit.config.prompt import Renderer
from evalkit.run.cache import BATCH, KeyMaker, ResponseCache, request_key
from evalkit.testing.server import TestServer
from evalkit.types import Completion, Request

BASE = Request(
    model="openai/gpt-4o-mini",
    messages=({"role": "system", "content": 'Reply «oui» or "non"\n'}, {"role": "user", "content": "q ✓"}),
    params={"temperature": 0, "max_tokens": 10, "stop": ["\n"], "response_format": {"type": "json_object"}},
    api_base=None,
    epoch=0,
)


@pytest.mark.parametrize(
    "request_",
    [
        BASE,
        replace(BASE, epoch=3),
        replace(BASE, api_base="http://127.0.0.1:8000/v1"),
        replace(BASE, params={}),
        replace(BASE, params={"b": 1, "a": {"z": 1, "y": [1, 2]}}),
        replace(BASE, params={"when": Path("/x")}),  # not JSON: str(), as request_key does
        replace(BASE, messages=()),
        replace(BASE, model="local/smollm2@abc@xllamacpp==1"),
    ],
)
def test_keymaker_equals_request_key(request_):
    maker = KeyMaker(request_.model, request_.api_base, request_.params)
    assert maker.key(KeyMaker.messages_json(request_.messages), request_.epoch) == request_key(request_)


def test_batched_lookups_cross_the_batch_size_and_drop_corrupt_entries(tmp_path: Path):
    cache = ResponseCache(tmp_path / "c.sqlite3")
    keys = [f"k{i}" for i in range(BATCH * 2 + 7)]
    for k in keys[::2]:
        cache.put(k, Completion(text=k, input_tokens=1, output_tokens=1))
    db = sqlite3.connect(tmp_path / "c.sqlite3")
    db.execute("INSERT INTO responses VALUES ('k1', '[1, 2]')")  # parses, but is not a completion
    db.execute("INSERT INTO responses VALUES ('k3', '{not json')")
    db.commit()
    held = cache.present(keys)
    assert held == set(keys[::2]) | {"k1", "k3"}
    got = cache.get_many(keys)
    assert set(got) == set(keys[::2])
    assert all(c.cached and c.text == k for k, c in got.items())
    assert cache.corrupt == 2 and cache.present(["k1", "k3"]) == set()  # dropped
    cache.close()


def _suite(make_suite, srv: TestServer, n: int):
    rows = [{"id": f"s{i}", "input": f"question {i}", "expected": "ok"} for i in range(n)]
    models = [
        {"name": name, "model": f"openai/{name}", "group": group, "api_base": srv.openai_base}
        for name, group in (("closed-a", "closed"), ("open-b", "open"))
    ]
    return make_suite(rows, models=models, epochs=2, defaults={"concurrency": 4})


def test_a_cached_rerun_renders_each_sample_once_and_sends_nothing(make_suite, results_dir, monkeypatch):
    n = 30
    renders: list[str] = []
    real = Renderer.render

    def counting(self, sample):  # type: ignore[no-untyped-def]
        renders.append(sample.id)
        return real(self, sample)

    monkeypatch.setattr(Renderer, "render", counting)
    with TestServer() as srv:
        path = _suite(make_suite, srv, n)
        assert main(["run", str(path), "--no-progress"]) == 0
        (first,) = results_dir.glob("*/*")
        sent = srv.stats.total
        assert sent == n * 2 * 2
        first_renders = len(renders)
        renders.clear()
        assert main(["run", str(path), "--no-progress"]) == 0
        assert srv.stats.total == sent  # nothing sent again
    assert sorted(renders) == sorted(f"s{i}" for i in range(n))  # once each: the scan
    assert first_renders == n + n * 2 * 2  # the scan, then each request as it is sent
    (second,) = set(results_dir.glob("*/*")) - {first}
    rows = [json.loads(x) for x in (second / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == n * 2 * 2 and all(r["completion"]["cached"] for r in rows)
    assert {(r["sample_id"], r["model"], r["epoch"]) for r in rows} == {
        (f"s{i}", m, e) for i in range(n) for m in ("closed-a", "open-b") for e in (0, 1)
    }
    manifest = json.loads((second / "run.json").read_text())
    assert manifest["counts"] == {"planned": 120, "done": 120, "errors": 0, "cached": 120}


def test_a_corrupt_entry_found_at_replay_is_sent_again(make_suite, results_dir):
    with TestServer() as srv:
        path = _suite(make_suite, srv, 3)
        assert main(["run", str(path), "--no-progress"]) == 0
        (first,) = results_dir.glob("*/*")
        db = sqlite3.connect(Path(results_dir).parent / "cache" / "responses.sqlite3")
        (key,) = db.execute("SELECT key FROM responses LIMIT 1").fetchone()
        db.execute("UPDATE responses SET completion = '{broken' WHERE key = ?", (key,))
        db.commit()
        before = srv.stats.total
        assert main(["run", str(path), "--no-progress"]) == 0
        assert srv.stats.total == before + 1
    (second,) = set(results_dir.glob("*/*")) - {first}
    rows = [json.loads(x) for x in (second / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and sum(not r["completion"]["cached"] for r in rows) == 1


def test_a_template_of_constants_renders_once_and_a_shadowing_field_still_wins():
    from evalkit.config.schema import PromptConfig
    from evalkit.types import Sample

    prompt = PromptConfig(system="Labels: {{ labels | join(', ') }}", user="{{ input }}")
    renderer = Renderer(prompt, file_vars={"labels": ["a", "b"]}, hidden=[], where="t")
    calls = 0
    system = renderer._system
    assert system is not None
    real = system.render

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    system.render = counting  # type: ignore[method-assign]
    plain = [Sample(id=f"s{i}", input=f"q{i}", expected=None, fields={}) for i in range(5)]
    shadow = Sample(id="x", input="qx", expected=None, fields={"labels": ["z"]})
    out = [renderer.render(s) for s in [*plain, shadow, plain[0]]]
    assert calls == 2  # once for the constant text, once for the sample that shadows `labels`
    assert [m[0]["content"] for m in out] == ["Labels: a, b"] * 5 + ["Labels: z", "Labels: a, b"]
    assert [m[1]["content"] for m in out] == [f"q{i}" for i in range(5)] + ["qx", "q0"]

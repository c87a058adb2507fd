"""The one place a result lands (evalkit.run.recorder): the same steps for every source, in order."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from evalkit.config.schema import ModelConfig
from evalkit.providers.retry import RetryPolicy
from evalkit.run.budget import Budget
from evalkit.run.cache import ResponseCache
from evalkit.run.plan import ModelPlan
from evalkit.run.progress import RunProgress
from evalkit.run.recorder import Landing, Recorder
from evalkit.run.state import ModelState
from evalkit.rundir.ledger import LedgerWriter, iter_results
from evalkit.types import Completion, ErrorInfo, ErrorKind, Sample, Score


def _plan(name: str) -> ModelPlan:
    cfg = ModelConfig(name=name, model="openai/x", group="open")
    return ModelPlan(cfg, "open", {}, 1, RetryPolicy(), None, "openai/x", None, "openai/x")


def _exact(text: str, sample: Sample) -> Score:
    ok = text.strip() == sample.expected
    return Score(float(ok), text, "match" if ok else "no match", "correct" if ok else "wrong")


def _boom(text: str, sample: Sample) -> Score:
    raise RuntimeError("scorer bug")


async def _slow(text: str, sample: Sample) -> Score:
    await asyncio.sleep(0.01)
    return Score(1.0, text, "async scorer awaited", "ok")


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    plans = [_plan("m")]
    return Recorder(
        plans=plans,
        states=[ModelState()],
        scorers={"exact": _exact, "boom": _boom, "slow": _slow},
        cache=ResponseCache(tmp_path / "cache.sqlite3"),
        ledger=LedgerWriter(tmp_path / "run", batch=True),
        progress=RunProgress([("m", 10)], enabled=False, echo=print),
        budget=Budget(None),
    )


SAMPLE = Sample("s1", "question", "yes", {})


def _land(completion: Completion, key: str = "k1", epoch: int = 0) -> Landing:
    return Landing(0, SAMPLE, epoch, completion, key)


@pytest.mark.parametrize(
    ("source", "cached_after", "counter"),
    [
        ("live", True, None),
        ("batch", True, None),
        ("cached", False, "cached"),
        ("recorded", False, "replayed"),
    ],
)
def test_every_source_lands_the_same_way(recorder: Recorder, source, cached_after, counter) -> None:
    answer = Completion("yes", finish_reason="stop", input_tokens=3, output_tokens=1, cost_usd=0.002)
    (result,) = asyncio.run(recorder.record_many([_land(answer)], source=source, batch_id="b-1"))
    recorder.flush()
    state = recorder.states[0]
    assert (state.done, state.errors) == (1, 0)
    assert state.cached == (1 if counter == "cached" else 0) and state.replayed == (
        1 if counter == "replayed" else 0
    )
    assert (recorder.cache.get("k1") is not None) is cached_after  # type: ignore[union-attr]
    assert result.scores["exact"].value == 1.0 and result.scores["slow"].label == "ok"
    assert result.scores["boom"].label == "scorer_error" and "scorer bug" in result.scores["boom"].explanation
    (on_disk,) = list(iter_results(recorder.ledger.path))
    assert on_disk == result
    line = json.loads(recorder.ledger.path.read_text().splitlines()[0])
    if source == "batch":
        assert line["completion"]["via"] == "batch" and line["completion"]["batch_id"] == "b-1"
        assert recorder.budget.spent_usd == pytest.approx(0.002)  # a batch answer is charged as it lands
    else:
        assert "via" not in line["completion"] and recorder.budget.spent_usd == 0.0


def test_an_error_is_counted_not_scored_and_not_cached(recorder: Recorder) -> None:
    failed = Completion(None, error=ErrorInfo(ErrorKind.SERVER, "500", 500))
    (result,) = asyncio.run(recorder.record_many([_land(failed)], source="live"))
    assert result.scores == {} and recorder.states[0].errors == 1
    assert recorder.cache.get("k1") is None  # type: ignore[union-attr]


def test_a_fresh_answer_is_in_the_cache_before_it_is_scored(tmp_path: Path, recorder: Recorder) -> None:
    seen: list[bool] = []

    def spy(text: str, sample: Sample) -> Score:
        seen.append(recorder.cache.get("k1") is not None)  # type: ignore[union-attr]
        return Score(1.0, text, "seen", None)

    recorder.scorers = {"spy": spy}
    asyncio.run(recorder.record_many([_land(Completion("yes"))], source="live"))
    assert seen == [True]


def test_async_scorers_of_a_batch_run_concurrently(recorder: Recorder) -> None:
    running, peak = 0, 0

    async def gauge(text: str, sample: Sample) -> Score:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return Score(1.0, text, "ok", None)

    recorder.scorers = {"gauge": gauge}
    landings = [_land(Completion("yes"), key=f"k{i}", epoch=i) for i in range(8)]
    asyncio.run(recorder.record_many(landings, source="cached"))
    assert peak > 1 and recorder.states[0].done == 8

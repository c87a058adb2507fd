"""code_exec: real MBPP and HumanEval references pass, broken ones fail with the right class and reason.

The rows are the shipped suites' data (``suites/data/mbpp_test.jsonl``, ``humaneval.jsonl``). A
sample of 20 runs in the fast set; every reference solution runs in the slow set.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import ConfigError
from evalkit.scorers._async import as_async, as_sync, is_async_scorer
from evalkit.scorers.code_exec import CodeExec
from evalkit.scorers.code_extract import extract_code, fenced_blocks, looks_like_python
from evalkit.scorers.code_verdict import CLASSES
from evalkit.scorers.metrics.code import CLASSES as METRIC_CLASSES
from evalkit.scorers.metrics.code import CodeExecAccumulator
from evalkit.scorers.registry import build_scorer, registered
from evalkit.types import Sample, Score

DATA = Path(__file__).resolve().parents[1] / "suites" / "data"
ARGS = {"timeout_s": 20, "cpu_s": 10, "max_parallel": 2}


def _load(name: str) -> list[Sample]:
    rows = []
    for i, line in enumerate((DATA / name).read_text(encoding="utf-8").splitlines(), 1):
        r = json.loads(line)
        fields = {k: v for k, v in r.items() if k not in ("id", "input", "expected")}
        rows.append(Sample(r["id"], r["input"], r.get("expected"), fields, line=i))
    return rows


MBPP = {s.id: s for s in _load("mbpp_test.jsonl")}
HUMANEVAL = {s.id: s for s in _load("humaneval.jsonl")}


@pytest.fixture(scope="module")
def code_exec() -> CodeExec:
    fn = build_scorer("code_exec", ARGS, allow_async=True)
    assert isinstance(fn, CodeExec)
    return fn


def score_all(fn: CodeExec, pairs: list[tuple[str, Sample]]) -> list[Score]:
    async def main() -> list[Score]:
        return list(await asyncio.gather(*(fn(text, s) for text, s in pairs)))

    return asyncio.run(main())


def fence(code: str, lang: str = "python") -> str:
    return f"Here is the solution:\n\n```{lang}\n{code}\n```\n\nIt works by iterating."


# --- extraction ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "entry", "code", "source", "how"),
    [
        ("```python\ndef f():\n    return 1\n```", "f", "def f():\n    return 1", "fence", "the only fenced block"),
        ("~~~py\nx = 1\n~~~", None, "x = 1", "fence", "the only fenced block"),
        ("Use:\n```\ndef f(): pass\n```", "f", "def f(): pass", "fence", "the only fenced block"),
        ("```python\ndef helper(): pass\n```\nthen\n```python\ndef f(a):\n    return a\n```", "f",
         "def f(a):\n    return a", "fence", "block 2 of 2, the one that defines f"),
        ("```python\nx = 1\n```\n```python\ny = [i for i in range(10)]\nprint(y)\n```", "f",
         "y = [i for i in range(10)]\nprint(y)", "fence", "block 2 of 2, the longest"),
        ("```text\nusage: f(1)\n```\n```python\ndef f(a): return a\n```", "f", "def f(a): return a", "fence",
         "block 2 of 2"),
        ("```bash\nprint('hi')\n```", None, "print('hi')", "fence", "the only fenced block (```bash)"),
        ("```python\ndef f(x):\n    return x", "f", "def f(x):\n    return x", "fence_unterminated",
         "the only fenced block, never closed"),
        ("def f(x):\n    return x\n```\nThat is all.", "f", "def f(x):\n    return x", "fence",
         "the code before the answer's first fence"),
        ("def f(x):\n    return x + 1\n", "f", "def f(x):\n    return x + 1", "whole_answer",
         "the whole answer (no fenced block)"),
        ("    return sorted(set(l))\n", "unique", "    return sorted(set(l))", "whole_answer",
         "the whole answer (no fenced block)"),
        ("````python\ncode = '```'\n````", None, "code = '```'", "fence", "the only fenced block"),
    ],
)  # fmt: skip
def test_extract_code(text: str, entry: str | None, code: str, source: str, how: str) -> None:
    got = extract_code(text, entry)
    assert got is not None
    assert (got.code, got.source) == (code, source)
    assert got.how.startswith(how)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "I'm sorry, I can't help with that.",
        "The function should sort the list.",
        "```python\n\n```",
    ],
)
def test_no_code(text: str) -> None:
    assert extract_code(text, "f") is None


def test_fenced_blocks_and_python_lines() -> None:
    blocks = fenced_blocks("a\n```Python3 extra\nx\n```\n```\ny")
    assert [(b.info, b.body, b.closed) for b in blocks] == [("python3", "x", True), ("", "y", False)]
    assert (
        looks_like_python("total += 1")
        and looks_like_python("@decorator")
        and not looks_like_python("a == b")
    )


# --- real reference solutions ---------------------------------------------------------------------------------

FAST_MBPP = sorted(MBPP)[::22]  # 12 rows spread over the split
FAST_HUMANEVAL = sorted(HUMANEVAL)[::21]  # 8 rows


def _mbpp_answer(s: Sample) -> str:
    return fence(s.fields["code"])


def _humaneval_answer(s: Sample) -> str:
    return str(s.fields["canonical_solution"])  # the body only: the model continues the prompt


def _check_all_pass(fn: CodeExec, mbpp_ids: list[str], he_ids: list[str]) -> None:
    pairs = [(_mbpp_answer(MBPP[i]), MBPP[i]) for i in mbpp_ids]
    pairs += [(_humaneval_answer(HUMANEVAL[i]), HUMANEVAL[i]) for i in he_ids]
    scores = score_all(fn, pairs)
    bad = {
        s.id: (sc.label, sc.explanation)
        for (_, s), sc in zip(pairs, scores, strict=True)
        if sc.label != "pass"
    }
    assert bad == {}
    assert all(sc.value == 1.0 and sc.meta["sandbox"] == fn.sandbox.name for sc in scores)


def test_reference_solutions_pass_sample(code_exec: CodeExec) -> None:
    assert len(FAST_MBPP) + len(FAST_HUMANEVAL) == 20
    _check_all_pass(code_exec, FAST_MBPP, FAST_HUMANEVAL)


@pytest.mark.slow
def test_every_reference_solution_passes(code_exec: CodeExec) -> None:
    assert (len(MBPP), len(HUMANEVAL)) == (257, 164)
    _check_all_pass(code_exec, sorted(MBPP), sorted(HUMANEVAL))


# --- broken solutions: the right class, the right reason --------------------------------------------------------

M11 = MBPP["mbpp-011"]  # remove_Occ: remove the first and last occurrence of a character
M11_CODE = str(M11.fields["code"])
H0 = HUMANEVAL["humaneval-000"]  # has_close_elements(numbers, threshold)
H10 = HUMANEVAL["humaneval-010"]  # make_palindrome: its prompt defines the helper is_palindrome first

BROKEN: list[tuple[str, str, Sample, str, list[str]]] = [
    # (case, answer, sample, label, phrases the explanation must contain)
    ("wrong result", fence("def remove_Occ(s, ch):\n    return s"), M11, "failed_assertion",
     ["3 of 3 tests failed", 'test 1 of 3: `assert remove_Occ("hello","l") == "heo"`']),
    ("right on one test", fence("def remove_Occ(s, ch):\n    return {'hello': 'heo'}.get(s, s)"), M11,
     "failed_assertion", ["2 of 3 tests failed", "first: assertion failed at test 2 of 3"]),
    ("syntax error", fence(M11_CODE.replace("def remove_Occ(s,ch):", "def remove_Occ(s,ch)")), M11, "syntax_error",
     ["SyntaxError at line 1 of the code", "def remove_Occ(s,ch)"]),
    ("bad indentation", fence("def remove_Occ(s, ch):\nreturn s"), M11, "syntax_error", ["IndentationError"]),
    ("name error", fence(M11_CODE.replace("return s", "return t")), M11, "exception",
     ["NameError in test 1 of 3", "name 't' is not defined", "`return t`"]),
    ("wrong arity", fence("def remove_Occ(s):\n    return s"), M11, "exception",
     ["TypeError at test 1 of 3", "positional argument"]),
    ("import error", fence("import numpy_not_installed_anywhere\n" + M11_CODE), M11, "exception",
     ["ModuleNotFoundError at line 1 of the code"]),
    ("exits before the tests", fence("import sys\n" + M11_CODE + "\nsys.exit(0)"), M11, "exception", ["SystemExit"]),
    ("os._exit before the tests", fence("import os\n" + M11_CODE + "\nos._exit(0)"), M11, "exception",
     ["exited with code 0 before the tests finished"]),
    ("infinite loop", fence("def remove_Occ(s, ch):\n    while True:\n        pass"), M11, "timeout",
     ["timed out", "while running test 1 of 3", "0 of 3 tests had passed"]),
    ("its own assert fails", fence(M11_CODE + "\nassert remove_Occ('aa', 'a') == 'x'"), M11, "failed_assertion",
     ["an assert in the code itself failed", "line 11 of the code"]),
    ("prose only", "You can remove characters with a loop over the string.", M11, "no_code", ["no fenced block"]),
    ("empty", "", M11, "no_code", ["empty"]),
    ("humaneval wrong body", "    return False\n", H0, "failed_assertion",
     ["assertion failed at line 10 of the tests", "assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True"]),
    ("humaneval body raises", "    return numbers[100]\n", H0, "exception", ["IndexError", "`return numbers[100]`"]),
]  # fmt: skip


def test_broken_solutions_fail_with_the_right_reason(code_exec: CodeExec) -> None:
    scores = score_all(code_exec, [(answer, s) for _, answer, s, _, _ in BROKEN])
    for (case, _answer, _s, label, phrases), sc in zip(BROKEN, scores, strict=True):
        assert (case, sc.label, sc.value) == (case, label, 0.0), sc.explanation
        for phrase in phrases:
            assert phrase in sc.explanation, (case, sc.explanation)
    right_on_one = scores[1]
    assert (right_on_one.meta["tests_passed"], right_on_one.meta["tests_total"]) == (1, 3)
    assert scores[9].meta["timeout"] in ("cpu", "wall")


HE_CASES: list[tuple[str, str, Sample]] = [
    ("the whole function, fenced, without the prompt's imports",
     fence("def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
           + str(H0.fields["canonical_solution"])), H0),
    ("the prompt repeated with the body", fence(H0.input + str(H0.fields["canonical_solution"])), H0),
    ("only the target function, using the prompt's helper",
     fence("def make_palindrome(string: str) -> str:\n" + str(H10.fields["canonical_solution"])), H10),
]  # fmt: skip


@pytest.mark.parametrize(("case", "answer", "sample"), HE_CASES, ids=[c[0] for c in HE_CASES])
def test_humaneval_accepts_a_repeated_function(
    code_exec: CodeExec, case: str, answer: str, sample: Sample
) -> None:
    (sc,) = score_all(code_exec, [(answer, sample)])
    assert sc.label == "pass", sc.explanation


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        (Sample("x", "q", None, {}), "neither 'test_list'"),
        (Sample("x", "q", None, {"test_list": []}), "'test_list' must be a non-empty list"),
        (Sample("x", "q", None, {"test": "def check(c): pass"}), "has no 'entry_point'"),
    ],
)
def test_rows_without_tests_are_bad_samples(code_exec: CodeExec, sample: Sample, reason: str) -> None:
    (sc,) = score_all(code_exec, [(fence("def f(): pass"), sample)])
    assert sc.label == "bad_sample" and reason in sc.explanation


def test_hostile_output_text_never_raises(code_exec: CodeExec) -> None:
    texts = ["```python\n" + "(" * 5000 + "\n```", "```python\nraise BaseException('x' * 10**6)\n```",
             "```python\nclass E(Exception):\n    def __str__(self): raise RuntimeError\nraise E()\n```",
             "\x00\x01\n```python\nraise ValueError('\\x1b[2J\\x00\\u202e')\n```", "\x00```python\nx = 1\n```", None]  # fmt: skip
    scores = score_all(code_exec, [(t, M11) for t in texts])  # type: ignore[misc]
    assert [s.label for s in scores] == [
        "syntax_error",
        "exception",
        "exception",
        "exception",
        "syntax_error",
        "no_code",
    ]
    assert len(scores[1].explanation) < 1000 and "(unprintable)" in scores[2].explanation
    assert "ValueError" in scores[3].explanation and not any(
        c in scores[3].explanation for c in "\x1b\x00\u202e"
    )
    assert "null bytes" in scores[4].explanation


# --- the factory, the registry, the accumulator -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"sandbox": "docker"}, "sandbox must be one of"),
        ({"style": "apps"}, "style must be one of"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"processes": 0}, "processes"),
        ({"max_parallel": 0}, "max_parallel"),
        ({"nice": 40}, "nice"),
        ({"tests_field": ""}, "tests_field"),
        ({"timeout": 3}, "has no argument 'timeout'. Did you mean timeout_s?"),
    ],
)
def test_bad_arguments_fail_at_load(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_scorer("code_exec", args, where="suite.yaml: scorers.0")


def test_a_forced_sandbox_that_does_not_work_fails_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"suite.yaml: scorers.0: scorer 'code_exec': sandbox: container"):
        build_scorer(
            "code_exec", {"sandbox": "container", "image": "no/such:image"}, where="suite.yaml: scorers.0"
        )


def test_registry_detects_and_wraps_async_scorers(code_exec: CodeExec) -> None:
    assert is_async_scorer(code_exec) and not is_async_scorer(registered()["numeric"].factory())
    assert registered()["code_exec"].help.startswith("Run the model's code against the sample's tests")
    sync = build_scorer("code_exec", ARGS)
    assert not is_async_scorer(sync)
    assert sync(fence(M11_CODE), M11).label == "pass"

    async def inside_a_loop() -> Score:
        return as_sync(code_exec)(fence(M11_CODE), M11)  # a sync caller that already runs a loop

    assert asyncio.run(inside_a_loop()).label == "pass"
    numeric = build_scorer("numeric")
    assert as_sync(numeric) is numeric

    async def awaited() -> Score:
        return await as_async(numeric)("#### 4", Sample("g", "q", "4", {}))

    assert asyncio.run(awaited()).label == "correct"


def test_accumulator_breaks_verdicts_down() -> None:
    assert METRIC_CLASSES == CLASSES
    acc = CodeExecAccumulator()
    verdicts = [
        ("a", Score(1.0, "c", "", "pass", {"sandbox": "namespaces", "tests_total": 3, "tests_passed": 3, "duration_s": 0.2})),
        ("a", Score(0.0, "c", "", "failed_assertion", {"sandbox": "namespaces", "tests_total": 3, "tests_passed": 1,
                                                         "error_type": "AssertionError", "duration_s": 0.4})),
        ("b", Score(0.0, "c", "", "timeout", {"sandbox": "namespaces", "timeout": "cpu"})),
        ("b", Score(0.0, "c", "", "exception", {"sandbox": "namespaces", "error_type": "NameError"})),
        ("c", Score(0.0, "c", "", "sandbox_error", {"sandbox": "namespaces", "infrastructure": True})),
        ("c", Score(1.0, "c", "", "pass", {"sandbox": "namespaces"})),
    ]  # fmt: skip
    for sid, sc in verdicts:
        acc.add_sample(sid, sc)
    out = acc.finish()
    assert out["kind"] == "code_exec" and out["n"] == 6
    assert list(out["class_counts"])[:8] == list(CLASSES)
    assert out["class_counts"]["pass"] == 2 and out["pass_rate"] == pytest.approx(2 / 6)
    assert out["pass_rate_excluding_sandbox_errors"] == pytest.approx(2 / 5) and out["sandbox_errors"] == 1
    assert out["sandbox"] == "namespaces" and out["sandboxes"] == {"namespaces": 6}
    assert out["error_types"] == {"AssertionError": 1, "NameError": 1} and out["timeouts"] == {"cpu": 1}
    assert out["test_pass_rate"] == pytest.approx(4 / 6)
    assert out["mean_duration_s"] == pytest.approx(0.3) and out["max_duration_s"] == pytest.approx(0.4)
    p1, p2 = out["pass_at_k"]
    assert (p1["k"], p2["k"]) == (1, 2)
    assert p1["estimate"] == pytest.approx((0.5 + 0 + 0.5) / 3)
    assert p2["estimate"] == pytest.approx((1 + 0 + 1) / 3)


def test_accumulator_without_sample_ids_has_no_pass_at_k() -> None:
    acc = CodeExecAccumulator()
    acc.add(None, Score(1.0, None, "", "pass", {"sandbox": "process"}))
    acc.add(None, Score(0.0, None, "", "pass", {"sandbox": "container"}))
    out = acc.finish()
    assert "pass_at_k" not in out and out["sandbox"] is None and out["test_pass_rate"] is None

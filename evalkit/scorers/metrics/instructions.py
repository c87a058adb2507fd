"""``instructions``: IFEval's four accuracies and per-kind figures, from ``Score.meta`` alone.

Each verdict of the ``instructions`` scorer carries ``meta["instructions"]`` (the ids) and the
parallel booleans ``meta["strict"]`` / ``meta["loose"]``. Over the judged prompts (rows whose
``prompt_strict`` is a boolean: ``unknown_instruction`` and ``bad_instruction`` rows, and ledger
lines without ``meta``, are counted in ``unjudged`` and left out of every figure):

* ``prompt_level_strict`` / ``prompt_level_loose``: share of prompts whose every instruction is
  followed (IFEval's prompt-level accuracy);
* ``instruction_level_strict`` / ``instruction_level_loose``: share of all instructions followed;
* ``per_kind``: instruction id -> ``n``, ``followed_strict``, ``followed_loose``, ``strict``,
  ``loose`` (the shares); ``per_category`` the same by the part before ``:`` (``keywords``,
  ``length_constraints``...), IFEval's "tier 0". At most :data:`MAX_KINDS` distinct ids are kept;
  further ones are counted under ``(other)``.

``prompts`` is the number of judged prompts, ``instructions`` the number of their instructions.
Blank outputs count as prompts that followed nothing, as in IFEval.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from evalkit.scorers.metrics.base import OTHER, Accumulator, ratio
from evalkit.types import Score

__all__ = ["MAX_KINDS", "InstructionsAccumulator"]

MAX_KINDS = 200


def _figures(n: int, strict: int, loose: int) -> dict[str, Any]:
    return {
        "n": n,
        "followed_strict": strict,
        "followed_loose": loose,
        "strict": ratio(strict, n),
        "loose": ratio(loose, n),
    }


class InstructionsAccumulator(Accumulator):
    """Streams ``instructions`` verdicts into IFEval's prompt- and instruction-level accuracies."""

    kind = "instructions"
    classes = ("followed", "not_followed", "empty", "unknown_instruction", "bad_instruction")

    def __init__(self) -> None:
        super().__init__()
        self.prompts = self.prompt_strict = self.prompt_loose = self.unjudged = 0
        self.total: Counter[str] = Counter()
        self.strict: Counter[str] = Counter()
        self.loose: Counter[str] = Counter()

    def _kind(self, name: Any) -> str:
        name = str(name)
        if name not in self.total and len(self.total) >= MAX_KINDS:
            return OTHER
        return name

    def add(self, expected: Any, score: Score, sample_id: str | None = None) -> None:
        super().add(expected, score, sample_id)
        meta = score.meta
        ids, strict, loose = meta.get("instructions"), meta.get("strict"), meta.get("loose")
        prompt_strict, prompt_loose = meta.get("prompt_strict"), meta.get("prompt_loose")
        usable = (
            isinstance(prompt_strict, bool)
            and isinstance(prompt_loose, bool)
            and isinstance(ids, list)
            and isinstance(strict, list)
            and isinstance(loose, list)
            and len(ids) == len(strict) == len(loose)
            and all(isinstance(v, bool) for v in (*strict, *loose))
        )
        if not usable:
            self.unjudged += 1
            return
        assert isinstance(ids, list) and isinstance(strict, list) and isinstance(loose, list)
        self.prompts += 1
        self.prompt_strict += prompt_strict is True
        self.prompt_loose += prompt_loose is True
        for iid, s, lo in zip(ids, strict, loose, strict=True):
            kind = self._kind(iid)
            self.total[kind] += 1
            self.strict[kind] += s
            self.loose[kind] += lo

    def finish(self) -> dict[str, Any]:
        n_ins = sum(self.total.values())
        categories: dict[str, list[int]] = {}
        for kind in self.total:
            row = categories.setdefault(kind.split(":", 1)[0], [0, 0, 0])
            row[0] += self.total[kind]
            row[1] += self.strict[kind]
            row[2] += self.loose[kind]
        out = super().finish()
        out.update(
            prompts=self.prompts,
            instructions=n_ins,
            unjudged=self.unjudged,
            prompt_level_strict=ratio(self.prompt_strict, self.prompts),
            prompt_level_loose=ratio(self.prompt_loose, self.prompts),
            instruction_level_strict=ratio(sum(self.strict.values()), n_ins),
            instruction_level_loose=ratio(sum(self.loose.values()), n_ins),
            per_kind={k: _figures(self.total[k], self.strict[k], self.loose[k]) for k in sorted(self.total)},
            per_category={c: _figures(*v) for c, v in sorted(categories.items())},
        )
        return out

"""IFEval's 25 verifiable instructions, written from the paper's definitions, and its loose variants.

:data:`KINDS` maps every instruction id of IFEval (``instruction_id_list``) to its class;
:func:`build` makes one from a row's ``kwargs``; :func:`evaluate` checks a response strictly and
loosely. The definitions are those of Zhou et al. 2023, "Instruction-Following Evaluation for
Large Language Models" (arXiv:2311.07911) and its code (google-research
``instruction_following_eval``, Apache-2.0): ``checks_text`` and ``checks_format`` say, kind by
kind, what is checked and where this code departs from it; ``text`` says how words, sentences and
capital words are counted without NLTK's downloaded data.

Strict: the response as it is. Loose: IFEval's eight variants, the response and the response
with ``*`` removed, each whole, without its first line, without its last line and without both
(the shortened ones stripped); an instruction is loosely followed when any variant follows it.
As in IFEval, a blank response (or variant) follows nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.scorers._ifeval.base import Instruction, InstructionError, Outcome
from evalkit.scorers._ifeval.checks_format import FORMAT_KINDS
from evalkit.scorers._ifeval.checks_text import TEXT_KINDS

__all__ = [
    "KINDS",
    "LOOSE_VARIANTS",
    "Checked",
    "Instruction",
    "InstructionError",
    "Outcome",
    "build",
    "evaluate",
    "loose_variants",
]

KINDS: dict[str, type[Instruction]] = {cls.kind: cls for cls in (*TEXT_KINDS, *FORMAT_KINDS)}
"""Instruction id -> class, for the 25 kinds IFEval's registry lists."""

LOOSE_VARIANTS = (
    "as is",
    "without *",
    "without its first line",
    "without its last line",
    "without its first and last lines",
    "without its first line and *",
    "without its last line and *",
    "without its first and last lines and *",
)
"""The names of IFEval's eight loose variants, in IFEval's order."""


def build(instruction_id: str, kwargs: Mapping[str, Any] | None) -> Instruction:
    """The instruction ``instruction_id`` with its arguments; :class:`InstructionError` if it cannot be."""
    cls = KINDS.get(instruction_id)
    if cls is None:
        raise InstructionError(f"unknown instruction {instruction_id!r}")
    return cls.from_kwargs(kwargs)


def loose_variants(response: str) -> list[str]:
    """IFEval's eight loose variants of ``response``, in :data:`LOOSE_VARIANTS` order."""
    lines = response.split("\n")
    no_first = "\n".join(lines[1:]).strip()
    no_last = "\n".join(lines[:-1]).strip()
    no_both = "\n".join(lines[1:-1]).strip()
    return [
        response,
        response.replace("*", ""),
        no_first,
        no_last,
        no_both,
        no_first.replace("*", ""),
        no_last.replace("*", ""),
        no_both.replace("*", ""),
    ]


@dataclass(frozen=True, slots=True)
class Checked:
    """One instruction checked against one response, strictly and loosely."""

    instruction_id: str
    strict: Outcome
    """The check on the response as it is (a blank response follows nothing)."""
    loose: bool
    loose_via: str | None
    """Which loose variant followed it first (``None`` when none did)."""


def _check(instruction: Instruction, text: str) -> Outcome:
    if not text.strip():
        return Outcome(False, "empty response", instruction.check(" ").wanted)
    return instruction.check(text)


def evaluate(instruction_id: str, instruction: Instruction, response: str, variants: list[str]) -> Checked:
    """Check ``instruction`` on ``response`` strictly, and on ``variants`` (:func:`loose_variants`) loosely."""
    strict = _check(instruction, response)
    if strict.followed:
        return Checked(instruction_id, strict, True, LOOSE_VARIANTS[0])
    for name, variant in zip(LOOSE_VARIANTS[1:], variants[1:], strict=True):
        if variant.strip() and instruction.check(variant).followed:
            return Checked(instruction_id, strict, True, name)
    return Checked(instruction_id, strict, False, None)

"""The nouns of the IFEval checks: an instruction kind with its arguments, and the outcome of a check.

Each of the 25 kinds is a frozen dataclass whose fields are its IFEval ``kwargs``; ``check(text)``
returns an :class:`Outcome`: followed or not, what was read and what was wanted, in words a person
reads in the report ("212 words" / "at least 300 words"). ``from_kwargs`` validates a row's
``kwargs`` dict: keys whose value is ``None`` are dropped first (the Hugging Face copy of IFEval
lists every key of every kind with ``None``), then every remaining key must be one the kind takes,
of the right type, and every key the kind needs must be there. Where IFEval would draw a missing
or negative argument at random, this is an :class:`InstructionError` instead: a random threshold
makes a verdict that means nothing. A check never raises on any response text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

__all__ = ["RELATIONS", "Instruction", "InstructionError", "Outcome", "Parser", "compare", "quote", "times"]

RELATIONS = ("less than", "at least")
"""IFEval's two comparisons: ``less than`` is ``count < n``, ``at least`` is ``count >= n``."""


class InstructionError(ValueError):
    """A row's instruction cannot be built: unknown argument, missing argument, wrong type."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One instruction checked against one response text."""

    followed: bool
    found: str
    """What was read from the text, e.g. ``212 words``, ``no commas``, ``language 'de'``."""
    wanted: str
    """The requirement, e.g. ``at least 300 words``."""


def quote(value: str, limit: int = 60) -> str:
    """``'value'``, clipped, for explanations."""
    value = value if len(value) <= limit else value[: limit - 1] + "…"
    return repr(value)


def times(n: int, noun: str = "time") -> str:
    """``1 time``, ``3 times``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def compare(count: int, relation: str, threshold: int) -> bool:
    """IFEval's comparison of a count with a threshold."""
    return count < threshold if relation == "less than" else count >= threshold


# --- argument parsers ------------------------------------------------------------------------------


def count_arg(name: str, value: Any) -> int:
    """A non-negative integer (a float with an integer value is accepted: JSON writers differ)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InstructionError(f"{name} must be an integer (got {value!r})")
    if value < 0:
        raise InstructionError(f"{name} must be 0 or more (got {value})")
    return value


def text_arg(name: str, value: Any) -> str:
    """A non-blank string, stripped (IFEval strips its phrase arguments)."""
    if not isinstance(value, str) or not value.strip():
        raise InstructionError(f"{name} must be a non-empty string (got {value!r})")
    return value.strip()


def raw_text_arg(name: str, value: Any) -> str:
    """A non-blank string, kept as given (``prompt_to_repeat`` is compared after its own strip)."""
    text_arg(name, value)
    return str(value)


def relation_arg(name: str, value: Any) -> str:
    """``less than`` or ``at least``."""
    if value not in RELATIONS:
        raise InstructionError(f"{name} must be one of {', '.join(map(repr, RELATIONS))} (got {value!r})")
    return str(value)


def words_arg(name: str, value: Any) -> tuple[str, ...]:
    """A non-empty list of non-blank strings."""
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise InstructionError(f"{name} must be a non-empty list of strings (got {value!r})")
    return tuple(text_arg(f"{name}[{i}]", v) for i, v in enumerate(value))


Parser = Callable[[str, Any], Any]


class Instruction:
    """Base of the 25 kinds: subclasses are frozen dataclasses with ``ARGS`` naming their parsers."""

    kind: ClassVar[str] = ""
    """The instruction id, e.g. ``length_constraints:number_words``."""
    ARGS: ClassVar[dict[str, Parser]] = {}
    """kwarg name -> parser; the dataclass field of the same name receives the parsed value."""

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any] | None) -> Self:
        """Build from a row's kwargs dict; :class:`InstructionError` names the bad argument."""
        if kwargs is None:
            kwargs = {}
        if not isinstance(kwargs, Mapping):
            raise InstructionError(f"kwargs must be an object (got {type(kwargs).__name__})")
        given = {k: v for k, v in kwargs.items() if v is not None}
        unknown = sorted(str(k) for k in given if k not in cls.ARGS)
        if unknown:
            takes = ", ".join(cls.ARGS) or "no arguments"
            raise InstructionError(f"unexpected argument {', '.join(unknown)} (it takes {takes})")
        missing = [k for k in cls.ARGS if k not in given]
        if missing:
            raise InstructionError(f"missing argument {', '.join(missing)}")
        parsed = {name: parse(name, given[name]) for name, parse in cls.ARGS.items()}
        return cls(**parsed)

    def check(self, text: str) -> Outcome:
        """Whether ``text`` follows the instruction, as IFEval's ``check_following`` decides."""
        raise NotImplementedError

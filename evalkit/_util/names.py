""" "Did you mean …?": one suggestion for an unknown name, written once for every caller."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(word: str, choices: Iterable[str], *, cutoff: float = 0.5) -> str | None:
    """The choice most like ``word`` (difflib's ratio at least ``cutoff``), or None."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str], *, cutoff: float = 0.5, fmt: str = "{}") -> str:
    """``" Did you mean X?"`` (``fmt`` shapes X, e.g. ``"'{}'"``), or ``""`` when nothing is close."""
    found = closest(word, choices, cutoff=cutoff)
    return f" Did you mean {fmt.format(found)}?" if found is not None else ""

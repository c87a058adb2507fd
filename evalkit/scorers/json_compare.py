"""Comparing a parsed JSON value with the expected one, or with BFCL-style acceptable values.

Each function returns the first difference as ``(JSON pointer, message)``, or ``None`` when equal;
the ``*_field_results`` functions give one such result per top-level field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from evalkit.scorers.text import clip

__all__ = [
    "CompareOptions",
    "acceptable_diff",
    "acceptable_field_results",
    "diff",
    "field_results",
    "short_json",
]


@dataclass(frozen=True)
class CompareOptions:
    tolerance: float
    ignore_list_order: bool


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def short_json(v: Any, limit: int = 60) -> str:
    try:
        return clip(json.dumps(v, ensure_ascii=False), limit)
    except (TypeError, ValueError):
        return clip(repr(v), limit)


def _join(path: str, key: Any) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def diff(got: Any, want: Any, opts: CompareOptions, path: str = "") -> tuple[str, str] | None:
    """The first difference between two JSON values as (pointer, message), or ``None`` if equal."""
    where = path or "(root)"
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return where, f"expected an object, got {_kind(got)}"
        for k, wv in want.items():
            if k not in got:
                return _join(path, k), "missing"
            d = diff(got[k], wv, opts, _join(path, k))
            if d:
                return d
        for k in got:
            if k not in want:
                return _join(path, k), "unexpected field"
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return where, f"expected an array, got {_kind(got)}"
        if len(got) != len(want):
            return where, f"expected {len(want)} items, got {len(got)}"
        if not opts.ignore_list_order:
            for i, (g, w) in enumerate(zip(got, want, strict=True)):
                d = diff(g, w, opts, _join(path, i))
                if d:
                    return d
            return None
        unused = list(range(len(got)))
        for i, w in enumerate(want):
            hit = next((j for j in unused if diff(got[j], w, opts) is None), None)
            if hit is None:
                return where, f"no item matches expected item {i} ({short_json(w)})"
            unused.remove(hit)
        return None
    if isinstance(want, bool) or want is None or isinstance(want, str):
        if type(got) is type(want) and got == want:
            return None
        return where, f"expected {short_json(want)}, got {short_json(got)}"
    if isinstance(want, int | float):
        if isinstance(got, int | float) and not isinstance(got, bool) and abs(got - want) <= opts.tolerance:
            return None
        return where, f"expected {short_json(want)}, got {short_json(got)}"
    return None if got == want else (where, f"expected {short_json(want)}, got {short_json(got)}")


def _spec_diff(got: Any, spec: Any, opts: CompareOptions, path: str) -> tuple[str, str] | None:
    """Compare ``got`` with one acceptable value: an object is a nested acceptable map, an array
    is compared item by item the same way, anything else must be equal."""
    if isinstance(spec, dict):
        return acceptable_diff(got, spec, opts, path)
    if isinstance(spec, list):
        if not isinstance(got, list):
            return path or "(root)", f"expected an array, got {_kind(got)}"
        if len(got) != len(spec):
            return path or "(root)", f"expected {len(spec)} items, got {len(got)}"
        if opts.ignore_list_order:
            unused = list(range(len(got)))
            for i, w in enumerate(spec):
                hit = next((j for j in unused if _spec_diff(got[j], w, opts, "") is None), None)
                if hit is None:
                    return path or "(root)", f"no item matches acceptable item {i} ({short_json(w)})"
                unused.remove(hit)
            return None
        for i, (g, w) in enumerate(zip(got, spec, strict=True)):
            d = _spec_diff(g, w, opts, _join(path, i))
            if d:
                return d
        return None
    return diff(got, spec, opts, path)


def _acceptable_one(got: Any, options: list[Any], opts: CompareOptions, path: str) -> tuple[str, str] | None:
    firsts: list[tuple[str, str]] = []
    for opt in options:
        d = _spec_diff(got, opt, opts, path)
        if d is None:
            return None
        firsts.append(d)
    shown = [o for o in options if o != ""]
    if len(firsts) == 1:
        return firsts[0]
    return path or "(root)", f"{short_json(got)} is not one of the acceptable values {short_json(shown, 100)}"


def acceptable_field_results(
    got: dict[str, Any], acceptable: dict[str, Any], opts: CompareOptions, path: str = ""
) -> list[tuple[str, tuple[str, str] | None]]:
    """Per field of a BFCL-style ``acceptable`` map (plus unexpected fields of ``got``): the difference or None."""
    out: list[tuple[str, tuple[str, str] | None]] = []
    for key, options in acceptable.items():
        opts_list = options if isinstance(options, list) else [options]
        where = _join(path, key)
        if key not in got:
            out.append((key, None if "" in opts_list else (where, "missing (required)")))
            continue
        out.append((key, _acceptable_one(got[key], opts_list, opts, where)))
    for key in got:
        if key not in acceptable:
            out.append((key, (_join(path, key), "unexpected field")))
    return out


def acceptable_diff(
    got: Any, acceptable: dict[str, Any], opts: CompareOptions, path: str = ""
) -> tuple[str, str] | None:
    """The first difference between ``got`` and a BFCL ``acceptable`` map, or ``None``.

    ``acceptable`` maps each field to the list of its acceptable values; ``""`` in the list means
    the field may be omitted; an acceptable value that is an object is itself such a map (also
    inside arrays), as in BFCL's ``possible_answer`` files.
    """
    if not isinstance(got, dict):
        return path or "(root)", f"expected an object, got {_kind(got)}"
    for _, d in acceptable_field_results(got, acceptable, opts, path):
        if d is not None:
            return d
    return None


def field_results(
    got: Any, want: Any, opts: CompareOptions
) -> list[tuple[str, tuple[str, str] | None]] | None:
    """Per top-level field of ``want`` (plus unexpected fields of ``got``); ``None`` if not two objects."""
    if not isinstance(got, dict) or not isinstance(want, dict):
        return None
    out: list[tuple[str, tuple[str, str] | None]] = []
    for key, wv in want.items():
        where = _join("", key)
        out.append((key, (where, "missing") if key not in got else diff(got[key], wv, opts, where)))
    for key in got:
        if key not in want:
            out.append((key, (_join("", key), "unexpected field")))
    return out

"""Argument values against BFCL's accepted values: type-aware, recursive, within a tolerance.

After BFCL's ``ast_checker.py`` (``type_checker``, ``string_checker``, ``list_checker``,
``dict_checker``, ``list_dict_checker``), for values read from JSON: strings compared as BFCL's
``standardize_string`` does; numbers within a tolerance, an integer accepted for a float, and a
float with no fractional part for an integer (JSON Schema's reading); booleans exactly; lists
element by element, in order; objects (BFCL's nested possible answers ``{key: [accepted]}``) by the
same rules at any depth. A value of the wrong declared type is wrong unless the accepted values are
of its kind (BFCL's "variable" exception, also one level down for list items).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from evalkit.scorers._bfcl import alternatives
from evalkit.scorers.text import clip

__all__ = ["fits", "kind", "matches", "show", "standardize", "value_problem"]

_STANDARDIZE = re.compile(r"[ ,./\-_*^]")


def standardize(text: str) -> str:
    """BFCL's ``standardize_string``: drop spaces and ``,./-_*^``, lower case, ``'`` as ``"``."""
    return _STANDARDIZE.sub("", text).lower().replace("'", '"')


def kind(value: Any) -> str:
    """The JSON kind of ``value``; a float with no fractional part is an ``integer`` (JSON Schema)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if math.isfinite(value) and value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


_DECLARED = {"dict": "object", "float": "number", "tuple": "array", "str": "string", "int": "integer"}


def fits(value: Any, declared: str) -> bool:
    """Is ``value`` of the declared (BFCL or JSON Schema) type? Unknown types and ``any`` fit anything."""
    found = kind(value)
    declared = _DECLARED.get(declared, declared)
    if declared == "number":
        return found in ("integer", "number")
    if declared in ("integer", "string", "boolean", "array", "object", "null"):
        return found == declared
    return True


def _close(a: float, b: float, tol: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def matches(value: Any, accepted: Any, tol: float) -> bool:
    """Does ``value`` equal the one accepted value ``accepted`` (BFCL's rules, recursively)?"""
    if isinstance(accepted, bool):
        return isinstance(value, bool) and value == accepted
    if isinstance(accepted, int | float):
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and _close(float(value), float(accepted), tol)
        )
    if isinstance(accepted, str):
        return isinstance(value, str) and standardize(value) == standardize(accepted)
    if accepted is None:
        return value is None
    if isinstance(accepted, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(accepted)
            and all(matches(v, a, tol) for v, a in zip(value, accepted, strict=True))
        )
    if isinstance(accepted, Mapping):
        return isinstance(value, Mapping) and _object_matches(value, accepted, tol)
    return bool(value == accepted)


def _object_matches(value: Mapping[str, Any], accepted: Mapping[str, Any], tol: float) -> bool:
    """An object against a nested possible answer ``{key: [accepted values]}``."""
    for key, v in value.items():
        if key not in accepted:
            return False
        alts = alternatives(accepted[key])
        if not any(matches(v, a, tol) for a in alts if a != "") and not (v == "" and "" in alts):
            return False
    return all(key in value or "" in alternatives(alts) for key, alts in accepted.items())


def show(value: Any, limit: int = 80) -> str:
    """``value`` as short JSON, for an explanation."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = f"(a {type(value).__name__})"
    return clip(text, limit)


def _declared_type(schema: Any) -> str | None:
    t = schema.get("type") if isinstance(schema, Mapping) else None
    return t if isinstance(t, str) else None


def _items_problem(value: list[Any], items: str, concrete: list[Any]) -> str | None:
    """A list item of the wrong declared type, unless an accepted list has items of its kind
    (BFCL's "variable" exception, one level down)."""
    bad = [(i, v) for i, v in enumerate(value) if not fits(v, items)]
    if not bad:
        return None
    for acc in concrete:
        if isinstance(acc, list) and acc and all(kind(v) == kind(acc[0]) for _, v in bad):
            return None
    i, v = bad[0]
    return f"item {i} is {show(v, 40)} (a JSON {kind(v)}), but the items are declared {items}"


def _object_problem(value: Mapping[str, Any], accepted: Mapping[str, Any], tol: float, path: str = "") -> str:
    """Which key of an object breaks its one nested possible answer, and how."""
    for key, v in value.items():
        where = f"{path}{key}"
        if key not in accepted:
            return f"has the key {where!r}, which is not expected"
        alts = alternatives(accepted[key])
        if any(matches(v, a, tol) for a in alts if a != "") or (v == "" and "" in alts):
            continue
        concrete = [a for a in alts if a != ""]
        if len(concrete) == 1 and isinstance(concrete[0], Mapping) and isinstance(v, Mapping):
            return _object_problem(v, concrete[0], tol, f"{where}.")
        shown = ", ".join(show(a, 40) for a in concrete[:4]) or "leaving it out"
        return f"has {where!r} = {show(v, 40)}, accepted {shown}"
    missing = [k for k, alts in accepted.items() if k not in value and "" not in alternatives(alts)]
    return f"lacks the key {path}{missing[0]!r}" if missing else f"got {show(value)}"


def value_problem(value: Any, accepted: Sequence[Any], schema: Any, tol: float) -> str | None:
    """Why ``value`` is not acceptable (``None`` when it is), given the accepted values and the declaration."""
    concrete = [a for a in accepted if a != ""]
    declared = _declared_type(schema)
    if value == "" and "" in accepted and declared in (None, "string", "any"):
        return None  # BFCL: an empty string stands for the omitted value
    variable = bool(concrete) and kind(value) == kind(concrete[0])  # BFCL's "variable" exception
    if declared is not None and not fits(value, declared) and not variable:
        return f"got {show(value)} (a JSON {kind(value)}), but it is declared {declared}"
    items = _declared_type(schema.get("items")) if isinstance(schema, Mapping) else None
    if items is not None and isinstance(value, list):
        why = _items_problem(value, items, concrete)
        if why is not None:
            return why
    if any(matches(value, a, tol) for a in concrete):
        return None
    if not concrete:
        return f"got {show(value)}, but the only accepted choice is to leave it out"
    if len(concrete) == 1 and isinstance(concrete[0], Mapping) and isinstance(value, Mapping):
        return _object_problem(value, concrete[0], tol)
    shown = ", ".join(show(a, 60) for a in concrete[:6]) + (", ..." if len(concrete) > 6 else "")
    omit = " (or leaving it out)" if "" in accepted else ""
    return f"got {show(value)}, accepted {shown}{omit}"

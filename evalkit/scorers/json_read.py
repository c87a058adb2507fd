"""Reading JSON out of a model output: strictly (the whole output is one JSON value) or leniently
(from a code fence or surrounding prose). :func:`read_json` never raises; it says which it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_DEPTH", "JsonRead", "read_json"]


@dataclass(frozen=True)
class JsonRead:
    """What :func:`read_json` found: ``kind`` is ``strict``, ``lenient``, ``parse_error`` or ``no_json``."""

    kind: str
    value: Any = None
    how: str = ""
    """For ``lenient``: where the JSON was (``a code fence``, ``surrounding text``)."""
    error: str = ""
    """For ``parse_error``: ``line L column C: message``, positions in the whole output."""
    snippet: str | None = None


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_.+-]*)[^\n`]*\n?(.*?)(?:```|\Z)", re.DOTALL)
_DECODER = json.JSONDecoder(parse_constant=lambda name: _reject_constant(name))
_MAX_CANDIDATES = 40


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_CONSTANT = re.compile(r"-?Infinity|NaN")


def _constant_at(doc: str, start: int) -> int:
    """Where a NaN/Infinity (rejected: not JSON) is, for the error position."""
    m = _CONSTANT.search(doc, start)
    return m.start() if m else start


def _line_col(text: str, pos: int) -> tuple[int, int]:
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _error_at(text: str, pos: int, msg: str) -> str:
    line, col = _line_col(text, pos)
    return f"line {line} column {col}: {msg}"


def _loads(doc: str) -> tuple[bool, Any, int, str]:
    """Parse a whole document: (ok, value, error position, error message)."""
    try:
        value, end = _DECODER.raw_decode(doc, _skip_ws(doc, 0))
    except json.JSONDecodeError as exc:
        return False, None, exc.pos, exc.msg
    except (ValueError, RecursionError) as exc:
        return (
            False,
            None,
            _constant_at(doc, 0),
            str(exc) if isinstance(exc, ValueError) else _DEEP,
        )
    end = _skip_ws(doc, end)
    if end != len(doc):
        return False, None, end, "Extra data after the JSON value"
    if _too_deep(value):
        return False, None, 0, _DEEP
    return True, value, 0, ""


MAX_DEPTH = 100
"""Deeper values are refused as ``parse_error``, which bounds every recursion that follows."""
_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(v, dict):
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
    return False


def _skip_ws(doc: str, pos: int) -> int:
    while pos < len(doc) and doc[pos] in " \t\n\r":
        pos += 1
    return pos


def read_json(text: str) -> JsonRead:
    """Find the JSON in a model output. Never raises.

    1. strict: the whole output (surrounding whitespace allowed) is one JSON value;
    2. lenient: the first ``json`` (or untagged) code fence whose content parses, else the
       longest JSON object or array that starts at one of the first ``{``/``[`` of the text;
    3. otherwise ``parse_error`` (reported for the first fence, else the first ``{``/``[``)
       or ``no_json`` when there is nothing JSON-like at all.
    """
    if not isinstance(text, str) or not text.strip():
        return JsonRead("no_json")
    ok, value, pos, msg = _loads(text)
    if ok:
        return JsonRead("strict", value)
    first_error: str | None = None
    first_snippet: str | None = None
    if text.lstrip()[:1] in ("{", "[", '"'):
        first_error, first_snippet = _error_at(text, pos, msg), text.strip()
    for m in _FENCE.finditer(text):
        lang = m.group(1).lower()
        if lang and "json" not in lang:
            continue
        body = m.group(2)
        if not body.strip():
            continue
        ok, value, pos, msg = _loads(body)
        if ok:
            return JsonRead("lenient", value, how="a code fence")
        if first_error is None:
            first_error, first_snippet = _error_at(text, m.start(2) + pos, msg), body.strip()
    best: tuple[int, int, Any] | None = None
    covered_until = -1
    for n, m in enumerate(re.finditer(r"[{\[]", text)):
        if n >= _MAX_CANDIDATES:
            break
        start = m.start()
        if start < covered_until:
            continue
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            if first_error is None:
                first_error, first_snippet = _error_at(text, exc.pos, exc.msg), text[start:].strip()
            continue
        except (ValueError, RecursionError) as exc:
            if first_error is None:
                reason = str(exc) if isinstance(exc, ValueError) else _DEEP
                first_error, first_snippet = (
                    _error_at(text, _constant_at(text, start), reason),
                    text[start:].strip(),
                )
            continue
        covered_until = end
        if _too_deep(value):
            if first_error is None:
                first_error, first_snippet = _error_at(text, start, _DEEP), text[start:].strip()
            continue
        if best is None or end - start > best[1] - best[0]:
            best = (start, end, value)
    if best is not None:
        return JsonRead("lenient", best[2], how="surrounding text")
    if first_error is not None:
        return JsonRead("parse_error", error=first_error, snippet=first_snippet)
    return JsonRead("no_json")

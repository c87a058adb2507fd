"""JSON Schemas for ``json_valid``: loading, checking, compiling (with formats) and a per-row cache."""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.protocols import Validator

from evalkit._util.io import read_json_file
from evalkit.scorers.text import clip

__all__ = [
    "SchemaCache",
    "compile_schema",
    "format_checker_for",
    "is_rfc3339_date_time",
    "json_pointer",
    "load_schema",
]

_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))", re.ASCII
)


def is_rfc3339_date_time(instance: object) -> bool:
    """RFC 3339 ``date-time`` (``T``/``Z`` in any case, a leap second allowed); non-strings pass."""
    if not isinstance(instance, str):
        return True
    m = _DATE_TIME.fullmatch(instance.upper())
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if not (
        1 <= month <= 12 and 1 <= day <= days[month - 1] and hour <= 23 and minute <= 59 and second <= 60
    ):
        return False
    off_h, off_m = m.group(7), m.group(8)
    return off_h is None or (int(off_h) <= 23 and int(off_m) <= 59)


_CHECKERS: dict[type, FormatChecker] = {}


def format_checker_for(cls: type[Validator]) -> FormatChecker:
    """The draft's own format checker, plus evalkit's ``date-time`` check.

    jsonschema checks ``date-time`` only when the optional ``rfc3339-validator`` package is
    installed, and skips it silently otherwise, so the same suite would give different verdicts
    on different machines. evalkit always checks it itself. Other formats whose optional package
    is missing (``uri``, ``hostname``, ...) are not checked, as in jsonschema.
    """
    checker = _CHECKERS.get(cls)
    if checker is None:
        base: FormatChecker = cls.FORMAT_CHECKER
        checker = FormatChecker(formats=())
        checker.checkers = dict(base.checkers)
        checker.checks("date-time")(is_rfc3339_date_time)
        _CHECKERS[cls] = checker
    return checker


def json_pointer(path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else "(root)"


def compile_schema(schema: Any) -> Validator:
    """A validator for ``schema`` (class by ``$schema``, Draft 2020-12 when absent, formats on).

    Raises ``ValueError`` naming the problem when ``schema`` is not a valid JSON Schema.
    """
    if not isinstance(schema, dict | bool):
        raise ValueError(f"a JSON Schema must be an object or a boolean, not {type(schema).__name__}")
    try:
        cls = jsonschema.validators.validator_for(schema, default=Draft202012Validator)
        cls.check_schema(schema)  # type: ignore[arg-type]  # booleans are valid schemas too
    except jsonschema.SchemaError as exc:  # check_schema already raises the best-matching error
        raise ValueError(
            f"not a valid JSON Schema: at {json_pointer(exc.absolute_path)}: {clip(exc.message, 200)}"
        ) from None
    except Exception as exc:  # a metaschema that cannot be processed, a pathological pattern...
        raise ValueError(f"not a valid JSON Schema: {type(exc).__name__}: {clip(str(exc), 200)}") from None
    return cls(schema, format_checker=format_checker_for(cls))


def load_schema(value: Any, base_dir: Path | None) -> Any:
    """The ``schema`` argument: inline (object/boolean) or a path to a JSON file."""
    if isinstance(value, dict | bool):
        return value
    if not isinstance(value, str):
        raise ValueError(f"schema must be an inline JSON Schema or a file path (got {type(value).__name__})")
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise ValueError(f"schema: file not found: {path}")
    return read_json_file(path, error=ValueError, label="schema: ")


class SchemaCache:
    """Compiled per-row schemas, keyed by their canonical JSON (a schema per row is common)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.items: OrderedDict[str, Validator | str] = OrderedDict()

    def get(self, schema: Any) -> Validator | str:
        """The validator, or a one-line reason why the schema is unusable."""
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except json.JSONDecodeError as exc:
                return f"the row's schema is a string that is not JSON ({exc.msg})"
        try:
            key = json.dumps(schema, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            return f"the row's schema is not JSON data ({exc})"
        hit = self.items.get(key)
        if hit is None:
            try:
                hit = compile_schema(schema)
            except ValueError as exc:
                hit = str(exc)
            self.items[key] = hit
            if len(self.items) > self.size:
                self.items.popitem(last=False)
        else:
            self.items.move_to_end(key)
        return hit

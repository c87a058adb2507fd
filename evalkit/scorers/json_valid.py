"""``json_valid``: the output is JSON, conforms to a JSON Schema, and holds the expected values.

Every row gets exactly one class (``Score.label``), the first check that fails, in this order:

* ``bad_schema``: the row's own schema (``schema_field``) is missing, not a valid JSON Schema, or
  cannot be applied (an unresolvable ``$ref``...);
* ``no_json``: nothing that looks like JSON (no ``{``/``[``, no json code fence);
* ``parse_error``: JSON was attempted but does not parse, even leniently (line/column given), or
  nests more than :data:`MAX_DEPTH` levels;
* ``schema_violation``: parsed, but fails the schema (JSON pointer and message of the best match);
* ``value_mismatch``: valid, but differs from ``expected`` (or from the ``acceptable`` values);
* ``lenient_only``: everything passes, but only after taking the JSON out of a code fence or
  surrounding prose: passes in lenient mode, fails in strict mode;
* ``correct``: the whole output is JSON, valid, with the expected values.

A leniently parsed row is still checked against the schema and the expected values (so a
fenced object that violates the schema is ``schema_violation``), and its explanation starts
with :data:`LENIENT_MARK` so that summaries can tell strict from lenient validity.

``value``: 0.0 for the first four classes; in ``strict`` mode 0.0 for any lenient parse; else
1.0, or with ``compare: fields`` the fraction of fields that match.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from evalkit.scorers.registry import ScoreFn, scorer
from evalkit.scorers.text import clip
from evalkit.types import Sample, Score

CLASSES = (
    "bad_schema",
    "no_json",
    "parse_error",
    "schema_violation",
    "value_mismatch",
    "lenient_only",
    "correct",
)
COMPARE_MODES = ("none", "exact", "fields")
LENIENT_MARK = "lenient parse"
"""Every explanation of a leniently parsed row starts with this (read by ``summaries``)."""
MISMATCHED_MARK = "mismatched fields: "
"""Field comparisons list the mismatching top-level fields after this, as a JSON array."""


# --- reading JSON out of a completion ---------------------------------------------------------


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


# --- schemas ----------------------------------------------------------------------------------

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


def _pointer(path: Any) -> str:
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
            f"not a valid JSON Schema: at {_pointer(exc.absolute_path)}: {clip(exc.message, 200)}"
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
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"schema: {path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"schema: cannot read {path}: {exc}") from None


class _SchemaCache:
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


# --- comparing values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Opts:
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


def _short(v: Any, limit: int = 60) -> str:
    try:
        return clip(json.dumps(v, ensure_ascii=False), limit)
    except (TypeError, ValueError):
        return clip(repr(v), limit)


def _join(path: str, key: Any) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def diff(got: Any, want: Any, opts: _Opts, path: str = "") -> tuple[str, str] | None:
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
                return where, f"no item matches expected item {i} ({_short(w)})"
            unused.remove(hit)
        return None
    if isinstance(want, bool) or want is None or isinstance(want, str):
        if type(got) is type(want) and got == want:
            return None
        return where, f"expected {_short(want)}, got {_short(got)}"
    if isinstance(want, int | float):
        if isinstance(got, int | float) and not isinstance(got, bool) and abs(got - want) <= opts.tolerance:
            return None
        return where, f"expected {_short(want)}, got {_short(got)}"
    return None if got == want else (where, f"expected {_short(want)}, got {_short(got)}")


def _spec_diff(got: Any, spec: Any, opts: _Opts, path: str) -> tuple[str, str] | None:
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
                    return path or "(root)", f"no item matches acceptable item {i} ({_short(w)})"
                unused.remove(hit)
            return None
        for i, (g, w) in enumerate(zip(got, spec, strict=True)):
            d = _spec_diff(g, w, opts, _join(path, i))
            if d:
                return d
        return None
    return diff(got, spec, opts, path)


def _acceptable_one(got: Any, options: list[Any], opts: _Opts, path: str) -> tuple[str, str] | None:
    firsts: list[tuple[str, str]] = []
    for opt in options:
        d = _spec_diff(got, opt, opts, path)
        if d is None:
            return None
        firsts.append(d)
    shown = [o for o in options if o != ""]
    if len(firsts) == 1:
        return firsts[0]
    return path or "(root)", f"{_short(got)} is not one of the acceptable values {_short(shown, 100)}"


def acceptable_field_results(
    got: dict[str, Any], acceptable: dict[str, Any], opts: _Opts, path: str = ""
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
    got: Any, acceptable: dict[str, Any], opts: _Opts, path: str = ""
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


def field_results(got: Any, want: Any, opts: _Opts) -> list[tuple[str, tuple[str, str] | None]] | None:
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


# --- the scorer -------------------------------------------------------------------------------


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false (got {value!r})")
    return value


def _field_name(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be the name of a sample field (got {value!r})")
    return value


@scorer("json_valid")
def json_valid(
    *,
    schema: dict[str, Any] | bool | str | None = None,
    schema_field: str | None = None,
    strict: bool = False,
    compare: str | None = None,
    ignore_key_order: bool = True,
    ignore_list_order: bool = False,
    number_tolerance: float = 0.0,
    acceptable_field: str | None = None,
    base_dir: Path | None = None,
) -> ScoreFn:
    """Valid JSON, conforming to a JSON Schema, with the expected values (strict or lenient parse).

    Args:
        schema: a JSON Schema, inline or as a path to a JSON file (relative to the suite). It is
            checked when the suite loads. The draft follows ``$schema`` (2020-12 when absent);
            formats are checked.
        schema_field: instead of ``schema``, the name of a sample field that holds each row's own
            schema (e.g. ``schema``); a row whose schema is missing or invalid is ``bad_schema``.
        strict: when true, JSON found only inside a code fence or prose scores 0
            (default false: it passes). The class (``lenient_only``) tells either way.
        compare: ``none`` (validity only), ``exact`` (the whole value equals ``expected``, 1/0)
            or ``fields`` (value = share of top-level fields that match; an unexpected extra
            field counts as a mismatch). Default: ``exact`` when the sample has an expected
            value (or an acceptable field), else ``none``.
        ignore_key_order: always true (JSON objects are unordered); only ``true`` is accepted.
        ignore_list_order: compare arrays as multisets (default false).
        number_tolerance: numbers match when they differ by at most this (default 0).
            Booleans never equal numbers.
        acceptable_field: name of a sample field holding BFCL-style acceptable values (field ->
            list of acceptable values, ``""`` = may be omitted, nested objects alike); when a
            row has it, values are compared against it instead of ``expected``.
    """
    if schema is not None and schema_field is not None:
        raise ValueError(
            "give either schema (one schema for every row) or schema_field (a schema per row), not both"
        )
    strict_mode = _flag("strict", strict)
    if not _flag("ignore_key_order", ignore_key_order):
        raise ValueError("ignore_key_order: false is not supported: JSON objects are unordered")
    opts = _Opts(_tolerance(number_tolerance), _flag("ignore_list_order", ignore_list_order))
    if compare is not None and compare not in COMPARE_MODES:
        raise ValueError(f"compare must be one of {', '.join(COMPARE_MODES)} (got {compare!r})")
    schema_key = _field_name("schema_field", schema_field)
    acceptable_key = _field_name("acceptable_field", acceptable_field)
    fixed: Validator | None = None
    if schema is not None:
        try:
            fixed = compile_schema(load_schema(schema, base_dir))
        except ValueError as exc:
            raise ValueError(f"schema: {exc}" if not str(exc).startswith("schema") else str(exc)) from None
    cache = _SchemaCache()

    def fn(output_text: str, sample: Sample) -> Score:
        text = (
            output_text if isinstance(output_text, str) else ("" if output_text is None else str(output_text))
        )
        validator: Validator | None = fixed
        if schema_key is not None:
            row_schema = sample.fields.get(schema_key)
            if row_schema is None:
                return Score(
                    0.0, None, f"the sample has no {schema_key!r} field to take the schema from", "bad_schema"
                )
            got_validator = cache.get(row_schema)
            if isinstance(got_validator, str):
                return Score(0.0, None, f"the row's schema is unusable: {got_validator}", "bad_schema")
            validator = got_validator

        read = read_json(text)
        if read.kind == "no_json":
            why = (
                "empty output"
                if not text.strip()
                else f"no JSON found in the output ({_short(text.strip(), 60)})"
            )
            return Score(0.0, None, why, "no_json")
        if read.kind == "parse_error":
            return Score(0.0, clip(read.snippet, 300), f"not valid JSON: {read.error}", "parse_error")
        lenient = read.kind == "lenient"
        prefix = f"{LENIENT_MARK} (JSON taken from {read.how}; strict parse fails): " if lenient else ""
        answer = _short(read.value, 2000)

        if validator is not None:
            try:
                err = best_match(validator.iter_errors(read.value))
            except Exception as exc:  # unresolvable $ref, bad regex in the schema, deep recursion...
                return Score(
                    0.0,
                    answer,
                    f"{prefix}the schema could not be applied: {type(exc).__name__}: {clip(str(exc), 200)}",
                    "bad_schema",
                )
            if err is not None:
                return Score(
                    0.0,
                    answer,
                    f"{prefix}schema violation at {_pointer(err.absolute_path)}: {clip(err.message, 300)}",
                    "schema_violation",
                )

        acceptable = sample.fields.get(acceptable_key) if acceptable_key is not None else None
        if not isinstance(acceptable, dict):
            acceptable = None
        has_reference = acceptable is not None or sample.expected is not None
        mode = compare if compare is not None else ("exact" if has_reference else "none")
        checked = "valid JSON" + (" matching the schema" if validator is not None else "")
        fraction, why = 1.0, checked
        mismatch = False
        if mode != "none":
            if not has_reference:
                return Score(
                    0.0,
                    answer,
                    f"{prefix}{checked}, but the sample has no expected value to compare "
                    f"with (compare: {mode})",
                    "value_mismatch",
                )
            fraction, why, mismatch = _compare(read.value, sample.expected, acceptable, mode, opts, checked)
        if mismatch:
            return Score(0.0 if lenient and strict_mode else fraction, answer, prefix + why, "value_mismatch")
        if lenient:
            if strict_mode:
                return Score(
                    0.0,
                    answer,
                    f"{prefix}{why}; strict mode needs the whole output to be JSON",
                    "lenient_only",
                )
            return Score(fraction, answer, f"{prefix}{why} (passes in lenient mode)", "lenient_only")
        return Score(fraction, answer, why, "correct")

    return fn


def _tolerance(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not value >= 0
        or value == float("inf")
    ):
        raise ValueError(f"number_tolerance must be a finite number >= 0 (got {value!r})")
    return float(value)


def _compare(
    got: Any, expected: Any, acceptable: dict[str, Any] | None, mode: str, opts: _Opts, checked: str
) -> tuple[float, str, bool]:
    """(value, explanation, mismatch?) for compare ``exact`` or ``fields``."""
    against = "the acceptable values" if acceptable is not None else "expected"
    if mode == "fields":
        results = (
            acceptable_field_results(got, acceptable, opts)
            if acceptable is not None and isinstance(got, dict)
            else field_results(got, expected, opts)
            if acceptable is None
            else None
        )
        if results is not None:
            bad = [(name, d) for name, d in results if d is not None]
            total = len(results)
            if not bad:
                return 1.0, f"{checked}; all {total} fields match {against}", False
            value = (total - len(bad)) / total if total else 0.0
            names = json.dumps([name for name, _ in bad][:50], ensure_ascii=False)
            details = "; ".join(f"{p}: {m}" for _, (p, m) in bad[:3])
            return (
                value,
                (
                    f"{checked}; {total - len(bad)}/{total} fields match {against}; "
                    f"{MISMATCHED_MARK}{names}; {details}"
                ),
                True,
            )
        # not two objects: fall back to a whole-value comparison
    d = acceptable_diff(got, acceptable, opts) if acceptable is not None else diff(got, expected, opts)
    if d is None:
        return 1.0, f"{checked}; equals {against}", False
    return 0.0, f"{checked}; differs from {against} at {d[0]}: {d[1]}", True

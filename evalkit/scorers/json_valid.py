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
fenced object that violates the schema is ``schema_violation``), and its explanation says where
the JSON was taken from.

``value``: 0.0 for the first four classes; in ``strict`` mode 0.0 for any lenient parse; else
1.0, or with ``compare: fields`` the fraction of fields that match.

``Score.meta`` (what summaries count; see :mod:`evalkit.scorers.metrics`), on every row that
parsed: ``lenient`` (bool: the JSON was found only in a code fence or prose), ``json_from``
(``a code fence`` / ``surrounding text``, lenient rows only), ``compare`` (``none``, ``exact`` or
``fields``) once the values were compared; with ``compare: fields`` and two objects also
``fields_total``, ``fields_matched``, ``matched`` and ``mismatched`` (top-level field names, at
most :data:`MAX_FIELD_NAMES` each, names cut to 100 characters).

Reading, schemas and value comparison live in :mod:`~evalkit.scorers.json_read`,
:mod:`~evalkit.scorers.json_schema` and :mod:`~evalkit.scorers.json_compare`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator

from evalkit.scorers.json_compare import (
    CompareOptions,
    acceptable_diff,
    acceptable_field_results,
    diff,
    field_results,
    short_json,
)
from evalkit.scorers.json_read import MAX_DEPTH, JsonRead, read_json
from evalkit.scorers.json_schema import (
    SchemaCache,
    compile_schema,
    is_rfc3339_date_time,
    json_pointer,
    load_schema,
)
from evalkit.scorers.metrics.json_metrics import JsonAccumulator
from evalkit.scorers.registry import ScoreFn, scorer
from evalkit.scorers.text import clip
from evalkit.types import Sample, Score

__all__ = [
    "CLASSES",
    "COMPARE_MODES",
    "MAX_DEPTH",
    "MAX_FIELD_NAMES",
    "JsonRead",
    "compile_schema",
    "is_rfc3339_date_time",
    "json_valid",
    "load_schema",
    "read_json",
]

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
MAX_FIELD_NAMES = 50
"""At most this many field names are kept in ``meta["matched"]`` / ``meta["mismatched"]``."""


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


@scorer("json_valid", metrics=JsonAccumulator)
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
    opts = CompareOptions(_tolerance(number_tolerance), _flag("ignore_list_order", ignore_list_order))
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
    cache = SchemaCache()

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
                else f"no JSON found in the output ({short_json(text.strip(), 60)})"
            )
            return Score(0.0, None, why, "no_json")
        if read.kind == "parse_error":
            return Score(0.0, clip(read.snippet, 300), f"not valid JSON: {read.error}", "parse_error")
        lenient = read.kind == "lenient"
        prefix = f"lenient parse (JSON taken from {read.how}; strict parse fails): " if lenient else ""
        answer = short_json(read.value, 2000)
        meta: dict[str, Any] = {"lenient": lenient}
        if lenient:
            meta["json_from"] = read.how

        if validator is not None:
            try:
                err = best_match(validator.iter_errors(read.value))
            except Exception as exc:  # unresolvable $ref, bad regex in the schema, deep recursion...
                return Score(
                    0.0,
                    answer,
                    f"{prefix}the schema could not be applied: {type(exc).__name__}: {clip(str(exc), 200)}",
                    "bad_schema",
                    meta,
                )
            if err is not None:
                return Score(
                    0.0,
                    answer,
                    f"{prefix}schema violation at {json_pointer(err.absolute_path)}: {clip(err.message, 300)}",
                    "schema_violation",
                    meta,
                )

        acceptable = sample.fields.get(acceptable_key) if acceptable_key is not None else None
        if not isinstance(acceptable, dict):
            acceptable = None
        has_reference = acceptable is not None or sample.expected is not None
        mode = compare if compare is not None else ("exact" if has_reference else "none")
        checked = "valid JSON" + (" matching the schema" if validator is not None else "")
        fraction, why = 1.0, checked
        mismatch = False
        meta["compare"] = mode
        if mode != "none":
            if not has_reference:
                return Score(
                    0.0,
                    answer,
                    f"{prefix}{checked}, but the sample has no expected value to compare "
                    f"with (compare: {mode})",
                    "value_mismatch",
                    meta,
                )
            fraction, why, mismatch, fields = _compare(
                read.value, sample.expected, acceptable, mode, opts, checked
            )
            meta.update(fields)
        if mismatch:
            return Score(
                0.0 if lenient and strict_mode else fraction, answer, prefix + why, "value_mismatch", meta
            )
        if lenient:
            if strict_mode:
                return Score(
                    0.0,
                    answer,
                    f"{prefix}{why}; strict mode needs the whole output to be JSON",
                    "lenient_only",
                    meta,
                )
            return Score(fraction, answer, f"{prefix}{why} (passes in lenient mode)", "lenient_only", meta)
        return Score(fraction, answer, why, "correct", meta)

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


def _names(names: list[str]) -> list[str]:
    return [clip(n, 100) for n in names[:MAX_FIELD_NAMES]]


def _compare(
    got: Any, expected: Any, acceptable: dict[str, Any] | None, mode: str, opts: CompareOptions, checked: str
) -> tuple[float, str, bool, dict[str, Any]]:
    """(value, explanation, mismatch?, field facts for ``meta``) for compare ``exact`` or ``fields``."""
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
            facts = {
                "fields_total": total,
                "fields_matched": total - len(bad),
                "matched": _names([name for name, d in results if d is None]),
                "mismatched": _names([name for name, _ in bad]),
            }
            if not bad:
                return 1.0, f"{checked}; all {total} fields match {against}", False, facts
            value = (total - len(bad)) / total if total else 0.0
            shown = ", ".join(clip(name, 40) for name, _ in bad[:10]) + (", ..." if len(bad) > 10 else "")
            details = "; ".join(f"{p}: {m}" for _, (p, m) in bad[:3])
            return (
                value,
                f"{checked}; {total - len(bad)}/{total} fields match {against} (mismatched: {shown}); {details}",
                True,
                facts,
            )
        # not two objects: fall back to a whole-value comparison
    d = acceptable_diff(got, acceptable, opts) if acceptable is not None else diff(got, expected, opts)
    if d is None:
        return 1.0, f"{checked}; equals {against}", False, {}
    return 0.0, f"{checked}; differs from {against} at {d[0]}: {d[1]}", True, {}

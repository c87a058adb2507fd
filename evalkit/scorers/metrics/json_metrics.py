"""``json_valid``: failure classes, strict and lenient validity, per-field accuracy, and whether a
requested ``response_format`` was honoured as far as the outputs show.

Over the rows whose schema was usable (``judged`` = n minus ``bad_schema``):

* ``strict_valid_rate``: the whole output is JSON and passes the schema (``value_mismatch`` or
  ``correct`` and not ``meta["lenient"]``);
* ``lenient_valid_rate``: also counting JSON found in a code fence or prose (``lenient_only``,
  and lenient ``value_mismatch``);
* ``parse``: how the JSON was read: ``strict`` (whole output), ``lenient`` (code fence or prose,
  ``lenient_from`` says which), ``failed`` (``no_json`` + ``parse_error``);
* ``schema_violations_strict``: schema violations among strictly parsed rows.

``correct_rate`` is correct / n. ``per_field`` (field -> share matched) counts the rows that
reached a field-by-field comparison (``compare: fields``), from ``meta["matched"]`` and
``meta["mismatched"]``; at most :data:`MAX_FIELDS` distinct names, further ones under
``(other fields)``. Ledger lines written before ``Score.meta`` count as strict unless their
class is ``lenient_only``, and give no per-field figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from evalkit.scorers.metrics.base import Accumulator, ratio
from evalkit.types import Score

__all__ = ["MAX_FIELDS", "JsonAccumulator", "response_format_of", "structured_output_check"]

MAX_FIELDS = 200
_OTHER_FIELDS = "(other fields)"
_VALID = ("correct", "value_mismatch", "lenient_only")
_PARSED = ("schema_violation", *_VALID)


class JsonAccumulator(Accumulator):
    kind = "json"
    classes = (
        "correct",
        "lenient_only",
        "value_mismatch",
        "schema_violation",
        "parse_error",
        "no_json",
        "bad_schema",
    )

    def __init__(self) -> None:
        super().__init__()
        self.strict_ok = self.lenient_ok = self.bad = 0
        self.parse: Counter[str] = Counter()
        self.lenient_from: Counter[str] = Counter()
        self.schema_strict = 0
        self.field_total: Counter[str] = Counter()
        self.field_ok: Counter[str] = Counter()

    def _field(self, name: Any) -> str:
        name = str(name)
        if name not in self.field_total and len(self.field_total) >= MAX_FIELDS:
            return _OTHER_FIELDS
        return name

    def add(self, expected: Any, score: Score, sample_id: str | None = None) -> None:
        super().add(expected, score, sample_id)
        label, meta = score.label, score.meta
        if label == "bad_schema":
            self.bad += 1
            return
        if label in ("no_json", "parse_error"):
            self.parse["failed"] += 1
            return
        if label not in _PARSED:
            return
        lenient = bool(meta.get("lenient", label == "lenient_only"))
        self.parse["lenient" if lenient else "strict"] += 1
        if lenient:
            self.lenient_from[str(meta.get("json_from") or "unknown")] += 1
        if label == "schema_violation":
            self.schema_strict += not lenient
            return
        self.lenient_ok += 1
        self.strict_ok += not lenient
        for ok, names in ((True, meta.get("matched")), (False, meta.get("mismatched"))):
            for name in names if isinstance(names, list) else ():
                f = self._field(name)
                self.field_total[f] += 1
                self.field_ok[f] += ok

    def finish(self) -> dict[str, Any]:
        judged = self.n - self.bad
        out = super().finish()
        out.update(
            judged=judged,
            strict_valid_rate=ratio(self.strict_ok, judged),
            lenient_valid_rate=ratio(self.lenient_ok, judged),
            correct_rate=ratio(self.labels["correct"], self.n),
            bad_schema=self.bad,
            parse={k: self.parse.get(k, 0) for k in ("strict", "lenient", "failed")},
            lenient_from=dict(sorted(self.lenient_from.items())),
            schema_violations_strict=self.schema_strict,
        )
        if self.field_total:
            out["per_field"] = {f: self.field_ok[f] / self.field_total[f] for f in sorted(self.field_total)}
            out["per_field_rows"] = {f: self.field_total[f] for f in sorted(self.field_total)}
        return out


def response_format_of(params: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(structured output requested?, its type) from a model's request parameters.

    ``response_format`` present and not null/false means requested; the type is its ``type``
    (``json_object``, ``json_schema``...) when it is an object, else its text.
    """
    rf = params.get("response_format")
    if rf is None or rf is False:
        return False, None
    if isinstance(rf, Mapping):
        t = rf.get("type")
        return True, str(t) if t is not None else None
    return True, str(rf)


def structured_output_check(params: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Whether the outputs show the provider honoured a requested ``response_format``.

    A row did not honour it when its JSON needed lenient parsing or did not parse; with a
    ``json_schema`` format, also when it was strict JSON that breaks the schema. Rows with an
    unusable schema are not counted. ``text`` says it in words: ``unconstrained``, ``honoured on
    every row``, ``not honoured on k of n rows (...)`` or ``no rows to tell``.
    """
    requested, rf_type = response_format_of(params)
    out: dict[str, Any] = {"requested": requested, "response_format_type": rf_type}
    if not requested:
        out["text"] = "unconstrained (no response_format)"
        return out
    parse = metrics.get("parse") or {}
    rows = int(metrics.get("judged") or 0)
    lenient, failed = int(parse.get("lenient", 0)), int(parse.get("failed", 0))
    schema = int(metrics.get("schema_violations_strict", 0)) if rf_type == "json_schema" else 0
    k = lenient + failed + schema
    out.update(rows=rows, not_honoured=k, lenient=lenient, unparsed=failed, schema_violations=schema)
    if rows == 0:
        out["text"] = "no rows to tell"
    elif k == 0:
        out["text"] = "honoured on every row"
    else:
        parts = [
            f"{lenient} needed lenient parsing" if lenient else "",
            f"{failed} did not parse" if failed else "",
        ]
        if schema:
            parts.append(f"{schema} broke the schema")
        out["text"] = f"not honoured on {k} of {rows} rows ({', '.join(p for p in parts if p)})"
    return out

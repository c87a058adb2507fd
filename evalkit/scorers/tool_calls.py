"""``tool_calls``: did the model call the right functions with accepted arguments (BFCL-style)?

The scorer reads the whole :class:`~evalkit.types.Completion` (``reads="completion"``): in
``native`` mode its ``tool_calls`` (as LiteLLM normalises OpenAI ``tool_calls`` and Anthropic
``tool_use``); in ``prompted`` mode, for models without native tool calling, a JSON list of
``{"name", "arguments"}`` objects in the text (the whole text, or a fenced block or the JSON in
it). Calls are compared with the sample's expected calls in BFCL's possible-answer format
(``[{function: {param: [accepted, ...]}}]``) by :func:`evalkit.scorers._bfcl_match.compare`:
right functions, required arguments present, each value among the accepted ones, no unexpected
argument, parallel calls in any order with equal counts. Called names are mapped back from the
wire names (``math_factorial`` -> ``math.factorial``, :class:`~evalkit.scorers._bfcl.ToolNames`)
built from the row's declarations.

Classes (``Score.label``), value 1.0 for ``pass`` and 0.0 otherwise:

* ``pass``: every expected call matched by a different call, and no other call;
* ``wrong_function``: a call to a function other than the one expected (or not declared at all);
* ``missing_call``: fewer calls than expected, the ones made all right (or no call and no text);
* ``extra_call``: every expected call made, plus more;
* ``wrong_argument``: a value of the wrong type or not among the accepted ones (which, got vs accepted);
* ``missing_argument``: a required argument, or one that may not be left out, is missing;
* ``unexpected_argument``: an argument the possible answer does not list or the function does not declare;
* ``invalid_arguments_json``: a call's arguments are not a JSON object (prompted: the call list is not JSON);
* ``text_instead_of_call``: the model answered in text where calls were expected;
* ``bad_expected``: the sample's expected calls are not in the possible-answer format (a data error).

``Score.meta``: ``mode`` (``native``/``prompted``, so reports keep the two apart), ``n_expected``,
``n_called``, ``n_matched``, ``reason`` (the class), and ``function`` / ``argument`` (the expected
function and the argument the verdict is about) when there is one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalkit.scorers._bfcl import ExpectedCall, ToolNames, declarations, parse_expected
from evalkit.scorers._bfcl_match import Call, compare, read_call
from evalkit.scorers.json_read import read_json
from evalkit.scorers.metrics.tool_calls import ToolCallAccumulator
from evalkit.scorers.registry import CompletionScoreFn, scorer
from evalkit.scorers.text import clip
from evalkit.types import Completion, Sample, Score, ToolCall

__all__ = ["CLASSES", "MAX_CALLS", "MODES", "PromptedCalls", "parse_prompted", "tool_calls"]

CLASSES = (
    "pass",
    "wrong_function",
    "missing_call",
    "extra_call",
    "wrong_argument",
    "missing_argument",
    "unexpected_argument",
    "invalid_arguments_json",
    "text_instead_of_call",
    "bad_expected",
)
MODES = ("native", "prompted")
MAX_CALLS = 64
"""More calls than this are not compared one by one: the verdict is ``extra_call``."""
_LIST_KEYS = ("tool_calls", "calls", "function_calls")


@dataclass(frozen=True)
class PromptedCalls:
    """What :func:`parse_prompted` read: ``kind`` is ``calls``, ``no_json``, ``not_calls`` or ``parse_error``."""

    kind: str
    calls: tuple[ToolCall, ...] = ()
    detail: str = ""
    how: str = ""
    """``strict`` (the whole text) or where the JSON was (``a code fence``, ``surrounding text``)."""


def _as_call(item: Any) -> ToolCall | None:
    if not isinstance(item, Mapping):
        return None
    if isinstance(item.get("function"), Mapping):  # the OpenAI shape {"type": "function", "function": {...}}
        item = item["function"]
    name = item.get("name")
    if not isinstance(name, str) or not name:
        return None
    args = item.get("arguments", item.get("parameters", {}))
    text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
    return ToolCall(name, text)


def _broken_list(text: str) -> str | None:
    """Why the list that opens before the first object does not parse (``None`` when there is none)."""
    start, first_object = text.find("["), text.find("{")
    if start < 0 or (0 <= first_object < start):
        return None
    try:
        json.JSONDecoder().raw_decode(text, start)
    except (ValueError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "not valid JSON"
        line = text.count("\n", 0, start) + 1
        return f"the list that starts on line {line} does not parse ({msg})"
    return None


def parse_prompted(text: str | None) -> PromptedCalls:
    """Read a JSON call list from a model's text. Never raises.

    Accepted: a list of ``{"name", "arguments"}`` objects (``parameters`` for ``arguments``, and the
    OpenAI ``{"function": {...}}`` wrapper, are read too), one such object, or an object whose
    ``tool_calls`` / ``calls`` / ``function_calls`` is such a list; as the whole text or in a
    code fence or surrounding prose (:func:`~evalkit.scorers.json_read.read_json`; a list that
    does not parse is a ``parse_error`` even when one of its objects does). ``arguments``
    may be an object or JSON text. ``[]`` is a valid answer: no call.
    """
    found = read_json(text if isinstance(text, str) else "")
    if found.kind == "no_json":
        return PromptedCalls("no_json", detail="no JSON in the text")
    if found.kind == "parse_error":
        return PromptedCalls("parse_error", detail=found.error)
    how = found.how or "strict"
    value = found.value
    if how == "surrounding text" and isinstance(value, Mapping):
        broken = _broken_list(text if isinstance(text, str) else "")
        if broken is not None:  # a truncated call list, of which only one object parsed
            return PromptedCalls("parse_error", detail=broken)
    if isinstance(value, Mapping):
        listed = next((value[k] for k in _LIST_KEYS if isinstance(value.get(k), list)), None)
        value = listed if listed is not None else [value]
    if not isinstance(value, list):
        return PromptedCalls(
            "not_calls", detail=f"the JSON is a {type(value).__name__}, not a call list", how=how
        )
    calls = [_as_call(item) for item in value]
    if any(c is None for c in calls):
        return PromptedCalls(
            "not_calls", detail="the JSON is not a list of {name, arguments} objects", how=how
        )
    return PromptedCalls("calls", tuple(c for c in calls if c is not None), how=how)


def _expected_of(sample: Sample, field: str) -> Any:
    if field == "expected":
        return sample.expected
    if field not in sample.fields:
        raise ValueError(f"the sample has no field {field!r}")
    return sample.fields[field]


def _render(calls: list[Call], raw: list[ToolCall]) -> str:
    parts = [
        f"{c.name}({clip(t.arguments if isinstance(t.arguments, str) else '', 160)})"
        for c, t in zip(calls, raw, strict=True)
    ]
    return clip("; ".join(parts), 500)


def _wanted(expected: list[ExpectedCall]) -> str:
    names = list(dict.fromkeys(e.name for e in expected))
    shown = ", ".join(repr(n) for n in names[:3]) + (", ..." if len(names) > 3 else "")
    one = len(expected) == 1
    return f"{len(expected)} call{'' if one else 's'} ({shown}) {'was' if one else 'were'} expected"


def _tolerance(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not value >= 0
        or value == float("inf")
    ):
        raise ValueError(f"numeric_tolerance must be a finite number >= 0 (got {value!r})")
    return float(value)


def _field_name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty field name (got {value!r})")
    return value


@scorer("tool_calls", reads="completion", metrics=ToolCallAccumulator)
def tool_calls(
    *,
    mode: str = "native",
    expected_field: str = "expected",
    functions_field: str = "functions",
    numeric_tolerance: float = 1e-6,
) -> CompletionScoreFn:
    """Function calls against BFCL-style possible answers: functions, required and accepted arguments, any order.

    Args:
        mode: ``native`` (default): read the completion's tool calls; ``prompted``: read a JSON
            list of ``{"name", "arguments"}`` objects from the text (for models without native
            tool calling; verdicts carry ``meta.mode = "prompted"``).
        expected_field: where the expected calls are: ``expected`` (default, the sample's
            expected answer) or the name of another field of the row.
        functions_field: the row's field with the function declarations (default ``functions``);
            they give the declared types, the required arguments and the wire names. Without
            them, every argument that may not be omitted is required and types are not checked
            beyond the accepted values.
        numeric_tolerance: numbers match when they differ by at most this much, relative to the
            larger of the two (absolute below 1); default 1e-6.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)} (got {mode!r})")
    tol = _tolerance(numeric_tolerance)
    expected_key = _field_name("expected_field", expected_field)
    functions_key = _field_name("functions_field", functions_field)

    def fn(completion: Completion, sample: Sample) -> Score:
        if not isinstance(completion, Completion):  # a text scorer's caller: judge the text alone
            completion = Completion(text=completion if isinstance(completion, str) else None)
        text = completion.text if isinstance(completion.text, str) else ""
        meta: dict[str, Any] = {"mode": mode}
        try:
            expected = parse_expected(_expected_of(sample, expected_key))
        except ValueError as exc:
            meta.update(n_expected=0, n_called=0, n_matched=0, reason="bad_expected")
            return Score(0.0, None, f"the sample's expected calls are unusable: {exc}", "bad_expected", meta)
        decls = declarations(sample.fields.get(functions_key))
        names = ToolNames.of([d["name"] for d in decls] or list(dict.fromkeys(e.name for e in expected)))
        meta["n_expected"] = len(expected)

        def verdict(label: str, why: str, answer: str | None, n_called: int, **extra: Any) -> Score:
            meta.update(n_called=n_called, n_matched=extra.pop("n_matched", 0), reason=label)
            meta.update({k: v for k, v in extra.items() if v is not None})
            return Score(1.0 if label == "pass" else 0.0, answer, why, label, meta)

        if mode == "native":
            raw = [c for c in completion.tool_calls if isinstance(c, ToolCall)]
        else:
            parsed = parse_prompted(text)
            if parsed.kind == "parse_error":
                return verdict(
                    "invalid_arguments_json",
                    f"the call list is not valid JSON: {parsed.detail}",
                    clip(text.strip(), 200),
                    0,
                )
            raw = list(parsed.calls) if parsed.kind == "calls" else []
            if parsed.kind != "calls" and text.strip() and expected:
                return verdict(
                    "text_instead_of_call",
                    f"answered with text ({parsed.detail}) where {_wanted(expected)}",
                    clip(text.strip(), 200),
                    0,
                )
        if not raw and expected:
            if mode == "prompted" and text.strip():  # an empty call list: no call, not prose
                return verdict("missing_call", f"an empty call list where {_wanted(expected)}", "[]", 0)
            if not text.strip():
                return verdict("missing_call", f"no call and no text where {_wanted(expected)}", None, 0)
            hint = ""
            if mode == "native" and parse_prompted(text).kind == "calls":
                hint = " (the text holds a JSON call list: the model may not call tools natively)"
            return verdict(
                "text_instead_of_call",
                f"answered with text instead of a call where {_wanted(expected)}{hint}",
                clip(text.strip(), 200),
                0,
            )
        if len(raw) > MAX_CALLS:
            return verdict(
                "extra_call",
                f"{len(raw)} calls for {len(expected)} expected (not compared one by one)",
                None,
                len(raw),
            )
        calls = [read_call(c, names) for c in raw]
        v = compare(calls, expected, {d["name"]: d for d in decls}, tol)
        return verdict(
            v.label,
            v.explanation,
            _render(calls, raw) or None,
            len(calls),
            n_matched=v.n_matched,
            function=v.function,
            argument=v.argument,
        )

    return fn

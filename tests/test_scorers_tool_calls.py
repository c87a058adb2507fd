"""tool_calls: BFCL -> JSON Schema, wire names, the BFCL-style comparison, the scorer and its metrics.

The tables are built from real BFCL rows (``suites/data/bfcl_tool_calls.jsonl``): each row's own
expected calls, rendered as the model's tool calls, must pass; deliberate mutations of them must
fail with the right class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, cast

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.errors import ConfigError
from evalkit.scorers import build_scorer, registered
from evalkit.scorers._bfcl import (
    ExpectedCall,
    ToolNames,
    function_parameters,
    openai_tools,
    parse_expected,
    to_json_schema,
)
from evalkit.scorers._bfcl_match import Call, compare
from evalkit.scorers.metrics.tool_calls import FAILURES, ToolCallAccumulator
from evalkit.scorers.registry import CompletionScoreFn, scorer
from evalkit.scorers.tool_calls import CLASSES, parse_prompted
from evalkit.types import Completion, Sample, Score, ToolCall

DATA = Path(__file__).resolve().parents[1] / "suites" / "data" / "bfcl_tool_calls.jsonl"


@cache
def rows() -> dict[str, dict[str, Any]]:
    out = {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        out[r["id"]] = r
    return out


def sample_of(r: dict[str, Any]) -> Sample:
    return Sample(
        r["id"],
        r["input"][0]["content"],
        r["expected"],
        {"functions": r["functions"], "category": r["category"]},
    )


def canonical(r: dict[str, Any]) -> list[tuple[str, Any]]:
    """The row's own expected calls as (declared name, arguments)."""
    return [(e.name, e.canonical()) for e in parse_expected(r["expected"])]


def wire(r: dict[str, Any], calls: list[tuple[str, Any]]) -> tuple[ToolCall, ...]:
    """Calls as a native model sends them: wire names, arguments as JSON text (a str is sent as is)."""
    _, names = openai_tools(r["functions"])
    return tuple(
        ToolCall(names.to_wire(n), a if isinstance(a, str) else json.dumps(a), f"call_{i}")
        for i, (n, a) in enumerate(calls)
    )


def tool_scorer(args: dict[str, Any]) -> CompletionScoreFn:
    """The scorer, typed as what ``reads="completion"`` scorers return."""
    return cast(CompletionScoreFn, build_scorer("tool_calls", args))


def judge(row_id: str, calls: list[tuple[str, Any]], text: str | None = None, **args: Any) -> Score:
    r = rows()[row_id]
    fn = tool_scorer(args)
    return fn(Completion(text=text, tool_calls=wire(r, calls)), sample_of(r))


# --- the data and the translation ------------------------------------------------------------------


def test_the_data_is_the_400_rows_of_section_7() -> None:
    cats = [r["category"] for r in rows().values()]
    assert len(cats) == 400
    assert {c: cats.count(c) for c in set(cats)} == {
        "multiple": 134,
        "parallel": 133,
        "parallel_multiple": 133,
    }


_BFCL_ONLY = {"dict", "float", "tuple", "any"}


def _types(schema: Any) -> list[Any]:
    found = []
    if isinstance(schema, dict):
        if "type" in schema:
            found.append(schema["type"])
        assert "optional" not in schema
        for key in ("properties",):
            for sub in (schema.get(key) or {}).values():
                found += _types(sub)
        if isinstance(schema.get("items"), dict):
            found += _types(schema["items"])
    return found


def test_every_rows_functions_translate_to_valid_json_schema_in_openai_tools_format() -> None:
    n_tools = 0
    for r in rows().values():
        tools, names = openai_tools(r["functions"])
        assert len(tools) == len(r["functions"])
        for tool, f in zip(tools, r["functions"], strict=True):
            assert set(tool) == {"type", "function"} and tool["type"] == "function"
            fn = tool["function"]
            assert set(fn) == {"name", "description", "parameters"}
            assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", fn["name"]), fn["name"]
            assert names.to_declared(fn["name"]) == f["name"]
            params = fn["parameters"]
            assert params["type"] == "object" and isinstance(params["properties"], dict)
            jsonschema.Draft202012Validator.check_schema(params)
            jsonschema.Draft7Validator.check_schema(params)
            assert not _BFCL_ONLY & {t for t in _types(params) if isinstance(t, str)}
            n_tools += 1
    assert n_tools == sum(len(r["functions"]) for r in rows().values()) == 864


# The two rows whose possible answers contradict their own declarations (upstream data): BFCL's
# checker accepts them through its "variable" exception, and so does ours.
CONTRADICTORY = {
    ("bfcl-parallel_multiple_21", "linear_regression_fit"),  # x, y accepted as the strings "data['sales']"
    ("bfcl-parallel_multiple_94", "sort_list"),  # integer items, accepted lists of fruit names
}


def test_expected_arguments_validate_against_the_translated_schema() -> None:
    invalid = set()
    for r in rows().values():
        schemas = {f["name"]: function_parameters(f) for f in r["functions"]}
        for e in parse_expected(r["expected"]):
            if not jsonschema.Draft202012Validator(schemas[e.name]).is_valid(e.canonical()):
                invalid.add((r["id"], e.name))
    assert invalid == CONTRADICTORY


def _function(row_id: str, name: str) -> dict[str, Any]:
    return next(f for f in rows()[row_id]["functions"] if f["name"] == name)


# (row, function, path to a sub-schema, expected translation)
SCHEMAS: list[tuple[str, str, tuple[str, ...], dict[str, Any]]] = [
    (
        "bfcl-multiple_4",
        "kinematics.calculate_displacement",
        ("properties", "rounding"),
        {
            "type": "integer",
            "description": "The number of decimals to round off the result (optional).",
            "default": 2,
        },
    ),
    (
        "bfcl-multiple_4",
        "kinematics.calculate_final_speed",
        ("properties", "time"),
        {
            "type": "number",
            "description": "The time interval during which the acceleration is applied, in seconds.",
        },
    ),
    (
        "bfcl-parallel_133",
        "calculate_distance",
        ("properties", "coord1"),
        {
            "type": "array",
            "description": "The first coordinate as (latitude, longitude).",
            "items": {"type": "number"},
        },
    ),
    (
        "bfcl-multiple_181",
        "random_forest.train",
        ("properties", "data"),
        {"description": "The training data for the model."},
    ),
    (
        "bfcl-multiple_25",
        "video_games.on_sale",
        ("properties", "region"),
        {
            "type": "string",
            "description": "The region e.g. United States, United Kingdom, Japan. Default United States",
        },
    ),
    (
        "bfcl-parallel_multiple_66",
        "highest_grade",
        ("properties", "gradeDict"),
        {
            "type": "object",
            "description": "A dictionary where keys represent subjects and values represent scores",
        },
    ),
    (
        "bfcl-multiple_113",
        "lawyer.find_nearby",
        ("properties", "fee"),
        {"type": "integer", "description": "Hourly fee charged by lawyer", "maximum": 400},
    ),
]


@pytest.mark.parametrize(("row_id", "name", "path", "want"), SCHEMAS)
def test_bfcl_types_translate(row_id: str, name: str, path: tuple[str, ...], want: dict[str, Any]) -> None:
    got: Any = function_parameters(_function(row_id, name))
    for key in path:
        got = got[key]
    assert got == want


def test_top_level_optional_is_dropped_and_nested_dicts_translate() -> None:
    legal = function_parameters(_function("bfcl-parallel_multiple_30", "legal_case.get_summary"))
    assert "optional" not in legal and legal["required"] == ["case_id"]
    deck = function_parameters(_function("bfcl-multiple_178", "find_card_in_deck"))["properties"]["deck"]
    assert deck["type"] == "array"
    assert deck["items"] == {
        "type": "object",
        "properties": {"rank": {"type": "string"}, "suit": {"type": "string"}},
    }


@pytest.mark.parametrize(
    ("schema", "want"),
    [
        ({"type": "array"}, {"type": "array", "items": {}}),
        ({"type": ["float", "null"]}, {"type": ["number", "null"]}),
        ({"type": ["string", "any"]}, {}),
        ({"type": "str"}, {"type": "string"}),
        (
            {"anyOf": [{"type": "dict"}, {"type": "tuple"}]},
            {"anyOf": [{"type": "object"}, {"type": "array", "items": {}}]},
        ),
    ],
)
def test_schema_translation_edge_cases(schema: dict[str, Any], want: dict[str, Any]) -> None:
    assert to_json_schema(schema) == want


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"type": "dict", "properties": {"x": {"type": "decimal"}}},
            "parameters.properties.x.type: unknown type 'decimal'",
        ),
        (
            {"type": "dict", "properties": {"x": "string"}},
            "parameters.properties.x: a schema must be an object",
        ),
        ({"type": 3}, "parameters.type: type must be a string"),
    ],
)
def test_bad_declarations_raise_naming_the_path(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        to_json_schema(schema)
    with pytest.raises(ValueError, match="function f: parameters"):
        openai_tools([{"name": "f", "parameters": schema}])


# --- wire names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "wire"),
    [
        (["math.factorial"], ["math_factorial"]),
        (["get_weather"], ["get_weather"]),
        (["a.b", "a_b"], ["a_b_2", "a_b"]),  # the valid name keeps its spelling; the other is suffixed
        (["a_b", "a.b", "a-b.c", "a b"], ["a_b", "a_b_2", "a-b_c", "a_b_3"]),
        (["x" * 70 + ".y"], ["x" * 64]),
    ],
)
def test_wire_names_are_valid_and_reversible(declared: list[str], wire: list[str]) -> None:
    names = ToolNames.of(declared)
    assert [names.to_wire(n) for n in declared] == wire
    assert [names.to_declared(w) for w in wire] == declared
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", w) for w in wire)
    assert names.to_declared("math.factorial") == "math.factorial"  # a model that echoed the declared name


def test_wire_names_round_trip_on_every_row_and_dots_are_the_only_change() -> None:
    dotted = 0
    for r in rows().values():
        declared = [f["name"] for f in r["functions"]]
        names = ToolNames.of(declared)
        for n in declared:
            assert names.to_declared(names.to_wire(n)) == n
            assert names.to_wire(n) == n.replace(".", "_")
            dotted += "." in n
    assert dotted > 300


@pytest.mark.parametrize("declared", [["f", "f"], ["f", ""]])
def test_duplicate_or_empty_names_are_rejected(declared: list[str]) -> None:
    with pytest.raises(ValueError):
        ToolNames.of(declared)


# --- the scorer on real rows ----------------------------------------------------------------------


def test_every_rows_own_expected_calls_pass_in_order_and_reversed() -> None:
    failures = []
    for rid, r in rows().items():
        calls = canonical(r)
        for order in (calls, calls[::-1]):
            s = judge(rid, order)
            if s.label != "pass":
                failures.append((rid, s.explanation))
            assert s.meta["n_expected"] == s.meta["n_called"] == s.meta["n_matched"] == len(calls)
    assert failures == []


Mutation = Callable[[list[tuple[str, Any]]], list[tuple[str, Any]]]


def _set(i: int, param: str, value: Any) -> Mutation:
    return lambda calls: [(n, {**a, param: value}) if k == i else (n, a) for k, (n, a) in enumerate(calls)]


def _drop(i: int, param: str) -> Mutation:
    return lambda calls: [
        (n, {p: v for p, v in a.items() if p != param}) if k == i else (n, a)
        for k, (n, a) in enumerate(calls)
    ]


def _rename(i: int, name: str) -> Mutation:
    return lambda calls: [(name, a) if k == i else (n, a) for k, (n, a) in enumerate(calls)]


def _raw(i: int, text: str) -> Mutation:
    return lambda calls: [(n, text) if k == i else (n, a) for k, (n, a) in enumerate(calls)]


def _keep(*index: int) -> Mutation:
    return lambda calls: [calls[k] for k in index]


def _same(calls: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return calls


# (row, what the mutation does, mutation, label, argument the verdict names)
MUTATIONS: list[tuple[str, str, Mutation, str, str | None]] = [
    # multiple: one call, the right choice among 2-4 functions
    ("bfcl-multiple_4", "as expected", _same, "pass", None),
    (
        "bfcl-multiple_4",
        "the other offered function",
        _rename(0, "kinematics.calculate_final_speed"),
        "wrong_function",
        None,
    ),
    (
        "bfcl-multiple_4",
        "a function nobody declared",
        _rename(0, "physics.displacement"),
        "wrong_function",
        None,
    ),
    (
        "bfcl-multiple_4",
        "a value outside the accepted list",
        _set(0, "initial_speed", 25),
        "wrong_argument",
        "initial_speed",
    ),
    (
        "bfcl-multiple_4",
        "a string for an integer",
        _set(0, "initial_speed", "20"),
        "wrong_argument",
        "initial_speed",
    ),
    ("bfcl-multiple_4", "true for an integer", _set(0, "time", True), "wrong_argument", "time"),
    ("bfcl-multiple_4", "20.0 for the integer 20", _set(0, "initial_speed", 20.0), "pass", None),
    (
        "bfcl-multiple_4",
        "20.5 for the integer 20",
        _set(0, "initial_speed", 20.5),
        "wrong_argument",
        "initial_speed",
    ),
    ("bfcl-multiple_4", "a required argument left out", _drop(0, "time"), "missing_argument", "time"),
    ("bfcl-multiple_4", "an omittable argument left out", _drop(0, "rounding"), "pass", None),
    (
        "bfcl-multiple_4",
        "an omittable argument with another value",
        _set(0, "rounding", 3),
        "wrong_argument",
        "rounding",
    ),
    ("bfcl-multiple_4", "an argument nobody declared", _set(0, "units", "m"), "unexpected_argument", "units"),
    ("bfcl-multiple_4", "one call too many", lambda c: c + c, "extra_call", None),
    (
        "bfcl-multiple_4",
        "arguments that are not JSON",
        _raw(0, '{"initial_speed": 20, "acceleration": 10,'),
        "invalid_arguments_json",
        None,
    ),
    ("bfcl-multiple_4", "a JSON list for arguments", _raw(0, "[20, 10, 5]"), "invalid_arguments_json", None),
    (
        "bfcl-multiple_4",
        "NaN is not JSON",
        _raw(0, '{"initial_speed": NaN, "acceleration": 10, "time": 5}'),
        "invalid_arguments_json",
        None,
    ),
    (
        "bfcl-multiple_7",
        "case and spacing as BFCL ignores them",
        _set(0, "location", "washington-STATE"),
        "pass",
        None,
    ),
    ("bfcl-multiple_7", "the other accepted spelling", _set(0, "location", "WA"), "pass", None),
    (
        "bfcl-multiple_7",
        "a string outside the accepted list",
        _set(0, "location", "Oregon"),
        "wrong_argument",
        "location",
    ),
    (
        "bfcl-multiple_8",
        "a nested object with one key missing",
        _set(0, "budget", {"min": 300000}),
        "wrong_argument",
        "budget",
    ),
    (
        "bfcl-multiple_8",
        "a nested object with a key too many",
        _set(0, "budget", {"min": 300000, "max": 400000, "currency": "USD"}),
        "wrong_argument",
        "budget",
    ),
    (
        "bfcl-multiple_8",
        "a nested object with a wrong value",
        _set(0, "budget", {"min": 300000, "max": 500000}),
        "wrong_argument",
        "budget",
    ),
    (
        "bfcl-multiple_8",
        "a nested object as accepted, floats for ints",
        _set(0, "budget", {"max": 400000.0, "min": 300000}),
        "pass",
        None,
    ),
    (
        "bfcl-multiple_181",
        "true as the string 'true'",
        _set(0, "include_stats", "true"),
        "wrong_argument",
        "include_stats",
    ),
    ("bfcl-multiple_181", "no call at all", _keep(), "missing_call", None),
    # parallel: one function, 2-8 calls in any order
    ("bfcl-parallel_133", "swapped order", lambda c: [c[2], c[0], c[1]], "pass", None),
    ("bfcl-parallel_133", "one call too many", lambda c: [*c, c[0]], "extra_call", None),
    ("bfcl-parallel_133", "one call too few", _keep(0, 2), "missing_call", None),
    (
        "bfcl-parallel_133",
        "a coordinate pair reversed",
        _set(1, "coord1", [12.4922, 41.8902]),
        "wrong_argument",
        "coord1",
    ),
    (
        "bfcl-parallel_133",
        "a coordinate a hair off (within tolerance)",
        _set(1, "coord1", [41.89020000001, 12.4922]),
        "pass",
        None,
    ),
    (
        "bfcl-parallel_133",
        "a coordinate rounded (outside tolerance)",
        _set(1, "coord1", [41.89, 12.4922]),
        "wrong_argument",
        "coord1",
    ),
    ("bfcl-parallel_133", "the unit's other accepted spelling", _set(0, "unit", "KM"), "pass", None),
    (
        "bfcl-parallel_88",
        "a required argument left out although '' is accepted",
        _drop(0, "initial_velocity"),
        "missing_argument",
        "initial_velocity",
    ),
    ("bfcl-parallel_88", "an omittable, not required argument left out", _drop(1, "gravity"), "pass", None),
    (
        "bfcl-parallel_29",
        "a nested population swapped between the calls",
        lambda c: [(c[0][0], {**c[0][1], "population": c[1][1]["population"]}), c[1]],
        "wrong_argument",
        "population",
    ),
    (
        "bfcl-parallel_158",
        "one of two duplicate calls repeated in place of another",
        lambda c: [c[0], c[1], c[0], c[3]],
        "wrong_argument",
        "mu",
    ),
    ("bfcl-parallel_158", "duplicate calls reversed", lambda c: c[::-1], "pass", None),
    (
        "bfcl-parallel_116",
        "three times 'AA' (BFCL compares strings case-insensitively)",
        lambda c: [c[0], c[0], c[0]],
        "pass",
        None,
    ),
    # parallel_multiple: 2-4 functions, 2-5 calls in any order
    ("bfcl-parallel_multiple_87", "swapped order", lambda c: [c[1], c[2], c[0]], "pass", None),
    ("bfcl-parallel_multiple_87", "integers for the declared floats", _set(0, "time", 5), "pass", None),
    (
        "bfcl-parallel_multiple_87",
        "one call to the wrong function",
        _rename(1, "kinematics.distance"),
        "wrong_function",
        None,
    ),
    ("bfcl-parallel_multiple_87", "one call missing", _keep(0, 2), "missing_call", None),
    ("bfcl-parallel_multiple_87", "one call too many", lambda c: [*c, c[1]], "extra_call", None),
    (
        "bfcl-parallel_multiple_75",
        "an argument one call's possible answer does not list",
        _set(3, "event", "null"),
        "unexpected_argument",
        "event",
    ),
    (
        "bfcl-parallel_multiple_75",
        "the same argument where it is listed",
        _set(1, "event", "null"),
        "pass",
        None,
    ),
    (
        "bfcl-parallel_multiple_66",
        "a grade dictionary with a wrong grade",
        _set(2, "gradeDict", {"Math": 85, "English": 90, "Science": 88, "History": 92, "Art": 98}),
        "wrong_argument",
        "gradeDict",
    ),
    ("bfcl-parallel_multiple_21", "the variable-like strings BFCL accepts", _same, "pass", None),
    (
        "bfcl-parallel_multiple_21",
        "the list the variable stands for",
        _set(1, "x", [1.0, 2.0]),
        "wrong_argument",
        "x",
    ),
]


@pytest.mark.parametrize(
    ("row_id", "what", "mutate", "label", "argument"), MUTATIONS, ids=[f"{m[0]}:{m[1]}" for m in MUTATIONS]
)
def test_mutations_of_real_rows(
    row_id: str, what: str, mutate: Mutation, label: str, argument: str | None
) -> None:
    calls = mutate(canonical(rows()[row_id]))
    s = judge(row_id, calls)
    assert (s.label, s.meta.get("argument")) == (label, argument), s.explanation
    assert s.value == (1.0 if label == "pass" else 0.0)
    assert s.meta["mode"] == "native" and s.meta["reason"] == label
    assert s.meta["n_called"] == len(calls) and s.meta["n_expected"] == len(canonical(rows()[row_id]))


@pytest.mark.parametrize(
    ("row_id", "mutate", "fragments"),
    [
        ("bfcl-multiple_4", _set(0, "initial_speed", 25), ["'initial_speed'", "got 25", "accepted 20"]),
        ("bfcl-multiple_4", _set(0, "rounding", 3), ["got 3", "accepted 2 (or leaving it out)"]),
        ("bfcl-multiple_4", _set(0, "initial_speed", "20"), ['got "20" (a JSON string)', "declared integer"]),
        (
            "bfcl-multiple_4",
            _rename(0, "kinematics.calculate_final_speed"),
            ["'kinematics.calculate_final_speed'", "'kinematics.calculate_displacement' was expected"],
        ),
        ("bfcl-multiple_4", _rename(0, "physics.displacement"), ["not a declared function"]),
        ("bfcl-multiple_4", _drop(0, "time"), ["required argument 'time' is missing"]),
        ("bfcl-parallel_133", _keep(0, 2), ["2 calls for 3 expected", "no call to 'calculate_distance'"]),
        (
            "bfcl-parallel_133",
            lambda c: [*c, c[0]],
            ["4 calls for 3 expected", "extra call was 'calculate_distance'"],
        ),
        ("bfcl-parallel_158", lambda c: [c[0], c[1], c[0], c[3]], ["'mu' got 5, accepted 10"]),
        ("bfcl-multiple_4", _raw(0, "{"), ["not a JSON object", "line 1 column 2"]),
        ("bfcl-multiple_8", _set(0, "budget", {"min": 300000}), ["'budget' lacks the key 'max'"]),
        (
            "bfcl-multiple_8",
            _set(0, "budget", {"min": 300000, "max": 5e5}),
            ["'budget' has 'max' = 500000.0, accepted 400000"],
        ),
        (
            "bfcl-multiple_8",
            _set(0, "budget", {"min": 3e5, "max": 4e5, "tax": 1}),
            ["'tax', which is not expected"],
        ),
    ],
)
def test_explanations_say_which_and_why(row_id: str, mutate: Mutation, fragments: list[str]) -> None:
    s = judge(row_id, mutate(canonical(rows()[row_id])))
    for f in fragments:
        assert f in s.explanation, s.explanation


def test_the_answer_shows_the_calls_with_their_declared_names() -> None:
    s = judge("bfcl-multiple_4", canonical(rows()["bfcl-multiple_4"]))
    assert s.answer is not None and s.answer.startswith("kinematics.calculate_displacement({")


def test_a_model_that_calls_by_the_declared_dotted_name_still_matches() -> None:
    r = rows()["bfcl-multiple_4"]
    ((name, args),) = canonical(r)
    s = tool_scorer({})(Completion(text=None, tool_calls=(ToolCall(name, json.dumps(args)),)), sample_of(r))
    assert s.label == "pass"


def test_text_instead_of_a_call_and_no_output_at_all() -> None:
    s = judge("bfcl-multiple_4", [], text="The displacement is 225 metres.")
    assert (s.label, s.value, s.answer) == ("text_instead_of_call", 0.0, "The displacement is 225 metres.")
    assert "1 call ('kinematics.calculate_displacement') was expected" in s.explanation
    listed = json.dumps([{"name": "kinematics.calculate_displacement", "arguments": {"initial_speed": 20}}])
    hinted = judge("bfcl-multiple_4", [], text=listed)
    assert hinted.label == "text_instead_of_call" and "may not call tools natively" in hinted.explanation
    assert judge("bfcl-multiple_4", [], text="  ").label == "missing_call"


def test_without_declarations_required_means_not_omittable() -> None:
    r = rows()["bfcl-parallel_88"]
    fn = tool_scorer({"functions_field": "none_here"})
    bare = Sample(r["id"], "", r["expected"], {})
    calls = canonical(r)
    ok = fn(Completion(text=None, tool_calls=tuple(ToolCall(n, json.dumps(a)) for n, a in calls)), bare)
    dropped = _drop(0, "initial_velocity")(calls)
    lenient = fn(
        Completion(text=None, tool_calls=tuple(ToolCall(n, json.dumps(a)) for n, a in dropped)), bare
    )
    assert (ok.label, lenient.label) == ("pass", "pass")  # '' accepted and nothing says it is required


def test_expected_from_another_field_and_bad_expected() -> None:
    r = rows()["bfcl-multiple_4"]
    fn = tool_scorer({"expected_field": "gold"})
    calls = wire(r, canonical(r))
    moved = Sample(r["id"], "", None, {"functions": r["functions"], "gold": r["expected"]})
    assert fn(Completion(text=None, tool_calls=calls), moved).label == "pass"
    bad: dict[str, Any]
    for bad in (
        {"functions": r["functions"]},
        {"functions": r["functions"], "gold": "math.factorial(5)"},
        {"gold": [{"a": {}, "b": {}}]},
    ):
        s = fn(Completion(text=None, tool_calls=calls), Sample("x", "", None, bad))
        assert (s.label, s.value) == ("bad_expected", 0.0)


def test_no_call_expected() -> None:
    fn = tool_scorer({})
    none = Sample("irrelevant", "", [], {})
    assert fn(Completion(text="I have no tool for that."), none).label == "pass"
    called = fn(Completion(text=None, tool_calls=(ToolCall("f", "{}"),)), none)
    assert called.label == "extra_call"


def test_maximum_matching_where_first_fit_fails() -> None:
    # x may be omitted in the first expected call; first fit gives it the call {x: 1} and the
    # second expected call (x must be 1) is left with {}. A maximum matching pairs them the other way.
    expected = [ExpectedCall("f", {"x": (1, "")}), ExpectedCall("f", {"x": (1,)})]
    calls = [Call("f", "f", {"x": 1}), Call("f", "f", {})]
    assert compare(calls, expected, {}, 1e-6).label == "pass"
    assert compare(calls[::-1], expected, {}, 1e-6).label == "pass"
    assert compare([calls[1], calls[1]], expected, {}, 1e-6).label == "missing_argument"


def test_many_calls_are_not_compared_one_by_one() -> None:
    r = rows()["bfcl-multiple_4"]
    s = judge("bfcl-multiple_4", canonical(r) * 65)
    assert (s.label, s.meta["n_called"]) == ("extra_call", 65)


# --- prompted mode ------------------------------------------------------------------------------


def _listed(r: dict[str, Any], calls: list[tuple[str, Any]]) -> str:
    return json.dumps([{"name": n, "arguments": a} for n, a in calls])


PROMPTED: list[tuple[str, Callable[[str], str], str]] = [
    ("bfcl-parallel_multiple_87", lambda listed: listed, "pass"),
    (
        "bfcl-parallel_multiple_87",
        lambda listed: f"Here are the calls:\n```json\n{listed}\n```\nDone.",
        "pass",
    ),
    ("bfcl-parallel_multiple_87", lambda listed: json.dumps({"tool_calls": json.loads(listed)}), "pass"),
    (
        "bfcl-parallel_multiple_87",
        lambda listed: json.dumps(
            [
                {"type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                for c in json.loads(listed)
            ]
        ),
        "pass",
    ),
    ("bfcl-parallel_multiple_87", lambda listed: json.dumps(json.loads(listed)[:2]), "missing_call"),
    ("bfcl-parallel_multiple_87", lambda listed: listed[:-3], "invalid_arguments_json"),
    (
        "bfcl-parallel_multiple_87",
        lambda listed: "The final velocity is 15 m/s and the wave moves at 150 m/s.",
        "text_instead_of_call",
    ),
    ("bfcl-parallel_multiple_87", lambda listed: '{"answer": 15}', "text_instead_of_call"),
    ("bfcl-parallel_multiple_87", lambda listed: "", "missing_call"),
    ("bfcl-parallel_multiple_87", lambda listed: "```json\n[]\n```", "missing_call"),
    (
        "bfcl-multiple_4",
        lambda listed: json.dumps(
            {
                "name": "kinematics.calculate_displacement",
                "parameters": {"initial_speed": 20, "acceleration": 10, "time": 5},
            }
        ),
        "pass",
    ),
    (
        "bfcl-multiple_4",
        lambda listed: json.dumps(
            [{"name": "kinematics.calculate_displacement", "arguments": '{"initial_speed": 20'}]
        ),
        "invalid_arguments_json",
    ),
]


@pytest.mark.parametrize(("row_id", "render", "label"), PROMPTED)
def test_prompted_mode_reads_a_json_call_list_from_the_text(
    row_id: str, render: Callable[[str], str], label: str
) -> None:
    r = rows()[row_id]
    text = render(_listed(r, canonical(r)))
    s = tool_scorer({"mode": "prompted"})(Completion(text=text), sample_of(r))
    assert s.label == label, s.explanation
    assert s.meta["mode"] == "prompted"


def test_prompted_mode_tells_an_empty_list_from_no_output() -> None:
    r = rows()["bfcl-multiple_4"]
    fn = tool_scorer({"mode": "prompted"})
    assert "an empty call list" in fn(Completion(text="[]"), sample_of(r)).explanation
    assert "no call and no text" in fn(Completion(text=None), sample_of(r)).explanation


def test_prompted_mode_ignores_native_calls_and_native_mode_ignores_the_text() -> None:
    r = rows()["bfcl-multiple_4"]
    completion = Completion(text="Sure, let me compute that.", tool_calls=wire(r, canonical(r)))
    assert tool_scorer({})(completion, sample_of(r)).label == "pass"
    assert tool_scorer({"mode": "prompted"})(completion, sample_of(r)).label == "text_instead_of_call"


@pytest.mark.parametrize(
    ("text", "kind", "n"),
    [
        ('[{"name": "f", "arguments": {}}]', "calls", 1),
        ("[]", "calls", 0),
        ("no json here", "no_json", 0),
        ('[{"name": "f"', "parse_error", 0),
        ('[{"arguments": {}}]', "not_calls", 0),
        ("[1, 2]", "not_calls", 0),
        ('"just a string"', "not_calls", 0),
    ],
)
def test_parse_prompted(text: str, kind: str, n: int) -> None:
    got = parse_prompted(text)
    assert (got.kind, len(got.calls)) == (kind, n)


# --- configuration, registry, ledger ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        {"mode": "json"},
        {"numeric_tolerance": -1},
        {"numeric_tolerance": float("nan")},
        {"numeric_tolerance": True},
        {"expected_field": ""},
        {"modes": "native"},
    ],
)
def test_bad_arguments_fail_when_the_suite_loads(args: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        tool_scorer(args)


def test_numeric_tolerance_is_configurable() -> None:
    r = rows()["bfcl-parallel_133"]
    off = _set(1, "coord1", [41.89, 12.4922])(canonical(r))
    assert judge("bfcl-parallel_133", off, numeric_tolerance=1e-3).label == "pass"
    assert judge("bfcl-parallel_133", off, numeric_tolerance=0).label == "wrong_argument"


def test_the_registry_says_what_each_scorer_reads() -> None:
    specs = registered()
    assert specs["tool_calls"].reads == "completion"
    assert specs["tool_calls"].help.startswith("Function calls against BFCL-style possible answers")
    assert {specs[n].reads for n in ("exact_match", "json_valid", "refusal")} == {"text"}
    with pytest.raises(ValueError, match="reads must be one of text, completion"):
        scorer("never_registered", reads="messages")
    assert "never_registered" not in registered()


def test_completion_tool_calls_round_trip_through_the_ledger_line() -> None:
    calls = (ToolCall("math_factorial", '{"number": 5}', "call_1"), ToolCall("f", "{not json", None))
    c = Completion(text=None, finish_reason="tool_calls", tool_calls=calls)
    d = c.to_dict()
    assert d["tool_calls"] == [
        {"name": "math_factorial", "arguments": '{"number": 5}', "id": "call_1"},
        {"name": "f", "arguments": "{not json", "id": None},
    ]
    assert Completion.from_dict(json.loads(json.dumps(d))) == c
    plain = Completion(text="hi")
    assert "tool_calls" not in plain.to_dict() and Completion.from_dict(plain.to_dict()) == plain
    other = Completion.from_dict({"text": None, "tool_calls": [{"name": "f", "arguments": {"x": 1}}, "junk"]})
    assert other.tool_calls == (ToolCall("f", '{"x": 1}', None),)


# --- metrics ---------------------------------------------------------------------------------------


def test_the_accumulator_breaks_failures_down() -> None:
    scored = [judge(rid, m(canonical(rows()[rid]))) for rid, _, m, _, _ in MUTATIONS]
    scored.append(judge("bfcl-multiple_4", [], text="It is 225 m."))
    r = rows()["bfcl-multiple_4"]
    scored.append(tool_scorer({"mode": "prompted"})(Completion(text=_listed(r, canonical(r))), sample_of(r)))
    acc = ToolCallAccumulator()
    for s in scored:
        acc.add(None, s)
    m = acc.finish()
    labels = [s.label for s in scored]
    assert m["kind"] == "tool_calls" and m["n"] == len(scored)
    assert m["pass_rate"] == labels.count("pass") / len(scored)
    assert m["failure_reasons"] == {c: labels.count(c) for c in FAILURES}
    n_failed = len(scored) - labels.count("pass")
    assert m["failure_shares"]["wrong_argument"] == labels.count("wrong_argument") / n_failed
    assert m["text_instead_of_call_share"] == 1 / len(scored)
    assert m["by_mode"] == {
        "native": {"n": len(scored) - 1, "pass_rate": (labels.count("pass") - 1) / (len(scored) - 1)},
        "prompted": {"n": 1, "pass_rate": 1.0},
    }
    mismatched = sum(s.meta["n_called"] != s.meta["n_expected"] for s in scored)
    assert m["call_count_mismatch"] == mismatched
    # initial_speed: 25, "20" and 20.5 (20.0 passes); the most frequent argument of the table
    assert m["top_arguments"][0] == ["kinematics.calculate_displacement.initial_speed", 3]
    about = {
        f"{s.meta['function']}.{s.meta['argument']}"
        for s in scored
        if s.label in ("wrong_argument", "missing_argument", "unexpected_argument")
    }
    assert len(about) > 10 and len(m["top_arguments"]) == 10 and {k for k, _ in m["top_arguments"]} <= about
    assert set(CLASSES) == {"pass", *FAILURES}


def test_the_accumulator_reads_old_lines_without_meta() -> None:
    acc = ToolCallAccumulator()
    acc.add(None, Score(1.0, None, "", "pass"))
    acc.add(None, Score(0.0, None, "", "wrong_function"))
    m = acc.finish()
    assert (m["pass_rate"], m["by_mode"], m["call_counts"]["rows"]) == (
        0.5,
        {"native": {"n": 2, "pass_rate": 0.5}},
        0,
    )


# --- hostile output ----------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    row_id=st.sampled_from(
        ["bfcl-multiple_8", "bfcl-parallel_29", "bfcl-parallel_multiple_66", "bfcl-parallel_133"]
    ),
    calls=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "realestate_find_properties",
                    "waste_calculation_calculate",
                    "calculate_average",
                    "calculate_distance",
                    "",
                    "x.y",
                ]
            ),
            st.one_of(_json.map(lambda v: json.dumps(v, allow_nan=True)), st.text(max_size=30)),
        ),
        max_size=5,
    ),
    text=st.one_of(st.none(), st.text(max_size=60)),
    mode=st.sampled_from(["native", "prompted"]),
)
def test_never_raises_on_any_calls_or_text(
    row_id: str, calls: list[tuple[str, str]], text: str | None, mode: str
) -> None:
    r = rows()[row_id]
    fn = tool_scorer({"mode": mode})
    s = fn(Completion(text=text, tool_calls=tuple(ToolCall(n, a) for n, a in calls)), sample_of(r))
    assert s.label in CLASSES and s.value in (0.0, 1.0)
    json.dumps(s.to_dict())


@pytest.mark.parametrize("depth", [99, 101, 990, 5000])
def test_deeply_nested_arguments_are_a_verdict(depth: int) -> None:
    r = rows()["bfcl-multiple_8"]
    args = (
        '{"location": "SD", "propertyType": "villa", "bedrooms": 3, "budget": '
        + "[" * depth
        + "]" * depth
        + "}"
    )
    s = tool_scorer({})(
        Completion(text=None, tool_calls=(ToolCall("realestate_find_properties", args),)), sample_of(r)
    )
    assert s.label == ("wrong_argument" if depth < 100 else "invalid_arguments_json"), s.explanation
    prompted = tool_scorer({"mode": "prompted"})(Completion(text="[" * depth + "]" * depth), sample_of(r))
    assert prompted.label in ("text_instead_of_call", "invalid_arguments_json")

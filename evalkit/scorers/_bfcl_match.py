"""The comparison of a model's function calls with BFCL possible answers.

It follows BFCL's ``ast_checker.py`` (``simple_function_checker``, ``parallel_function_checker_no_order``,
``multiple_function_checker``), for calls read from JSON rather than from Python source:

* per call, in BFCL's order: the function name; every required argument present; no argument
  the possible answer does not list (or the declaration does not declare); each value of the
  declared type and among the accepted ones; every listed argument present unless ``""`` is among
  its accepted values (may be omitted);
* values: strings as BFCL's ``standardize_string`` (case, spaces and ``,./-_*^`` ignored, ``'``
  as ``"``); numbers within a tolerance, an integer accepted for a float; booleans exactly; lists
  element by element, in order; objects by the same possible-answer rules, recursively;
* calls: each expected call matched by a different model call, in any order, and as many calls
  as expected (a maximum matching, so an order in which BFCL's first-fit search fails still passes).

Where it differs from BFCL: nested objects and lists of objects are compared at any depth; a
float with no fractional part (``5.0``) is accepted where an integer is declared, as JSON Schema
does; numbers compare within a tolerance rather than exactly; the matching of parallel calls is
maximal rather than first-fit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalkit.scorers._bfcl import ExpectedCall, ToolNames
from evalkit.scorers._bfcl_values import kind, value_problem
from evalkit.scorers.json_read import MAX_DEPTH
from evalkit.types import ToolCall

__all__ = ["Call", "Problem", "Verdict", "check_call", "compare", "read_call"]


@dataclass(frozen=True)
class Call:
    """One call as the model made it, with its name mapped back to the declared one."""

    name: str
    """The declared name the call stands for."""
    called: str
    """The name as the model spelled it."""
    arguments: dict[str, Any] | None
    """The parsed arguments; ``None`` when they are not a JSON object (see ``error``)."""
    error: str | None = None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def read_call(call: ToolCall, names: ToolNames) -> Call:
    """Parse one :class:`ToolCall`'s arguments (empty text counts as ``{}``). Never raises."""
    called = call.name if isinstance(call.name, str) else str(call.name)
    name = names.to_declared(called)
    text = call.arguments if isinstance(call.arguments, str) else str(call.arguments)
    if not text.strip():
        return Call(name, called, {})
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        return Call(name, called, None, f"{exc.msg} at line {exc.lineno} column {exc.colno}")
    except (ValueError, RecursionError) as exc:
        return Call(name, called, None, str(exc) if isinstance(exc, ValueError) else "nested too deep")
    if not isinstance(value, dict):
        return Call(name, called, None, f"a JSON {kind(value)}, not an object")
    if _depth(value) > MAX_DEPTH:
        return Call(name, called, None, f"nested more than {MAX_DEPTH} levels deep")
    return Call(name, called, value)


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (iteratively: the values checked next recurse)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            break
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return deepest


# --- one call ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why one model call does not match one expected call."""

    label: str
    """``wrong_function``, ``missing_argument``, ``unexpected_argument`` or ``wrong_argument``."""
    detail: str
    argument: str | None = None
    good: int = 0
    """How many of its arguments were right: how close the call came (to pick which one to explain)."""


def _parameters(decl: Mapping[str, Any] | None) -> tuple[Mapping[str, Any] | None, list[str] | None]:
    params = decl.get("parameters") if decl is not None else None
    if not isinstance(params, Mapping):
        return None, None
    props = params.get("properties")
    required = params.get("required")
    return (
        props if isinstance(props, Mapping) else {},
        [r for r in required if isinstance(r, str)] if isinstance(required, list) else [],
    )


def check_call(
    call: Call, expected: ExpectedCall, decl: Mapping[str, Any] | None, tol: float
) -> Problem | None:
    """The first problem of ``call`` against ``expected`` in BFCL's order, or ``None`` when it matches.

    ``decl`` is the function's BFCL declaration (its ``required`` and declared types), or ``None``
    when the suite has none: then every argument without ``""`` among its accepted values is required.
    """
    if call.name != expected.name:
        return Problem("wrong_function", f"called {call.name!r}, expected {expected.name!r}")
    args = call.arguments or {}
    props, required = _parameters(decl)
    if required is None:
        required = [p for p in expected.accepted if not expected.omittable(p)]
    fname = expected.name
    problems: list[Problem] = []
    problems += [
        Problem("missing_argument", f"{fname}: the required argument {p!r} is missing", p)
        for p in required
        if p not in args
    ]
    good = 0
    for p, value in args.items():
        if props is not None and p not in props:
            problems.append(Problem("unexpected_argument", f"{fname}: {p!r} is not a declared argument", p))
        elif p not in expected.accepted:
            problems.append(
                Problem("unexpected_argument", f"{fname}: argument {p!r} was given but is not expected", p)
            )
        else:
            why = value_problem(value, expected.accepted[p], props.get(p) if props else None, tol)
            if why is None:
                good += 1
            else:
                problems.append(Problem("wrong_argument", f"{fname}: argument {p!r} {why}", p))
    problems += [
        Problem("missing_argument", f"{fname}: argument {p!r} is missing (leaving it out is not accepted)", p)
        for p in expected.accepted
        if p not in args and p not in required and not expected.omittable(p)
    ]
    if not problems:
        return None
    first = problems[0]
    return Problem(first.label, first.detail, first.argument, good)


# --- all calls ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The comparison of all calls: a class from the scorer's label set and why."""

    label: str
    explanation: str
    n_matched: int
    argument: str | None = None
    function: str | None = None


def _matching(ok: list[list[bool]], n_calls: int) -> list[int | None]:
    """A maximum matching expected -> call (Kuhn's augmenting paths; first fit when that suffices)."""
    owner: list[int | None] = [None] * n_calls

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(n_calls):
            if ok[i][j] and j not in seen:
                seen.add(j)
                prev = owner[j]
                if prev is None or augment(prev, seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(ok)):
        augment(i, set())
    of_expected: list[int | None] = [None] * len(ok)
    for j, owned_by in enumerate(owner):
        if owned_by is not None:
            of_expected[owned_by] = j
    return of_expected


def _names(items: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(repr(n) for n in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def compare(
    calls: Sequence[Call],
    expected: Sequence[ExpectedCall],
    decls: Mapping[str, Mapping[str, Any]],
    tol: float,
) -> Verdict:
    """Judge the model's calls against the expected ones (any order, equal counts)."""
    n_exp, n_call = len(expected), len(calls)
    bad = next((c for c in calls if c.arguments is None), None)
    if bad is not None:
        return Verdict(
            "invalid_arguments_json",
            f"the arguments of the call to {bad.name!r} are not a JSON object: {bad.error}",
            0,
            function=bad.name,
        )
    problems = [[check_call(c, e, decls.get(e.name), tol) for c in calls] for e in expected]
    of_expected = _matching([[p is None for p in row] for row in problems], n_call)
    n_matched = sum(j is not None for j in of_expected)
    unmatched_exp = [i for i, j in enumerate(of_expected) if j is None]
    used = {j for j in of_expected if j is not None}
    unmatched_calls = [j for j in range(n_call) if j not in used]
    any_order = " (in any order)" if n_exp > 1 else ""
    if n_matched == n_exp == n_call:
        if n_exp == 0:
            return Verdict("pass", "no call was expected and none was made", 0)
        if n_exp == 1:
            return Verdict("pass", f"called {expected[0].name!r} with accepted arguments", 1)
        return Verdict(
            "pass", f"all {n_exp} expected calls were made with accepted arguments{any_order}", n_matched
        )
    if n_matched == n_exp:
        extra = [calls[j].name for j in unmatched_calls]
        return Verdict(
            "extra_call",
            f"{n_call} calls for {n_exp} expected: the expected ones matched, the extra "
            f"{'call was' if len(extra) == 1 else 'calls were'} {_names(extra)}",
            n_matched,
            function=calls[unmatched_calls[0]].name,
        )
    if n_matched == n_call:
        missing = [expected[i].name for i in unmatched_exp]
        return Verdict(
            "missing_call",
            f"{n_call} call{'s' if n_call != 1 else ''} for {n_exp} expected: no call to {_names(missing)}"
            + (f" (the other {n_matched} matched)" if n_matched else ""),
            n_matched,
            function=missing[0],
        )
    i = unmatched_exp[0]
    exp = expected[i]
    counts = (
        "" if n_call == n_exp else f"; also {n_call} call{'s' if n_call != 1 else ''} for {n_exp} expected"
    )
    same = [j for j in unmatched_calls if calls[j].name == exp.name]
    if same:
        # every pair here has a problem: an unmatched pair that matched would extend the matching
        found = [p for p in (problems[i][j] for j in same) if p is not None]
        if found:
            p = max(found, key=lambda q: q.good)
            return Verdict(p.label, p.detail + counts, n_matched, p.argument, exp.name)
    call = calls[unmatched_calls[0]]
    unknown = " (not a declared function)" if decls and call.name not in decls else ""
    return Verdict(
        "wrong_function",
        f"called {call.name!r}{unknown} where {exp.name!r} was expected{counts}",
        n_matched,
        function=exp.name,
    )

"""BFCL's function declarations as provider tools: JSON Schema, wire names, possible answers.

The Berkeley Function Calling Leaderboard declares functions with a JSON-Schema-like
``parameters`` object in Python's type names (``dict``, ``float``, ``tuple``, ``any``) and
gives, per expected call, every accepted value of every argument (its "possible answer").
This module owns the three translations the ``tool_calls`` scorer and the request side share:

* :func:`to_json_schema` / :func:`function_parameters`: BFCL ``parameters`` -> a JSON Schema
  that OpenAI, Anthropic (through LiteLLM) and ``jsonschema`` accept;
* :class:`ToolNames`: the reversible mapping between a declared name (``math.factorial``) and
  the name sent on the wire (``math_factorial``, since OpenAI allows only ``^[a-zA-Z0-9_-]{1,64}$``);
  :func:`openai_tools` gives the tool list in OpenAI's ``tools`` format with those names;
* :func:`parse_expected`: BFCL's ``ground_truth`` (``[{name: {param: [accepted, ...]}}]``) ->
  :class:`ExpectedCall` values.

The comparison of calls against possible answers is in :mod:`evalkit.scorers._bfcl_match` (calls)
and :mod:`evalkit.scorers._bfcl_values` (argument values).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "JSON_TYPES",
    "ExpectedCall",
    "ToolNames",
    "alternatives",
    "declarations",
    "function_parameters",
    "openai_tools",
    "parse_expected",
    "to_json_schema",
    "wire_name",
]

_TYPE_MAP = {
    "dict": "object",
    "float": "number",
    "tuple": "array",
    # Python spellings seen in hand-written BFCL-style declarations
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "list": "array",
}
JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")
"""The JSON Schema type names a translated schema may carry."""
_DROPPED = ("optional",)
"""BFCL's non-standard keys: ``optional`` repeats what ``required`` already says."""
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA = ("not", "contains", "if", "then", "else")


def _json_type(value: Any, path: str) -> str | None:
    """The JSON Schema name of BFCL type ``value``; ``None`` for ``any`` (no constraint)."""
    if not isinstance(value, str):
        raise ValueError(f"{path}: type must be a string (got {value!r})")
    if value == "any":
        return None
    name = _TYPE_MAP.get(value, value)
    if name not in JSON_TYPES:
        raise ValueError(
            f"{path}: unknown type {value!r} (known: {', '.join((*JSON_TYPES, *_TYPE_MAP))}, any)"
        )
    return name


def to_json_schema(schema: Any, *, path: str = "parameters") -> dict[str, Any]:
    """Translate one BFCL (sub)schema into JSON Schema, recursively.

    ``dict`` -> ``object``, ``float`` -> ``number``, ``tuple`` -> ``array``, ``any`` -> no
    ``type`` (anything goes); also ``str``/``int``/``bool``/``list``. ``optional`` is dropped;
    an ``array`` without ``items`` gets ``"items": {}`` (OpenAI rejects an array schema without
    ``items``). ``properties``, ``items``, ``additionalProperties`` and the combinators are
    translated in turn; every other key (``description``, ``enum``, ``default``, ``required``,
    ``maximum``...) is kept as it is. Raises :class:`ValueError` naming the path on an unknown
    type or a schema that is not an object.
    """
    if not isinstance(schema, Mapping):
        raise ValueError(f"{path}: a schema must be an object (got {type(schema).__name__})")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key == "type":
            if isinstance(value, list):
                names = [n for n in (_json_type(v, f"{path}.type") for v in value) if n is not None]
                if len(names) == len(value):  # an "any" in the list lifts the constraint
                    out["type"] = names
            else:
                name = _json_type(value, f"{path}.type")
                if name is not None:
                    out["type"] = name
        elif key == "properties":
            if not isinstance(value, Mapping):
                raise ValueError(f"{path}.properties must be an object")
            out["properties"] = {
                str(k): to_json_schema(v, path=f"{path}.properties.{k}") for k, v in value.items()
            }
        elif key == "items" and isinstance(value, list):
            out["prefixItems"] = [to_json_schema(v, path=f"{path}.items[{i}]") for i, v in enumerate(value)]
        elif key in ("items", "additionalProperties", *_SUBSCHEMA) and isinstance(value, Mapping):
            out[key] = to_json_schema(value, path=f"{path}.{key}")
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            out[key] = [to_json_schema(v, path=f"{path}.{key}[{i}]") for i, v in enumerate(value)]
        else:
            out[key] = value
    types = out.get("type")
    if (types == "array" or (isinstance(types, list) and "array" in types)) and "items" not in out:
        out["items"] = {}
    return out


def function_parameters(function: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one declared function's arguments: always an ``object`` with ``properties``."""
    name = function.get("name", "?")
    params = function.get("parameters")
    if params is None:
        params = {"type": "object", "properties": {}}
    schema = to_json_schema(params, path=f"function {name}: parameters")
    if schema.get("type", "object") != "object":
        raise ValueError(f"function {name}: parameters must be of type object/dict (got {schema['type']!r})")
    schema["type"] = "object"
    schema.setdefault("properties", {})
    return schema


# --- names on the wire ------------------------------------------------------------------------

_WIRE_OK = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_WIRE_BAD = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME = 64


def wire_name(name: str) -> str:
    """The rule: every character outside ``[A-Za-z0-9_-]`` (BFCL's ``.``) becomes ``_``, cut to 64.

    This is BFCL's own rule for OpenAI-style models (``math.factorial`` -> ``math_factorial``).
    It is not reversible on its own; :class:`ToolNames` makes it so for one tool list.
    """
    return (_WIRE_BAD.sub("_", name) or "_")[:MAX_NAME]


@dataclass(frozen=True)
class ToolNames:
    """The two-way mapping between declared function names and the names sent to the provider.

    Built from the declared names in order: a name that is already valid is sent as it is; any
    other gets :func:`wire_name`, with ``_2``, ``_3``... appended when that would collide with a
    name already taken. The same list always gives the same table, so the scorer rebuilds it from
    the row's declarations and maps the called names back. A called name that is not a wire name
    (a model that echoed ``math.factorial``) maps to itself.
    """

    wire: Mapping[str, str]
    """Declared name -> wire name."""
    declared: Mapping[str, str]
    """Wire name -> declared name."""

    @classmethod
    def of(cls, names: Sequence[str]) -> ToolNames:
        """The table for ``names`` (declaration order); raises :class:`ValueError` on a duplicate or empty name."""
        wire: dict[str, str] = {}
        declared: dict[str, str] = {}
        seen: set[str] = set()
        for name in names:
            if not isinstance(name, str) or not name:
                raise ValueError(f"a function name must be a non-empty string (got {name!r})")
            if name in seen:
                raise ValueError(f"function {name!r} is declared twice")
            seen.add(name)
        taken = {n for n in names if _WIRE_OK.match(n)}
        for name in names:
            if _WIRE_OK.match(name):
                sent = name
            else:
                base = wire_name(name)
                sent, k = base, 1
                while sent in taken:
                    k += 1
                    suffix = f"_{k}"
                    sent = base[: MAX_NAME - len(suffix)] + suffix
                taken.add(sent)
            wire[name] = sent
            declared[sent] = name
        return cls(wire, declared)

    def to_wire(self, name: str) -> str:
        """The name to send for declared ``name``."""
        return self.wire.get(name, wire_name(name))

    def to_declared(self, name: str) -> str:
        """The declared name a model's called ``name`` stands for (``name`` itself when unknown)."""
        return self.declared.get(name, name)


def declarations(functions: Any) -> list[Mapping[str, Any]]:
    """The usable declarations of a row's ``functions`` (objects with a string ``name``), in order."""
    if isinstance(functions, Mapping):
        functions = [functions]
    if not isinstance(functions, list | tuple):
        return []
    out: list[Mapping[str, Any]] = []
    names: set[str] = set()
    for f in functions:
        if isinstance(f, Mapping) and isinstance(f.get("name"), str) and f["name"] and f["name"] not in names:
            names.add(f["name"])
            out.append(f)
    return out


def openai_tools(functions: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], ToolNames]:
    """BFCL declarations -> OpenAI's ``tools`` list (``{"type": "function", "function": {name,
    description, parameters}}``, wire names) and the :class:`ToolNames` to map calls back.

    Raises :class:`ValueError` (naming the function and path) when a declaration cannot be
    translated; call it when the suite loads.
    """
    for i, f in enumerate(functions):
        if not isinstance(f, Mapping):
            raise ValueError(f"functions[{i}] must be an object (got {type(f).__name__})")
    names = ToolNames.of([str(f.get("name") or "") for f in functions])
    tools: list[dict[str, Any]] = []
    for f in functions:
        fn: dict[str, Any] = {"name": names.to_wire(f["name"])}
        description = f.get("description")
        if description is not None:
            fn["description"] = str(description)
        fn["parameters"] = function_parameters(f)
        tools.append({"type": "function", "function": fn})
    return tools, names


# --- possible answers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedCall:
    """One expected call: the function and, per argument, every accepted value (``""`` = may be omitted)."""

    name: str
    accepted: Mapping[str, tuple[Any, ...]]

    def omittable(self, param: str) -> bool:
        """May ``param`` be left out (``""`` among its accepted values)?"""
        return "" in self.accepted.get(param, ())

    def canonical(self) -> dict[str, Any]:
        """One concrete passing argument object: the first accepted value of each argument that is
        not ``""`` (nested possible answers resolved the same way); omittable-only ones left out."""
        out: dict[str, Any] = {}
        for param, values in self.accepted.items():
            concrete = [v for v in values if v != ""]
            if concrete:
                out[param] = _resolve(concrete[0])
        return out


def _resolve(value: Any) -> Any:
    if isinstance(value, Mapping):
        nested = ExpectedCall("", {k: alternatives(v) for k, v in value.items()})
        return nested.canonical()
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


def alternatives(value: Any) -> tuple[Any, ...]:
    """A possible-answer entry as its tuple of alternatives (a bare value is one alternative)."""
    return tuple(value) if isinstance(value, list) else (value,)


def parse_expected(expected: Any) -> list[ExpectedCall]:
    """BFCL's ``ground_truth`` -> the expected calls, in order.

    Accepts a list of ``{function_name: {param: [accepted, ...]}}`` objects (one key each), or one
    such object. Raises :class:`ValueError` saying what is wrong with any other shape.
    """
    items = [expected] if isinstance(expected, Mapping) else expected
    if not isinstance(items, list | tuple):
        raise ValueError(
            f"expected must be a list of {{function: {{param: [values]}}}} (got {type(expected).__name__})"
        )
    calls: list[ExpectedCall] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or len(item) != 1:
            raise ValueError(f"expected[{i}] must be an object with exactly one function name")
        ((name, params),) = item.items()
        if not isinstance(name, str) or not name:
            raise ValueError(f"expected[{i}]: the function name must be a non-empty string")
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise ValueError(f"expected[{i}] {name}: the arguments must be an object of accepted-value lists")
        calls.append(ExpectedCall(name, {str(k): alternatives(v) for k, v in params.items()}))
    return calls

"""Declared tools at run time: a spec's `tool` declaration joined to what implements it.

A `DeclaredTool` is an ordinary `Tool` (name, description, `call(argument) -> ToolResult`)
built from a `ToolDeclaration` of the IR and an implementation: a Python function
(`PythonFunction`, registered with `ToolRegistry.register_function`) or a tool of an MCP
server (`runtime.tools.mcp_client`). It does the typing the declaration promises:

- the model writes the arguments as a JSON object, `<tool name="search">{"query": "llm",
  "limit": 3}</tool>`; a tool with one parameter also takes the bare value
  (`<tool name="lookup">mitochondria</tool>`); each argument is checked against its declared
  type (`runtime.values.from_json`, with a string such as "3" read as a number);
- the implementation receives JSON-safe values (text, numbers, booleans, lists, objects for
  records), as keyword arguments (Python) or as the `arguments` object (MCP);
- its result is converted to the declared result type and shown to the model as text (a
  `text`/`code` result as is, anything else as JSON).

Every failure (bad arguments, an exception in the function, an MCP error result, a result of
the wrong type) becomes an error result the model reads in its next turn; nothing raises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from compiler.ir import ToolDeclaration
from masdsl.types import Enum, List, Primitive, Record, Type
from runtime.tools.registry import (
    PythonFunction,
    Tool,
    ToolCallError,
    ToolResult,
    as_text,
    clip,
    error_text,
)
from runtime.values import JSONValue, ParsedValue, Value, from_json, parse_value, to_json


class ToolImplementation(Protocol):
    """What a declared tool runs: `invoke` takes the checked, JSON-safe arguments by name and
    returns the raw result; `where` names it in messages ("Python function f")."""

    @property
    def where(self) -> str: ...

    async def invoke(self, arguments: Mapping[str, JSONValue]) -> object: ...


@dataclass(frozen=True)
class RawTool:
    """A plain `Tool` (text in, text out) registered under a declared name: it receives the
    single argument's text (one parameter) or the arguments as a JSON object."""

    tool: Tool

    @property
    def where(self) -> str:
        return f"tool {self.tool.name!r}"

    async def invoke(self, arguments: Mapping[str, JSONValue]) -> object:
        values = list(arguments.values())
        text = values[0] if len(values) == 1 and isinstance(values[0], str) \
            else json.dumps(dict(arguments), ensure_ascii=False)
        result = await self.tool.call(text)
        if not result.ok:
            raise ToolCallError(result.text.removeprefix("error: "))
        return result.text


def type_hint(value_type: Type) -> str:
    """How a parameter's type reads in the prompt's argument template."""
    if isinstance(value_type, Enum):
        return " | ".join(json.dumps(member) for member in value_type.members)
    return value_type.render()


def describe(declaration: ToolDeclaration) -> str:
    """The line the model sees for a declared tool: its description, how to pass the
    arguments (a JSON object template) and what comes back."""
    parts = [declaration.description.strip()] if declaration.description.strip() else []
    params = declaration.parameters
    template = "{" + ", ".join(f'"{param.name}": {type_hint(param.type)}'
                               for param in params) + "}"
    if not params:
        parts.append("No arguments: write {}.")
    elif len(params) == 1:
        parts.append(f"Arguments: {template}, or just the {params[0].name} itself.")
    else:
        parts.append(f"Arguments as JSON: {template}.")
    parts.append(f"Returns {declaration.result.render()}.")
    return " ".join(parts)


def _lenient(data: JSONValue, value_type: Type) -> JSONValue:
    """Read a string where a number or boolean is expected (models often quote them)."""
    if isinstance(value_type, Primitive) and isinstance(data, str):
        if value_type.name == "number":
            try:
                number = float(data.strip())
            except ValueError:
                return data
            return int(number) if number.is_integer() and "." not in data else number
        if value_type.name == "bool" and data.strip().lower() in ("true", "false"):
            return data.strip().lower() == "true"
    if isinstance(value_type, List) and isinstance(data, list):
        return [_lenient(item, value_type.element) for item in data]
    if isinstance(value_type, Record) and isinstance(data, dict):
        fields = {field.name: field.type for field in value_type.fields}
        return {key: _lenient(item, fields[key]) if key in fields else item
                for key, item in data.items()}
    return data


def _read(data: JSONValue, value_type: Type, path: str) -> Value:
    return from_json(_lenient(data, value_type), value_type, path)


def parse_arguments(text: str, declaration: ToolDeclaration) -> dict[str, JSONValue]:
    """The checked arguments of one call, JSON-safe and in declaration order; raises
    `ToolCallError` saying exactly what is wrong."""
    params = declaration.parameters
    stripped = text.strip()
    data: object = None
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError:
            data = None
    if not isinstance(data, dict):
        if not params and not stripped:
            return {}
        if len(params) != 1:
            raise ToolCallError("give the arguments as a JSON object: " + "{" + ", ".join(
                f'"{param.name}": {type_hint(param.type)}' for param in params) + "}")
        only = params[0]
        if isinstance(only.type, Primitive) and only.type.name in ("text", "code"):
            return {only.name: stripped}
        try:
            parsed: JSONValue = json.loads(stripped)
        except json.JSONDecodeError:
            reply = parse_value(stripped, only.type)
            if not isinstance(reply, ParsedValue):
                raise ToolCallError(f"'{only.name}' must be a {only.type.render()}: "
                                    f"{reply.reason}") from None
            return {only.name: to_json(reply.value, only.type)}
        data = {only.name: parsed}
    names = [param.name for param in params]
    unknown = [key for key in data if key not in names]
    if unknown:
        raise ToolCallError(f"unknown parameter '{unknown[0]}' (parameters: "
                            f"{', '.join(names) or 'none'})")
    arguments: dict[str, JSONValue] = {}
    for param in params:
        if param.name not in data:
            raise ToolCallError(f"the parameter '{param.name}' ({param.type.render()}) is "
                                "missing")
        try:
            value = _read(data[param.name], param.type, param.name)
        except ValueError as error:
            raise ToolCallError(str(error)) from None
        arguments[param.name] = to_json(value, param.type)
    return arguments


def convert_result(raw: object, result_type: Type) -> Value:
    """The implementation's raw result as a value of the declared type; raises
    `ToolCallError` when it is not one. Text results take any value (non-strings as JSON);
    other types take JSON-like data, or a string holding JSON or a readable reply."""
    if isinstance(result_type, Primitive) and result_type.name in ("text", "code"):
        return as_text(raw)
    if isinstance(raw, tuple):
        raw = list(raw)
    if isinstance(raw, str):
        text = raw
        try:
            raw = json.loads(text)
        except json.JSONDecodeError:
            reply = parse_value(text, result_type)
            if isinstance(reply, ParsedValue):
                return reply.value
            raise ToolCallError(f"the tool returned {text[:200]!r}, which is not a "
                                f"{result_type.render()}") from None
    try:
        return _read(raw, result_type, "result")  # type: ignore[arg-type]
    except ValueError as error:
        raise ToolCallError(f"the tool's result is not a {result_type.render()}: "
                            f"{error}") from None


def render_result(value: Value, result_type: Type) -> str:
    """A converted result as the model reads it: text as is, anything else as JSON."""
    if isinstance(result_type, Primitive) and result_type.name in ("text", "code"):
        return str(value)
    return json.dumps(to_json(value, result_type), ensure_ascii=False)


@dataclass(frozen=True)
class DeclaredTool:
    """A declared tool bound to its implementation (see the module docstring)."""

    declaration: ToolDeclaration
    implementation: ToolImplementation

    @property
    def name(self) -> str:
        return self.declaration.name

    @property
    def description(self) -> str:
        return describe(self.declaration)

    async def call(self, argument: str) -> ToolResult:
        try:
            arguments = parse_arguments(argument, self.declaration)
            raw = await self.implementation.invoke(arguments)
            value = convert_result(raw, self.declaration.result)
        except Exception as error:  # the model sees the error, the run goes on
            return ToolResult(clip(error_text(error)), False)
        return ToolResult(clip(render_result(value, self.declaration.result)), True)


__all__ = ["DeclaredTool", "PythonFunction", "RawTool", "ToolCallError", "ToolImplementation",
           "convert_result", "describe", "parse_arguments", "render_result"]

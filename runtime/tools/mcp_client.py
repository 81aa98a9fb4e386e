"""Tools from MCP servers: start a server over stdio with the official `mcp` SDK, list its
tools, check them against the spec's declarations, call them during agent tool turns.

    async with connect_mcp(["python", "server.py"]) as server:
        registry = bind_tools(ir, None, [server])   # runtime.tools.binding
        ...                                          # run the executor
    # leaving the block ends the session and the server process

The server runs in its own process (its tools run there, not in ours). A declared tool is
compatible with a server's tool of the same name when every declared parameter is one of the
tool's input-schema properties with a matching JSON type, and every property the schema
requires is declared (`schema_problems`). The result of a call is the tool's structured
content when it has some (MCP SDK servers wrap non-object results as `{"result": ...}`,
which is unwrapped), else its text content; `runtime.tools.declared` converts it to the
declared type. An error result (`isError`) reaches the model as an error message.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from masdsl.types import Enum, List, Primitive, Record, Type
from runtime.tools.registry import DEFAULT_TOOL_TIMEOUT_S, ToolCallError
from runtime.values import JSONValue

STARTUP_TIMEOUT_S = 30.0
"""How long a server may take to start and answer `initialize` and `tools/list`."""


class McpError(RuntimeError):
    """An MCP server that cannot be started, initialised or listed (a clear message)."""


@dataclass(frozen=True)
class McpServerTool:
    """One tool a server lists: its name, description and JSON Schemas."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any] | None = None


@dataclass
class McpServer:
    """A connected stdio MCP server (made by `connect_mcp`)."""

    command: tuple[str, ...]
    session: Any
    tools: dict[str, McpServerTool] = field(default_factory=dict)
    call_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S

    @property
    def label(self) -> str:
        return f"MCP server '{shlex.join(self.command)}'"

    async def call(self, name: str, arguments: Mapping[str, JSONValue]) -> object:
        """Call a tool; returns its structured result or text; raises `ToolCallError` for
        an error result."""
        try:
            result = await self.session.call_tool(name, dict(arguments),
                                                  read_timeout_seconds=self.call_timeout_s)
        except Exception as error:  # a timeout, a dead server: the model reads why
            raise ToolCallError(f"{self.label} failed: {type(error).__name__}: "
                                f"{error}") from None
        texts = [item.text for item in result.content if getattr(item, "type", "") == "text"]
        if result.is_error:
            raise ToolCallError("\n".join(texts) or f"the tool '{name}' failed")
        structured = result.structured_content
        if structured is not None:
            listed = self.tools.get(name)
            wrapped = listed is not None and listed.output_schema is not None and \
                set(listed.output_schema.get("properties", {})) == {"result"}
            if wrapped and isinstance(structured, dict) and set(structured) == {"result"}:
                return structured["result"]
            return structured
        return "\n".join(texts)


@dataclass(frozen=True)
class McpTool:
    """A tool implementation (`runtime.tools.declared.ToolImplementation`) that calls one
    server tool."""

    server: McpServer
    tool_name: str

    @property
    def where(self) -> str:
        return f"{self.server.label}, tool '{self.tool_name}'"

    async def invoke(self, arguments: Mapping[str, JSONValue]) -> object:
        return await self.server.call(self.tool_name, arguments)


def parse_command(command: str | Sequence[str]) -> tuple[str, ...]:
    """A server command line as its words (`'python server.py'` or a list)."""
    words = tuple(shlex.split(command)) if isinstance(command, str) else tuple(command)
    if not words:
        raise McpError("an MCP server command is empty")
    return words


@asynccontextmanager
async def connect_mcp(command: str | Sequence[str], *, errlog: TextIO | None = None,
                      startup_timeout_s: float = STARTUP_TIMEOUT_S,
                      call_timeout_s: float = DEFAULT_TOOL_TIMEOUT_S,
                      ) -> AsyncIterator[McpServer]:
    """Start the server `command` as a subprocess, initialise an MCP session over its
    stdin/stdout and list its tools; on exit close the session and stop the process. The
    server's stderr goes to `errlog` (default: ours). Raises `McpError` when the server
    cannot be started or does not answer within `startup_timeout_s`; a tool call over
    `call_timeout_s` is an error result for the model."""
    try:
        import anyio
        from mcp.client.session import ClientSession
        from mcp.client.stdio import StdioServerParameters, stdio_client
    except ImportError:
        raise McpError("MCP servers need the `mcp` package: pip install 'masdsl[mcp]'") \
            from None

    words = parse_command(command)
    label = f"MCP server '{shlex.join(words)}'"
    params = StdioServerParameters(command=words[0], args=list(words[1:]))
    try:
        async with stdio_client(params, errlog=errlog or _stderr()) as (read, write), \
                ClientSession(read, write) as session:
            try:
                with anyio.fail_after(startup_timeout_s):
                    await session.initialize()
                    tools = await _list_tools(session)
            except TimeoutError:
                raise McpError(f"{label} did not answer within {startup_timeout_s:g} s") \
                    from None
            except McpError:
                raise
            except Exception as error:
                raise McpError(f"{label} failed to start: {type(error).__name__}: "
                               f"{error}") from None
            yield McpServer(words, session, tools, call_timeout_s)
    except OSError as error:
        raise McpError(f"cannot start {label}: {error}") from None


def _stderr() -> TextIO:
    """Our stderr for the server's, or the process's real one when `sys.stderr` was replaced
    by something without a file descriptor (a test's capture, a notebook)."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.__stderr__ or sys.stderr
    return sys.stderr


async def _list_tools(session: Any) -> dict[str, McpServerTool]:
    tools: dict[str, McpServerTool] = {}
    cursor: str | None = None
    while True:
        if cursor is None:
            listed = await session.list_tools()
        else:
            from mcp import types

            listed = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
        for tool in listed.tools:
            tools[tool.name] = McpServerTool(
                name=tool.name, description=tool.description or "",
                input_schema=dict(tool.input_schema or {}),
                output_schema=None if tool.output_schema is None else dict(tool.output_schema))
        cursor = listed.next_cursor
        if not cursor:
            return tools


_JSON_TYPES = {"text": {"string"}, "code": {"string"}, "number": {"number", "integer"},
               "bool": {"boolean"}}


def _schema_types(schema: Mapping[str, Any]) -> set[str] | None:
    """The JSON types a property schema allows, or None when it does not say plainly."""
    found = schema.get("type")
    if isinstance(found, str):
        return {found}
    if isinstance(found, list):
        return {item for item in found if isinstance(item, str)}
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        union: set[str] = set()
        for option in options:
            types = _schema_types(option) if isinstance(option, dict) else None
            if types is None:
                return None
            union |= types
        return union
    return None


def type_problem(value_type: Type, schema: Mapping[str, Any], path: str) -> str | None:
    """Why a declared type cannot be passed where `schema` is expected, or None."""
    allowed = _schema_types(schema)
    if allowed is None:
        return None
    if isinstance(value_type, Primitive):
        wanted = _JSON_TYPES[value_type.name]
    elif isinstance(value_type, Enum):
        wanted = {"string"}
    elif isinstance(value_type, List):
        wanted = {"array"}
    else:
        assert isinstance(value_type, Record)
        wanted = {"object"}
    if not wanted & allowed and not (value_type == Primitive(name="number")
                                     and "integer" in allowed):
        return (f"{path} is declared {value_type.render()} but the server expects "
                f"{' or '.join(sorted(allowed))}")
    if isinstance(value_type, List) and isinstance(schema.get("items"), dict):
        return type_problem(value_type.element, schema["items"], f"{path}[]")
    if isinstance(value_type, Record) and isinstance(schema.get("properties"), dict):
        properties = schema["properties"]
        for record_field in value_type.fields:
            if record_field.name in properties:
                problem = type_problem(record_field.type, properties[record_field.name],
                                       f"{path}.{record_field.name}")
                if problem:
                    return problem
    return None


def schema_problems(parameters: Sequence[tuple[str, Type]],
                    input_schema: Mapping[str, Any]) -> list[str]:
    """Why a declaration's parameters do not fit a server tool's input schema (empty when
    they do): a declared parameter the tool lacks or types differently, or a required
    property the declaration lacks."""
    properties = input_schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = input_schema.get("required")
    required = [name for name in required if isinstance(name, str)] \
        if isinstance(required, list) else []
    open_ended = input_schema.get("additionalProperties") not in (None, False) \
        and not properties
    problems: list[str] = []
    declared = {name for name, _ in parameters}
    for name, value_type in parameters:
        if name not in properties:
            if not open_ended:
                known = ", ".join(sorted(properties)) or "none"
                problems.append(f"the server's tool has no parameter '{name}' (it has: "
                                f"{known})")
            continue
        problem = type_problem(value_type, properties[name], f"parameter '{name}'")
        if problem:
            problems.append(problem)
    for name in required:
        if name not in declared:
            problems.append(f"the server's tool requires the parameter '{name}', which the "
                            "declaration lacks")
    return problems

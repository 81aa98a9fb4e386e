"""Binding a compiled spec's tools before a run: every tool an agent lists must have an
implementation, or the run stops with `ToolBindingError` before any LLM call.

`bind_tools(ir, registry, servers)` returns the registry the executor uses:
- the builtins (`python`, `calculator`) the agents list, from `registry` when it holds them,
  else the defaults (`default_tools`, with the sandbox policy unchanged);
- each declared tool (`tool name(...) -> T` in the spec) as a `DeclaredTool`, implemented by
  the entry of that name in `registry` (a function from `register_function`, a plain `Tool`,
  or an already bound `DeclaredTool`) or, failing that, by the tool of that name on one of
  the connected MCP `servers` (the first that lists it), whose input schema must fit the
  declaration (`mcp_client.schema_problems`);
- every other entry of `registry` unchanged.

A declared tool that no agent lists needs no implementation (the checker warns, MAS124).
"""

from __future__ import annotations

from collections.abc import Sequence

from compiler.ir import IR, ToolDeclaration
from runtime.tools.declared import DeclaredTool, RawTool, ToolImplementation
from runtime.tools.mcp_client import McpServer, McpTool, schema_problems
from runtime.tools.registry import PythonFunction, ToolCallError, ToolRegistry, default_tools

BUILTIN_TOOLS = ("calculator", "python")


class ToolBindingError(ValueError):
    """Declared tools without a fitting implementation; the message lists each problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("cannot bind the spec's tools:\n" +
                         "\n".join(f"  - {problem}" for problem in problems))


def _implementation(declaration: ToolDeclaration, registry: ToolRegistry | None,
                    servers: Sequence[McpServer],
                    problems: list[str]) -> ToolImplementation | None:
    name = declaration.name
    names = [param.name for param in declaration.parameters]
    if registry is not None and name in registry:
        entry = registry.get(name)
        if isinstance(entry, DeclaredTool):
            return entry.implementation
        if isinstance(entry, PythonFunction):
            mismatch = entry.accepts(names)
            if mismatch:
                problems.append(f"tool '{name}': {entry.where} cannot take the declared "
                                f"parameters ({', '.join(names) or 'none'}): {mismatch}")
                return None
            return entry
        return RawTool(entry)
    for server in servers:
        listed = server.tools.get(name)
        if listed is None:
            continue
        found = schema_problems([(param.name, param.type) for param in declaration.parameters],
                                listed.input_schema)
        if found:
            problems.extend(f"tool '{name}' ({server.label}): {problem}" for problem in found)
            return None
        return McpTool(server, name)
    where = "; ".join(f"{server.label} lists: {', '.join(sorted(server.tools)) or 'nothing'}"
                      for server in servers)
    problems.append(f"tool '{name}' is declared and used but nothing implements it: register "
                    "a function (ToolRegistry.register_function) or start an MCP server that "
                    "provides it (masc run --mcp 'COMMAND')" + (f" ({where})" if where else ""))
    return None


class _NotBound:
    """The implementation of a declared tool shown but not run (`masc explain`)."""

    where = "nothing (not bound)"

    async def invoke(self, arguments: object) -> object:
        raise ToolCallError("this tool is not bound in this session")


def tools_for_display(ir: IR, registry: ToolRegistry | None = None) -> ToolRegistry:
    """The tools as the model would see them, without binding anything: `registry` (default:
    the builtins) plus every declared tool. For showing prompts (`masc explain`), not for
    running: a declared tool here answers every call with an error."""
    shown = ToolRegistry()
    for _, tool in (registry or default_tools()).items():
        if ir.tool(tool.name) is None:
            shown.register(tool)
    for declaration in ir.tools:
        shown.register(DeclaredTool(declaration, _NotBound()))
    return shown


def bind_tools(ir: IR, registry: ToolRegistry | None = None,
               servers: Sequence[McpServer] = ()) -> ToolRegistry:
    """The tools a run of `ir` uses (see the module docstring); raises `ToolBindingError`."""
    if not ir.tools:  # nothing declared: the registry as given, as before tools existed
        return registry if registry is not None else default_tools()
    used = set(ir.used_tools())
    bound = ToolRegistry()
    declared = {tool.name for tool in ir.tools}
    if registry is not None:
        for name, tool in registry.items():
            if name not in declared:
                bound.register(tool)
    builtins = [name for name in BUILTIN_TOOLS if name in used and name not in bound]
    if builtins:
        defaults = default_tools()
        for name in builtins:
            bound.register(defaults.get(name))
    problems: list[str] = []
    for declaration in ir.tools:
        if declaration.name not in used:
            if registry is not None and declaration.name in registry:
                bound.register(registry.get(declaration.name))
            continue
        implementation = _implementation(declaration, registry, servers, problems)
        if implementation is not None:
            bound.register(DeclaredTool(declaration, implementation))
    unknown = sorted(used - declared - set(BUILTIN_TOOLS) - set(bound.names()))
    problems += [f"tool '{name}' is not registered" for name in unknown]
    if problems:
        raise ToolBindingError(problems)
    return bound

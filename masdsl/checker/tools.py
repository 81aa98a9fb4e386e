"""Declared tools: `tool name(param: T, ...) -> R { description "..." }`.

Rules: a tool is declared once (MAS120) and does not take a builtin tool's name (MAS121);
its parameters are named once each (MAS122); its name is at most `MAX_TOOL_NAME` characters
(MAS123, the MCP limit); its body sets `description` once (MAS126) and should set it
(MAS125: the model then sees only the signature); every parameter and result type resolves
(MAS205, from `typenames`). After the agents are checked, a declared tool no agent lists is
MAS124, and a tool an agent lists twice is MAS127.

Tools have their own namespace: they are named only in `tool` declarations and in agents'
`tools [...]`, so a tool may share its name with an agent or a value.
"""

from __future__ import annotations

from masdsl import ast
from masdsl.checker.analysis import ToolSignature
from masdsl.checker.context import Context, head_span
from masdsl.checker.typenames import TypeResolver
from masdsl.construct import trusted
from masdsl.types import TEXT, RecordField

MAX_TOOL_NAME = 128
"""The longest tool name MCP allows (its names use letters, digits, `_`, `-` and `.`)."""

_signature = trusted(ToolSignature)
_record_field = trusted(RecordField)


def declare_tools(ctx: Context, program: ast.Program, resolver: TypeResolver) -> None:
    """Check every `tool` declaration; record the valid ones in `ctx.declared_tools` and make
    their names known to agents' `tools [...]` (`ctx.tools`)."""
    builtins = ctx.tools
    declared: dict[str, ast.ToolDecl] = {}
    for item in program.tools:
        name = item.name.value
        if name in builtins:
            ctx.report("MAS121", item.name.span, f"the tool '{name}' is a builtin and cannot "
                       "be declared", help="rename the tool; builtin tools: "
                       + ", ".join(sorted(builtins)))
            continue
        if name in declared:
            first = declared[name].name.span
            ctx.report("MAS120", item.name.span, f"the tool '{name}' is already declared "
                       f"(line {first.line})", help="remove or rename one of the two")
            continue
        declared[name] = item
        if len(name) > MAX_TOOL_NAME:
            ctx.report("MAS123", item.name.span, f"the tool name is {len(name)} characters "
                       f"long; MCP allows at most {MAX_TOOL_NAME}", help="shorten the name")
        signature = _check_tool(ctx, item, resolver)
        ctx.tools = ctx.tools | {name}
        if signature is not None:
            ctx.declared_tools[name] = signature


def _check_tool(ctx: Context, item: ast.ToolDecl, resolver: TypeResolver,
                ) -> ToolSignature | None:
    """One declaration's signature (None when a type does not resolve, after reporting)."""
    complete = True
    params: list[RecordField] = []
    seen: set[str] = set()
    for param in item.params:
        param_type = resolver.resolve(param.type)
        if param.name.value in seen:
            ctx.report("MAS122", param.name.span, f"the parameter '{param.name.value}' of "
                       f"tool '{item.name.value}' is declared twice",
                       help="rename or remove one of them")
            continue
        seen.add(param.name.value)
        if param_type is None:
            complete = False
        else:
            params.append(_record_field(name=param.name.value, type=param_type))
    result = TEXT if item.result is None else resolver.resolve(item.result)
    description: str | None = None
    for field in item.fields:
        if description is not None:
            ctx.report("MAS126", head_span(field.span, len(field.key)),
                       f"'{field.key}' is set twice for tool '{item.name.value}'",
                       help="keep one of the two lines")
            continue
        description = field.value.value
    if description is None or not description.strip():
        ctx.report("MAS125", item.name.span, f"the tool '{item.name.value}' has no "
                   "description; the model sees only its signature",
                   help='say what it does: description "..."')
    if result is None or not complete:
        return None
    return _signature(name=item.name.value, params=tuple(params), result=result,
                      description=(description or "").strip())


def check_tool_use(ctx: Context, program: ast.Program) -> None:
    """MAS127 for a tool an agent lists twice; MAS124 for a declared tool no agent lists.
    Agent templates and their instances list tools too: an instance's own `tools` replace
    its template's, and either may be what uses a tool."""
    used: set[str] = set()
    agents: list[ast.AgentDecl | ast.AgentTemplate | ast.AgentInstance] = [
        *program.agents, *program.templates, *program.instances]
    for agent in agents:
        for field in agent.fields:
            if field.key != "tools" or not isinstance(field.value, tuple):
                continue
            listed: set[str] = set()
            for tool in field.value:
                if tool.value in listed:
                    ctx.report("MAS127", tool.span, f"the tool '{tool.value}' is listed twice "
                               f"for agent '{agent.name.value}'", help="list it once")
                listed.add(tool.value)
            used |= listed
    reported: set[str] = set()
    for item in program.tools:
        name = item.name.value
        if name not in used and name not in reported and name in ctx.declared_tools:
            reported.add(name)
            ctx.report("MAS124", item.name.span, f"the tool '{name}' is never used",
                       help="list it in an agent's tools [...] or remove it")

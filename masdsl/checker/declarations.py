"""Declarations: one namespace for inputs, outputs, types and agents; agent settings.

Rules: each name is declared once (MAS102) and is not reserved (MAS114); a spec has exactly
one flow (MAS307 none, MAS102 a second one); at most `max_agents` agents (MAS404). Per
agent: a role (MAS111), each field once (MAS110), known tools (MAS103), a known model when
the caller lists engines (MAS112), integer settings (MAS207) inside their ranges (MAS401),
a `default` that is a constant of the output type (MAS201, MAS106 for an enum member).
"""

from __future__ import annotations

from masdsl import ast
from masdsl.checker.analysis import (
    BUILTIN_MODELS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_MODEL,
    DEFAULT_RETRIES,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOOL_TURNS_WITH_TOOLS,
    DEFAULT_TOP_P,
    AgentSettings,
    Constant,
)
from masdsl.checker.context import RESERVED, Context, head_span, is_integer, render, suggest
from masdsl.checker.templates import check_template, instantiate
from masdsl.checker.tools import declare_tools
from masdsl.checker.typenames import TypeResolver
from masdsl.construct import trusted
from masdsl.types import TEXT, Enum, List, Record, Type

_agent_settings = trusted(AgentSettings)
_KIND_WORDS = {"input": "an input", "output": "an output", "type_decl": "a type",
               "agent": "an agent", "agent_template": "an agent template",
               "agent_instance": "an agent"}


def check_reserved(ctx: Context, name: ast.Name, what: str) -> None:
    """MAS114 when `name` is a reserved word."""
    if name.value in RESERVED:
        ctx.report("MAS114", name.span, f"'{name.value}' is reserved and cannot name {what}",
                   help="pick another name; builtin patterns, type names, `end`, `true` and "
                        "`false` are reserved")


def declare(ctx: Context, program: ast.Program) -> dict[str, str]:
    """Register every declaration of `program` in `ctx`; returns name -> kind word."""
    kinds: dict[str, str] = {}
    aliases: dict[str, ast.TypeDecl] = {}
    flows = 0
    agent_count = 0
    for item in program.items:
        if isinstance(item, ast.ToolDecl):
            continue  # tools have their own namespace (`checker.tools`)
        if isinstance(item, ast.Flow):
            flows += 1
            if flows > 1:
                ctx.report("MAS102", head_span(item.span, 4), "a spec has exactly one flow",
                           help="merge the statements into the first `flow { ... }`")
            continue
        name = item.name
        what = _KIND_WORDS[item.kind]
        check_reserved(ctx, name, what)
        if name.value in kinds:
            ctx.report("MAS102", name.span, f"'{name.value}' is already declared as "
                       f"{kinds[name.value]}", help="inputs, outputs, types, agents and values "
                       "share one namespace: rename one of them")
            continue
        kinds[name.value] = what
        if isinstance(item, ast.TypeDecl):
            aliases[name.value] = item
        elif isinstance(item, ast.AgentTemplate):
            ctx.templates[name.value] = item
        elif isinstance(item, ast.AgentDecl | ast.AgentInstance):
            agent_count += 1
            if agent_count == ctx.limits.max_agents + 1:
                ctx.report("MAS404", name.span, f"more than {ctx.limits.max_agents} agents",
                           help="reuse agents or raise max_agents")
    if flows == 0:
        ctx.report("MAS307", program.name.span, f"the spec '{program.name.value}' has no flow",
                   help="add `flow { ... }` binding every output")
    resolver = TypeResolver(ctx, aliases)
    for alias in aliases:
        resolver.resolve_alias(alias)
    declare_tools(ctx, program, resolver)
    seen: set[str] = set()
    for item in program.items:
        if isinstance(item, ast.Flow | ast.ToolDecl) or item.name.value in seen:
            continue
        seen.add(item.name.value)
        if isinstance(item, ast.InputDecl):
            ctx.inputs[item.name.value] = resolver.resolve(item.type)
        elif isinstance(item, ast.OutputDecl):
            ctx.outputs[item.name.value] = resolver.resolve(item.type)
        elif isinstance(item, ast.AgentDecl):
            ctx.agents[item.name.value] = agent_settings(ctx, item, resolver)
        elif isinstance(item, ast.AgentTemplate):
            check_template(ctx, item)
            # The template's own fields are checked once here, not again per instance.
            agent_settings(ctx, ast.AgentDecl(span=item.span, name=item.name,
                                              output=item.output, fields=item.fields),
                           resolver)
        elif isinstance(item, ast.AgentInstance):
            declared = instantiate(ctx, item, ctx.templates)
            # An instance of an unknown template is still an agent (of unknown output), so
            # its calls do not cascade into "undefined name" diagnostics.
            ctx.agents[item.name.value] = _agent_settings(
                name=item.name.value, output=None, role="") if declared is None \
                else _instance_settings(ctx, item, declared, resolver)
    return kinds


def _instance_settings(ctx: Context, instance: ast.AgentInstance, declared: ast.AgentDecl,
                       resolver: TypeResolver) -> AgentSettings:
    """An instance's settings; of what checking them finds, only what lies in the
    instance itself is reported (the template's fields were checked with the template)."""
    before = len(ctx.diagnostics)
    settings = agent_settings(ctx, declared, resolver)
    ctx.diagnostics[before:] = [
        found for found in ctx.diagnostics[before:]
        if instance.span.start <= found.span.start < instance.span.end]
    return settings


def agent_settings(ctx: Context, agent: ast.AgentDecl, resolver: TypeResolver) -> AgentSettings:
    """Check one agent's fields and return its settings with defaults applied."""
    output: Type | None = TEXT if agent.output is None else resolver.resolve(agent.output)
    values: dict[str, object] = {}
    for item in agent.fields:
        if item.key in values:
            ctx.report("MAS110", head_span(item.span, len(item.key)),
                       f"'{item.key}' is set twice for agent '{agent.name.value}'",
                       help="keep one of the two lines")
            continue
        values[item.key] = default_value(ctx, item, output) if item.key == "default" \
            else _field_value(ctx, item)
    role = values.get("role")
    if "role" not in values:
        ctx.report("MAS111", agent.name.span, f"agent '{agent.name.value}' has no role",
                   help='add a system prompt: role "You are ..."')
    tools = values.get("tools")
    tool_names = tools if isinstance(tools, tuple) else ()
    default_turns = DEFAULT_TOOL_TURNS_WITH_TOOLS if tool_names else 0
    default_turns = min(default_turns, ctx.limits.max_tool_turns)

    def number(key: str, default: float) -> float:
        found = values.get(key)
        return found if isinstance(found, int | float) else default

    return _agent_settings(
        name=agent.name.value, output=output, role=role if isinstance(role, str) else "",
        tools=tool_names, max_tool_turns=int(number("max_tool_turns", default_turns)),
        temperature=float(number("temperature", DEFAULT_TEMPERATURE)),
        top_p=float(number("top_p", DEFAULT_TOP_P)),
        max_tokens=int(number("max_tokens", DEFAULT_MAX_TOKENS)),
        retries=int(number("retries", DEFAULT_RETRIES)),
        model=str(values.get("model", DEFAULT_MODEL)), default=values.get("default"),
        memory=int(number("memory", 0)))


def default_value(ctx: Context, item: ast.AgentField, output: Type | None) -> Constant | None:
    """The constant of a `default` field, checked against the agent's output type: a
    string for text/code, a number, true/false, a member of the enum (MAS106), or a list
    of such (MAS201 for anything else). None when it is invalid, after reporting."""
    value = item.value
    if output is None or not isinstance(value, ast.Node):
        return None
    return _constant(ctx, value, output)


def _constant(ctx: Context, value: ast.Node, expected: Type) -> Constant | None:
    if isinstance(expected, List):
        if not isinstance(value, ast.ListExpr):
            _mismatch(ctx, value, expected)
            return None
        items = [_constant(ctx, item, expected.element) for item in value.items]
        scalars = [item for item in items if item is not None and not isinstance(item, tuple)]
        return tuple(scalars) if len(scalars) == len(items) else None
    if isinstance(expected, Enum):
        if not isinstance(value, ast.Ref):
            _mismatch(ctx, value, expected)
            return None
        if value.name not in expected.members:
            ctx.report("MAS106", value.span, f"'{value.name}' is not a member of "
                       f"{render(expected)}", help=suggest(value.name, expected.members)
                       or "members: " + ", ".join(expected.members))
            return None
        return value.name
    if isinstance(expected, Record):  # a record has no constant syntax
        _mismatch(ctx, value, expected)
        return None
    wanted = {"text": ast.StringLit, "code": ast.StringLit, "number": ast.NumberLit,
              "bool": ast.BoolLit}[expected.name]
    if isinstance(value, ast.StringLit | ast.NumberLit | ast.BoolLit) \
            and isinstance(value, wanted):
        return value.value
    _mismatch(ctx, value, expected)
    return None


def _mismatch(ctx: Context, value: ast.Node, expected: Type) -> None:
    ctx.report("MAS201", value.span, f"the default must be a {render(expected)} constant",
               help="the default is the agent's output when no reply parses: "
                    f"write a constant of its output type {render(expected)}")


# key -> (needs an integer, limits field of the minimum, of the maximum, minimum exclusive)
_RANGES: dict[str, tuple[bool, str, str, bool]] = {
    "max_tool_turns": (True, "min_tool_turns", "max_tool_turns", False),
    "temperature": (False, "min_temperature", "max_temperature", False),
    "top_p": (False, "top_p_exclusive_min", "max_top_p", True),
    "max_tokens": (True, "min_max_tokens", "max_max_tokens", False),
    "retries": (True, "min_retries", "max_retries", False),
}


def _field_value(ctx: Context, item: ast.AgentField) -> object:
    """The checked value of one agent field (None when it is invalid, after reporting)."""
    value = item.value
    if item.key == "role":
        return value.value if isinstance(value, ast.StringLit) else None
    if item.key == "tools":
        names = value if isinstance(value, tuple) else ()
        found: list[str] = []
        for tool in names:
            if tool.value not in ctx.tools:
                hint = suggest(tool.value, ctx.tools)
                ctx.report("MAS103", tool.span, f"unknown tool '{tool.value}'",
                           help=hint or "known tools: " + ", ".join(sorted(ctx.tools))
                           + f"; or declare it: tool {tool.value}(...) -> T "
                           '{ description "..." }')
            elif tool.value not in found:
                found.append(tool.value)
        return tuple(found)
    if item.key == "model":
        model = value.value if isinstance(value, ast.Name) else DEFAULT_MODEL
        if ctx.engines is not None and model not in BUILTIN_MODELS \
                and model not in ctx.engines:
            known = sorted({*BUILTIN_MODELS, *ctx.engines})
            hint = suggest(model, known)
            ctx.report("MAS112", value.span if isinstance(value, ast.Name) else item.span,
                       f"unknown model '{model}'",
                       help=hint or "known models: " + ", ".join(known))
        return model
    if not isinstance(value, ast.NumberLit):
        return None
    if item.key == "memory":
        return _memory(ctx, value)
    integer, low_field, high_field, exclusive = _RANGES[item.key]
    if integer and not is_integer(value):
        ctx.report("MAS207", value.span, f"{item.key} must be a whole number, not {value.value}",
                   help=f"write a whole number, e.g. {item.key} 3")
        return None
    low, high = getattr(ctx.limits, low_field), getattr(ctx.limits, high_field)
    below = value.value <= low if exclusive else value.value < low
    if below or value.value > high:
        bound = f"({low}, {high}]" if exclusive else f"{low}..{high}"
        ctx.report("MAS401", value.span, f"{item.key} {value.value} is outside {bound}",
                   help=f"choose {item.key} in {bound}")
        return None
    return value.value


def _memory(ctx: Context, value: ast.NumberLit) -> int | None:
    """`memory N`: how many earlier calls each call sees, a whole number in 1..max_loop."""
    if not is_integer(value):
        ctx.report("MAS207", value.span, f"memory must be a whole number, not {value.value}",
                   help="write a whole number of earlier calls, e.g. memory 2")
        return None
    if not 1 <= value.value <= ctx.limits.max_loop:
        ctx.report("MAS401", value.span, f"memory {value.value} is outside "
                   f"1..{ctx.limits.max_loop}", help=f"choose memory in 1..{ctx.limits.max_loop} "
                   "(the limit max_loop)")
        return None
    return int(value.value)

"""Resolution of declarations for lowering: type expressions to `masdsl.types` values and
agent declarations to `AgentSettings` with every default filled in.

Lowering runs only on programs the front end accepted, so this module does not re-check the
spec; it raises `LoweringError` (a `MasError`) with a located diagnostic if it meets
something the front end should have rejected, never a bare exception.
"""

from __future__ import annotations

from compiler.ir import AgentSettings
from masdsl import ast
from masdsl.diagnostics import MasError, diagnostic
from masdsl.spans import Span
from masdsl.types import BOOL, TEXT, Enum, List, Primitive, Type, primitive

DEFAULT_MAX_TOKENS = 512
DEFAULT_RETRIES = 2
DEFAULT_TOOL_TURNS_WITH_TOOLS = 3
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 1.0
DEFAULT_MODEL = "executor"


class LoweringError(MasError):
    """A spec that reached lowering although the front end should have rejected it."""


def fail(program: ast.Program, span: Span, code: str, message: str) -> LoweringError:
    return LoweringError([diagnostic(code, span, message, path=program.path)])


def resolve_type(program: ast.Program, expr: ast.NamedType | ast.ListType | ast.EnumType,
                 seen: frozenset[str] = frozenset()) -> Type:
    """The type a type expression denotes, following `type` aliases."""
    if isinstance(expr, ast.ListType):
        return List(element=resolve_type(program, expr.element, seen))
    if isinstance(expr, ast.EnumType):
        return Enum(members=tuple(member.value for member in expr.members))
    name = expr.name.value
    found = primitive(name)
    if found is not None:
        return found
    for declaration in program.type_decls:
        if declaration.name.value == name and name not in seen:
            resolved = resolve_type(program, declaration.type, seen | {name})
            if isinstance(resolved, Enum):
                return Enum(members=resolved.members, name=name)
            return resolved
    raise fail(program, expr.span, "MAS205", f"unknown type '{name}'")


def resolve_agent(program: ast.Program, agent: ast.AgentDecl) -> AgentSettings:
    """The agent's settings with the language's defaults resolved (see SEMANTICS.md)."""

    def value(key: str) -> object:
        field = agent.field(key)
        if field is None:
            return None
        raw = field.value
        if isinstance(raw, ast.StringLit | ast.NumberLit):
            return raw.value
        if isinstance(raw, ast.Name):
            return raw.value
        return tuple(name.value for name in raw)

    role = value("role")
    tools = value("tools") or ()
    assert isinstance(tools, tuple)
    turns = value("max_tool_turns")
    output = resolve_type(program, agent.output) if agent.output is not None else TEXT
    return AgentSettings(
        name=agent.name.value,
        role=str(role) if role is not None else "",
        output=output,
        tools=tuple(str(tool) for tool in tools),
        max_tool_turns=int(turns) if isinstance(turns, int | float) else (
            DEFAULT_TOOL_TURNS_WITH_TOOLS if tools else 0),
        temperature=float(_number(value("temperature"), DEFAULT_TEMPERATURE)),
        top_p=float(_number(value("top_p"), DEFAULT_TOP_P)),
        max_tokens=int(_number(value("max_tokens"), DEFAULT_MAX_TOKENS)),
        retries=int(_number(value("retries"), DEFAULT_RETRIES)),
        model=str(value("model") or DEFAULT_MODEL),
    )


def _number(raw: object, default: float) -> float:
    return raw if isinstance(raw, int | float) and not isinstance(raw, bool) else default


def domain_of(subject: Type) -> tuple[str, ...]:
    """The values a condition subject can take, as strings: enum members or true/false."""
    if isinstance(subject, Enum):
        return subject.members
    if subject == BOOL:
        return ("true", "false")
    return ()


def condition_values(program: ast.Program, condition: ast.Cond, subject: Type) -> tuple[str, ...]:
    """The subject values for which `condition` holds, in domain order."""
    domain = domain_of(subject)
    if not domain or (isinstance(subject, Primitive) and condition.op in ("eq", "ne")
                      and condition.value is not None
                      and condition.value.value not in domain):
        raise fail(program, condition.span, "MAS202",
                   f"'{condition.subject.value}' cannot be tested by this condition")
    if condition.op == "is":
        return ("true",)
    if condition.op == "not":
        return ("false",)
    assert condition.value is not None
    member = condition.value.value
    if member not in domain:
        raise fail(program, condition.value.span, "MAS106", f"'{member}' is not a member")
    if condition.op == "eq":
        return (member,)
    return tuple(value for value in domain if value != member)

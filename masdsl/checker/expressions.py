"""Expressions: references, literals, lists, and what a name may stand for where.

A `Scope` says which names are bound at a point of the flow: definitely (`bound`), on some
paths only (`maybe`: using one is MAS107), or bound later in the enclosing loop body or graph
(`forward`: a loop-carried value or another graph node, legal to reference and possibly
absent at run time). Value positions reject agents (MAS204); agent positions reject values
(MAS203); unknown names are MAS101. Calls are typed in `calls.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from masdsl import ast
from masdsl.checker.analysis import AgentSettings
from masdsl.checker.context import Context, list_of, render, same_type, suggest
from masdsl.spans import Span
from masdsl.types import BOOL, NUMBER, TEXT, Record, Type


@dataclass
class Scope:
    """Names bound at one point of the flow (see the module docstring)."""

    bound: dict[str, Type | None]
    maybe: set[str] = field(default_factory=set)
    forward: dict[str, ast.Expr] = field(default_factory=dict)
    rounds: dict[str, int] = field(default_factory=dict)
    """Names bound by a loop or graph that has finished, with its bound (`rounds(x)`)."""

    def copy(self) -> Scope:
        return Scope(dict(self.bound), set(self.maybe), dict(self.forward), dict(self.rounds))


def _undefined(ctx: Context, scope: Scope, name: str, span: Span) -> None:
    hint = None
    if ctx.suggestions_left > 0 and not ctx.muted:
        # A bounded number of hints per spec: each one scans every name in scope.
        ctx.suggestions_left -= 1
        hint = suggest(name, [*scope.bound, *ctx.agents, *ctx.flow_names])
    ctx.report("MAS101", span, f"undefined name '{name}'",
               help=hint or f"bind it first: {name} = ...")


def resolve_value(ctx: Context, scope: Scope, name: str, span: Span,
                  depth: int) -> Type | None:
    """The type of the value called `name` here, reporting why it cannot be used."""
    if name in scope.bound:
        if name in ctx.inputs:
            ctx.used_inputs.add(name)
        return scope.bound[name]
    if name in scope.forward:
        return _forward_type(ctx, scope, name, depth)
    if name in scope.maybe:
        ctx.report("MAS107", span, f"'{name}' is bound only on some paths before this use",
                   help="bind it in every branch (an `if` needs an `else`), or before the "
                        "branches")
        return ctx.values.get(name)
    if name in ctx.agents:
        ctx.used_agents.add(name)
        ctx.report("MAS204", span, f"the agent '{name}' is used as a value",
                   help=f"call it to get its output: {name}(...)")
        return None
    if name in ctx.outputs or name in ctx.flow_names:
        ctx.report("MAS107", span, f"'{name}' is used before it is assigned",
                   help=f"assign '{name}' earlier in the flow")
        return None
    if name in ctx.type_aliases:
        ctx.report("MAS101", span, f"'{name}' is a type, not a value",
                   help="only inputs and bound values can be used here")
        return None
    _undefined(ctx, scope, name, span)
    return None


def _forward_type(ctx: Context, scope: Scope, name: str, depth: int) -> Type | None:
    """A forward reference's type, inferred silently from its binding expression.

    Memoised per scope: graph nodes and loop bodies that refer to each other would otherwise
    be re-inferred along every path of references, exponential in their number. A reference
    met again while it is being inferred (a cycle) is unknown (None), which reports nothing."""
    if name in ctx.values:
        return ctx.values[name]
    if name in ctx.inferring:
        return None
    memo = ctx.forward_memo.setdefault(id(scope.forward), (scope.forward, {}))[1]
    if name in memo:
        return memo[name]
    ctx.inferring.add(name)
    ctx.muted += 1
    try:
        inferred = value_type(ctx, scope, scope.forward[name], depth)
    finally:
        ctx.muted -= 1
        ctx.inferring.discard(name)
    memo[name] = inferred
    return inferred


def field_type(ctx: Context, scope: Scope, access: ast.FieldAccess,
               depth: int) -> Type | None:
    """The type of `subject.field`: the subject is a record (MAS208) with that field
    (MAS117)."""
    name = access.subject.value
    subject = resolve_value(ctx, scope, name, access.subject.span, depth)
    if subject is None:
        return None
    if not isinstance(subject, Record):
        ctx.report("MAS208", access.subject.span, f"'{name}' is {render(subject)}, not a "
                   "record", help="only a record has fields: give the agent an output such "
                                  "as -> { verdict: Verdict, critique: text }")
        return None
    found = subject.field(access.field.value)
    if found is None:
        names = [field.name for field in subject.fields]
        ctx.report("MAS117", access.field.span, f"{render(subject)} has no field "
                   f"'{access.field.value}'", help=suggest(access.field.value, names)
                   or "its fields: " + ", ".join(names))
    return found


def value_type(ctx: Context, scope: Scope, expr: ast.Expr, depth: int) -> Type | None:
    """Type a data expression (a value, never an agent), recording it for the compiler."""
    if isinstance(expr, ast.Ref):
        return ctx.record(expr, "ref", resolve_value(ctx, scope, expr.name, expr.span, depth))
    if isinstance(expr, ast.FieldAccess):
        return ctx.record(expr, "field", field_type(ctx, scope, expr, depth))
    if isinstance(expr, ast.StringLit):
        return ctx.record(expr, "string", TEXT)
    if isinstance(expr, ast.BoolLit):
        return ctx.record(expr, "bool", BOOL)
    if isinstance(expr, ast.NumberLit):
        return ctx.record(expr, "number", NUMBER)
    if isinstance(expr, ast.ListExpr):
        return ctx.record(expr, "list", _list_type(ctx, scope, expr, depth + 1))
    if isinstance(expr, ast.Index):
        from masdsl.checker.lists import index_type  # lists.py builds on this module

        return ctx.record(expr, "index", index_type(ctx, scope, expr, depth))
    from masdsl.checker.calls import call_type  # calls.py builds on this module

    return call_type(ctx, scope, expr, depth + 1)


def _list_type(ctx: Context, scope: Scope, expr: ast.ListExpr, depth: int) -> Type | None:
    if ctx.too_deep(depth, expr.span, head=True):
        return None
    if not expr.items:
        ctx.report("MAS201", expr.span, "an empty list has no element type",
                   help="a list value needs at least one element")
        return None
    element: Type | None = None
    unknown = False
    for item in expr.items:
        item_type = value_type(ctx, scope, item, depth)
        if item_type is None:
            unknown = True
        elif element is None:
            element = item_type
        elif not same_type(element, item_type):
            ctx.report("MAS201", item.span, f"list elements must share one type: this is "
                       f"{render(item_type)}, the first is {render(element)}",
                       help="a list holds values of one type")
            unknown = True
    if unknown or element is None:
        return None
    if not ctx.muted:
        ctx.static_lengths[(expr.span.start, expr.span.end, "list")] = len(expr.items)
    return list_of(element)


def agent_ref(ctx: Context, scope: Scope, expr: ast.Expr, role: str) -> AgentSettings | None:
    """The agent an expression names where an agent is required (MAS203 otherwise)."""
    if isinstance(expr, ast.Ref):
        name = expr.name
        if name in ctx.agents:
            ctx.used_agents.add(name)
            return ctx.agents[name]
        if name in ctx.templates:
            ctx.used_agents.add(name)
            report_template(ctx, name, expr.span)
            return None
        known = (name in scope.bound or name in ctx.flow_names or name in ctx.outputs
                 or name in ctx.type_aliases or name in scope.forward)
        if not known:
            ctx.report("MAS101", expr.span, f"undefined agent '{name}'",
                       help=suggest(name, ctx.agents) or f"declare it: agent {name} "
                                                         '{ role "..." }')
            return None
        ctx.report("MAS203", expr.span, f"{role} expects an agent; '{name}' is a value",
                   help="name an agent declared with `agent`")
        return None
    ctx.report("MAS203", expr.span, f"{role} expects an agent name here",
               help="name an agent declared with `agent`")
    return None


def report_template(ctx: Context, name: str, span: Span) -> None:
    """MAS145: an agent template named where an agent is needed."""
    ctx.report("MAS145", span, f"'{name}' is an agent template, not an agent",
               help=f'declare an agent from it: agent my_{name} = {name}(param: "...")')


def data_input_type(ctx: Context, scope: Scope, expr: ast.Expr, depth: int,
                    missing: str | None = None, before: str = "") -> Type | None:
    """The type of a builtin's data input, typed once already (with its diagnostics) as a
    data argument of the call: typed again without a second report. With `missing` (what the
    first iteration would lack, e.g. "item to append"), a name the enclosing loop binds only
    later is MAS107."""
    if missing is not None and isinstance(expr, ast.Ref) and expr.name in scope.forward \
            and expr.name not in scope.bound:
        ctx.report("MAS107", expr.span, f"'{expr.name}' is bound later in the loop: the "
                   f"first iteration has no {missing}", help=f"bind it before the {before}")
    ctx.muted += 1
    try:
        return value_type(ctx, scope, expr, depth)
    finally:
        ctx.muted -= 1


def static_length(ctx: Context, expr: ast.Expr) -> int | None:
    """The length of a list-valued expression when it is known before running."""
    if isinstance(expr, ast.Ref):
        return ctx.lengths.get(expr.name)
    return ctx.static_lengths.get((expr.span.start, expr.span.end, expr.kind))

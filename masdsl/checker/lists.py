"""Lists: indexing `xs[k]`, `head`, `rest`, `len`, and the bounded `map` of an agent.

Typing rules:
- `xs[k]`: `xs` is a list (MAS206); `k` is an integer literal (negative counts from the
  end) or a bound number (MAS231). With a literal and a statically known length (the most
  items the list can have: a `[...]` literal, an ensemble, a map, or a name bound to one),
  `k` must lie in `-length..length-1` (MAS230). The result is the element type; at run time
  an index past the actual end (an ensemble member whose reply never parsed) or a number
  that is not whole is absent, handled as any absent value.
- `head(xs)`: the element type (absent when empty); `rest(xs)`: `list[T]` (static length
  one less); `len(xs)`: `number`. One list argument each (MAS206, MAS207).
- `map(A, xs, max: N, inputs...)`: one call of `A` per item, `list[T_A]`. The bound is the
  static length of `xs` or `max` (MAS130 when neither is known; MAS131 when the static
  length exceeds `max`), at most `max_fanout` (MAS403). `xs` must have a value when the map
  runs (MAS107 for a name bound later in a loop).
"""

from __future__ import annotations

from masdsl import ast
from masdsl.checker.context import Context, is_integer, list_of, render, same_type
from masdsl.checker.expressions import (
    Scope,
    agent_ref,
    data_input_type,
    resolve_value,
    static_length,
    value_type,
)
from masdsl.types import NUMBER, List, Type

MAP_BOUND = "map_bound"
"""The kind under which a `map` call's bound is recorded in `Analysis.static_lengths`
(`(span.start, span.end, MAP_BOUND)`): how many calls lowering unrolls."""


def index_type(ctx: Context, scope: Scope, expr: ast.Index, depth: int) -> Type | None:
    """The type of `xs[k]` (see the module docstring)."""
    name = expr.subject.value
    subject = resolve_value(ctx, scope, name, expr.subject.span, depth)
    position = expr.position
    if isinstance(position, ast.Ref):
        position_type = value_type(ctx, scope, position, depth)
        if position_type is not None and not same_type(position_type, NUMBER):
            ctx.report("MAS231", position.span, f"an index is a number; '{position.name}' is "
                       f"{render(position_type)}", help="index with a whole number: xs[0], "
                                                        "xs[-1], or a bound number xs[k]")
    elif not is_integer(position):
        ctx.report("MAS231", position.span, f"an index is a whole number, not "
                   f"{position.value}", help="write e.g. xs[0] (first) or xs[-1] (last)")
    if subject is None:
        return None
    if not isinstance(subject, List):
        ctx.report("MAS206", expr.subject.span, f"only a list can be indexed; '{name}' is "
                   f"{render(subject)}", help="index a list, e.g. the result of ensemble(...)")
        return None
    length = ctx.lengths.get(name) if name in scope.bound else None
    if isinstance(position, ast.NumberLit) and is_integer(position) and length is not None:
        assert isinstance(position.value, int)
        if not -length <= position.value < length:
            ctx.report("MAS230", position.span, f"index {position.value} is out of range: "
                       f"'{name}' has at most {length} items",
                       help=f"index from 0 to {length - 1}, or from -1 to -{length}")
    return subject.element


def _one_list(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
              depth: int) -> List | None:
    """The list argument of `head`, `rest` and `len`: exactly one (MAS207), a list
    (MAS206)."""
    name = call.callee.value
    for extra in [arg.value for arg in call.args if arg.keyword is None][1:]:
        ctx.report("MAS207", extra.span, f"{name} takes one list",
                   help=f"write {name}(xs)")
    subject_type = value_type(ctx, scope, subject, depth)
    if subject_type is None:
        return None
    if not isinstance(subject_type, List):
        ctx.report("MAS206", subject.span, f"{name} needs a list; this is "
                   f"{render(subject_type)}", help=f"write {name}(xs) for a list xs")
        return None
    return subject_type


def check_head(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
               keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`head(xs)`: the first item."""
    found = _one_list(ctx, scope, call, subject, depth)
    return None if found is None else found.element


def check_rest(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
               keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`rest(xs)`: every item but the first (static length one less)."""
    found = _one_list(ctx, scope, call, subject, depth)
    length = static_length(ctx, subject)
    if found is not None and length is not None and not ctx.muted:
        ctx.static_lengths[(call.span.start, call.span.end, "call")] = max(0, length - 1)
    return found


def check_len(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
              keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`len(xs)`: a number."""
    found = _one_list(ctx, scope, call, subject, depth)
    return None if found is None else NUMBER


def check_map(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
              keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`map(A, xs, max: N, inputs...)` (see the module docstring)."""
    from masdsl.checker.calls import builtin_integer  # calls.py dispatches to this module

    agent = agent_ref(ctx, scope, subject, "map")
    positional = [arg.value for arg in call.args if arg.keyword is None]
    if len(positional) < 2:
        ctx.report("MAS109", call.callee.span, "map needs the list to map over",
                   help="write map(agent, xs), one call of the agent per item of xs")
        return None
    items = positional[1]
    items_type = data_input_type(ctx, scope, items, depth, "list to map", "map")
    if items_type is not None and not isinstance(items_type, List):
        ctx.report("MAS206", items.span, f"map needs a list; this is {render(items_type)}",
                   help="map over a list, e.g. an input of type list[text]")
    maximum = builtin_integer(ctx, "map", keywords.get("max"))
    length = static_length(ctx, items)
    if length is None and "max" not in keywords:
        ctx.report("MAS130", call.callee.span, "the length of the list is not known "
                   "statically: say how many items to map at most",
                   help="add max: N, e.g. map(solver, xs, max: 5)")
    if length is not None and maximum is not None and length > maximum:
        ctx.report("MAS131", items.span, f"the list has up to {length} items, more than "
                   f"max: {maximum}", help=f"raise max to {length}, or remove it: the list's "
                                           "length bounds the map")
    bound = length if length is not None else maximum
    if bound is not None and bound > ctx.limits.max_fanout and maximum is None:
        ctx.report("MAS403", items.span, f"the map fans out to {bound} calls; the limit is "
                   f"{ctx.limits.max_fanout}", help="map over a shorter list")
        bound = None
    if bound is not None and not ctx.muted:
        ctx.static_lengths[(call.span.start, call.span.end, MAP_BOUND)] = bound
        ctx.static_lengths[(call.span.start, call.span.end, "call")] = bound
    if agent is None or agent.output is None:
        return None
    return list_of(agent.output)

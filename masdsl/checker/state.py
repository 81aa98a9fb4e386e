"""Typing rules of the state builtins `reply(x)` and `rounds(x)` (registered in
`calls.PATTERN_CHECKS`).

- `reply(x)`: one data value (MAS109 none, MAS207 more); `text`, or `list[text]` when `x`
  is a list (one reply per item).
- `rounds(x)`: a bare name (MAS207) bound by a loop or graph that has finished at this
  point of the flow (MAS140); `list[T]` for `x: T`, at most the loop's `max` (the graph's
  `max_steps`) long.
"""

from __future__ import annotations

from masdsl import ast
from masdsl.checker.context import Context, list_of
from masdsl.checker.expressions import Scope, value_type
from masdsl.types import TEXT, List, Type


def _extra_values(ctx: Context, call: ast.Call, name: str) -> None:
    for extra in [arg.value for arg in call.args if arg.keyword is None][1:]:
        ctx.report("MAS207", extra.span, f"{name} takes one value",
                   help=f"write {name}(x); call it again for another value")


def check_reply(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
                keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`reply(x)`: text (list[text] for a list), the full reply behind `x`."""
    _extra_values(ctx, call, "reply")
    subject_type = value_type(ctx, scope, subject, depth)
    if subject_type is None:
        return None
    return list_of(TEXT) if isinstance(subject_type, List) else TEXT


def check_rounds(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
                 keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`rounds(x)`: list[T], x's value after each iteration (or graph step) of the loop or
    graph that bound it last."""
    _extra_values(ctx, call, "rounds")
    if not isinstance(subject, ast.Ref):
        value_type(ctx, scope, subject, depth)
        ctx.report("MAS207", subject.span, "rounds takes the name of a value",
                   help="write rounds(x) for a name x bound in a loop or graph")
        return None
    subject_type = value_type(ctx, scope, subject, depth)
    if subject_type is None:
        return None
    if subject.name not in scope.rounds:
        ctx.report("MAS140", subject.span, f"'{subject.name}' is not bound by a loop or "
                   "graph that has finished here",
                   help="use rounds(x) after the loop or graph that binds x (not inside it, "
                        "and not after an if/match arm that ran the loop)")
        return None
    # At most one value per round: the bound of a `map` over it, of its indexes.
    ctx.static_lengths[(call.span.start, call.span.end, "call")] = scope.rounds[subject.name]
    return list_of(subject_type)

"""Lowering of the state builtins, one function each:

- `reply(x)` -> a `reply` node on x's value (the runtime follows the value back to the
  agent reply it came from);
- `rounds(x)` -> a `rounds` node over x's value after each iteration of the loop (or each
  step of the graph) that bound x last.

Which values `rounds(x)` reads is recorded in the lowering environment by `record_rounds`
when a loop or graph has been lowered, under keys `x#0`, `x#1`, ... that no spec name can
take, so the record follows the same scoping as the names themselves (an `if` arm's record
does not leak out of it) and costs no IR node unless `rounds(x)` is used.
"""

from __future__ import annotations

from compiler.builder import Builder, Context, Value, out
from compiler.ir import OUT, Port, ReplyNode, RoundsNode
from compiler.lower_expr import Env, lower_expr
from compiler.resolve import fail
from masdsl import ast
from masdsl.types import TEXT, List

ROUND_MARK = "#"
"""Separates a name from its round index in the environment (`x#0`); no name contains it."""


def is_round_key(key: str) -> bool:
    """True for an environment key that records a round, not a name."""
    return ROUND_MARK in key


def record_rounds(env: Env, name: str, values: list[Value]) -> None:
    """Record `values` (one per iteration or step, in order) as the rounds of `name`,
    replacing the rounds of any earlier loop or graph."""
    prefix = f"{name}{ROUND_MARK}"
    for key in [key for key in env if key.startswith(prefix)]:
        del env[key]
    for index, value in enumerate(values):
        env[f"{prefix}{index}"] = value


def reply_value(builder: Builder, context: Context, node: ast.Node, label: str,
                value: Value) -> Value:
    """A `reply` node on `value`: text, or list[text] for a list."""
    result = List(element=TEXT) if isinstance(value.type, List) else TEXT
    port = Port(name="value", type=value.type)
    node_id = builder.new_id(f"reply_{label}")
    builder.add(ReplyNode(id=node_id, span=node.span, label=f"reply({label})",
                          scope=context.scope, inputs=(port,),
                          outputs=(Port(name=OUT, type=result),)), context, [(port, value)])
    return out(node_id, result)


def _subject(builder: Builder, call: ast.Call) -> ast.Expr:
    positional = [arg.value for arg in call.args if arg.keyword is None]
    if not positional:
        raise fail(builder.program, call.span, "MAS109",
                   f"'{call.callee.value}' needs a value")
    return positional[0]


def lower_reply(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value | None:
    """`reply(x)`: absent statically when x is (a loop's name not bound yet)."""
    subject = _subject(builder, call)
    label = subject.name if isinstance(subject, ast.Ref) else subject.kind
    value = lower_expr(builder, context, env, subject, label)
    if value is None:
        return None
    return reply_value(builder, context, call, label, value)


def lower_rounds(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value:
    """`rounds(x)`: a `rounds` node over the recorded values of x, in round order."""
    subject = _subject(builder, call)
    if not isinstance(subject, ast.Ref) or f"{subject.name}{ROUND_MARK}0" not in env:
        raise fail(builder.program, subject.span, "MAS140",
                   "rounds needs a name bound by a finished loop or graph")
    values: list[Value] = []
    while f"{subject.name}{ROUND_MARK}{len(values)}" in env:
        values.append(env[f"{subject.name}{ROUND_MARK}{len(values)}"])
    element = values[0].type
    ports = [Port(name=f"round_{index}", type=element) for index in range(len(values))]
    node_id = builder.new_id(f"rounds_{subject.name}")
    builder.add(RoundsNode(id=node_id, span=call.span, label=f"rounds({subject.name})",
                           scope=context.scope, inputs=tuple(ports),
                           outputs=(Port(name=OUT, type=List(element=element)),)),
                context, list(zip(ports, values, strict=True)))
    return out(node_id, List(element=element))

"""Lowering of the list constructs and the deterministic steps, none of which calls a model:

- `xs[k]`, `head(xs)` -> a `list_op` node (`index`); `rest(xs)`, `len(xs)` -> a `list_op`
  node (`rest`, `len`);
- `map(A, xs, max: N, inputs...)` -> per item i below the bound: a `list_op` (`index` i), a
  `condition` `len(xs) > i` with a `branch` (origin `map_item`) guarding an
  `ensemble_member` agent node that sees the item as `item` and the inputs; then a
  `collect` of the results in item order (a missing item's call never runs);
- `run_tests(code, tests)` -> a `run_tests` node.
"""

from __future__ import annotations

from typing import Literal

from compiler.builder import Builder, Context, Guard, Value, out
from compiler.ir import (
    OUT,
    BranchNode,
    ConditionNode,
    ListOpNode,
    Port,
    RunTestsNode,
    Term,
)
from compiler.lower_expr import (
    Env,
    add_agent_node,
    agent_settings,
    collect_list,
    lower_data_args,
    lower_expr,
)
from compiler.resolve import fail
from masdsl import ast
from masdsl.checker.lists import MAP_BOUND
from masdsl.types import BOOL, NUMBER, TEST_RESULT, List


def _list_op(builder: Builder, context: Context, node: ast.Node, items: Value,
             op: Literal["index", "rest", "len"], *, position: int | None = None,
             position_value: Value | None = None, label: str) -> Value:
    """One `list_op` node over `items` (see `compiler.ir.ListOpNode`)."""
    if not isinstance(items.type, List):
        raise fail(builder.program, node.span, "MAS206", "a list operation needs a list")
    result = {"index": items.type.element, "rest": items.type, "len": NUMBER}[op]
    inputs = [(Port(name="list", type=items.type), items)]
    if position_value is not None:
        inputs.append((Port(name="position", type=NUMBER), position_value))
    node_id = builder.new_id(f"{op}_{label}".replace("[-", "[from_end_"))
    builder.add(ListOpNode(id=node_id, span=node.span, label=label, scope=context.scope,
                           op=op, position=position,
                           inputs=tuple(port for port, _ in inputs),
                           outputs=(Port(name=OUT, type=result),)), context, inputs)
    return out(node_id, result)


def lower_index(builder: Builder, context: Context, env: Env, expr: ast.Index) -> Value | None:
    """`xs[k]`: the item at a literal position, or at the number bound to `k`; absent when
    `xs` is a loop's name not bound yet."""
    items = lower_expr(builder, context, env,
                       ast.Ref(span=expr.subject.span, name=expr.subject.value))
    if items is None:
        return None
    name = expr.subject.value
    if isinstance(expr.position, ast.NumberLit):
        if not isinstance(expr.position.value, int):
            raise fail(builder.program, expr.position.span, "MAS231", "an index is a whole "
                       "number")
        return _list_op(builder, context, expr, items, "index", position=expr.position.value,
                        label=f"{name}[{expr.position.value}]")
    position = lower_expr(builder, context, env, expr.position)
    if position is None:
        return None
    return _list_op(builder, context, expr, items, "index", position_value=position,
                    label=f"{name}[{expr.position.name}]")


def _subject(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value | None:
    """The list a list builtin reads; None when it has no value at this point, which the
    checker allows only inside a graph, in a step before the node that binds it has run:
    then the builtin has no value either (like `node b = a` there)."""
    positional = [arg.value for arg in call.args if arg.keyword is None]
    if not positional:
        raise fail(builder.program, call.span, "MAS109", f"{call.callee.value} needs a list")
    return lower_expr(builder, context, env, positional[0], "list")


def lower_head(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value | None:
    """`head(xs)`: `xs[0]`."""
    items = _subject(builder, context, env, call)
    return None if items is None else _list_op(builder, context, call, items, "index",
                                               position=0, label="head")


def lower_rest(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value | None:
    """`rest(xs)`: every item but the first."""
    items = _subject(builder, context, env, call)
    return None if items is None else _list_op(builder, context, call, items, "rest",
                                               label="rest")


def lower_len(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value | None:
    """`len(xs)`: the number of items."""
    items = _subject(builder, context, env, call)
    return None if items is None else _list_op(builder, context, call, items, "len",
                                               label="len")


def lower_map(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value | None:
    """`map(A, xs, max: N, inputs...)`: one guarded call of A per possible item (see the
    module docstring); the bound is the checker's (`MAP_BOUND`)."""
    from compiler.lower_builtins import data_args

    positional = [arg for arg in call.args if arg.keyword is None]
    if len(positional) < 2 or not isinstance(positional[0].value, ast.Ref):
        raise fail(builder.program, call.span, "MAS109", "map needs an agent and a list")
    agent = agent_settings(builder, positional[0].value.name, positional[0].value.span)
    bound = builder.lengths.get((call.span.start, call.span.end, MAP_BOUND))
    if bound is None:
        raise fail(builder.program, call.span, "MAS130", "the map has no bound")
    items = lower_expr(builder, context, env, positional[1].value, "items")
    if items is None:  # a graph node not run yet at this step (see `_subject`)
        return None
    if not isinstance(items.type, List):
        raise fail(builder.program, positional[1].span, "MAS206", "map needs a list")
    inputs = lower_data_args(builder, context, env, data_args(call, 2))
    list_port = Port(name="in_list", type=items.type)
    results: list[Value] = []
    for index in range(bound):
        test = Term(op=">", operands=(Term(op="len", port=list_port.name),
                                      Term(op="const", value=index)))
        condition_id = builder.new_id(f"map_has_item_{index}")
        builder.add(ConditionNode(id=condition_id, span=call.span,
                                  label=f"len > {index}?", scope=context.scope, test=test,
                                  inputs=(list_port,), outputs=(Port(name=OUT, type=BOOL),)),
                    context, [(list_port, items)])
        branch_id = builder.new_id(f"branch_map_item_{index}")
        subject_port = Port(name="subject", type=BOOL)
        builder.add(BranchNode(id=branch_id, span=call.span, label=f"item {index}?",
                               scope=context.scope, origin="map_item",
                               domain=("true", "false"), inputs=(subject_port,),
                               outputs=(Port(name=OUT, type=BOOL),)),
                    context, [(subject_port, out(condition_id, BOOL))])
        branch = out(branch_id, BOOL)
        guarded = Context(guard=Guard(branch, ("true",)), scope=context.scope,
                          pending=context.pending)
        item = _list_op(builder, guarded, call, items, "index", position=index,
                        label=f"item {index}")
        results.append(add_agent_node(builder, guarded, "ensemble_member", agent, call.span,
                                      [("item", item), *inputs], member=index,
                                      label=f"{agent.name}[item {index}]"))
    return collect_list(builder, context, call.span, "map", results)


def lower_run_tests(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value | None:
    """`run_tests(code, tests)`: a `run_tests` node (no LLM call)."""
    positional = [arg.value for arg in call.args if arg.keyword is None]
    if len(positional) < 2:
        raise fail(builder.program, call.span, "MAS109", "run_tests needs code and tests")
    code = lower_expr(builder, context, env, positional[0], "code")
    tests = lower_expr(builder, context, env, positional[1], "tests")
    if code is None or tests is None:  # a graph node not run yet at this step
        return None
    inputs = [(Port(name="code", type=code.type), code),
              (Port(name="tests", type=tests.type), tests)]
    node_id = builder.new_id("run_tests")
    builder.add(RunTestsNode(id=node_id, span=call.span, label="run_tests",
                             scope=context.scope, inputs=tuple(port for port, _ in inputs),
                             outputs=(Port(name=OUT, type=TEST_RESULT),)), context, inputs)
    return out(node_id, TEST_RESULT)

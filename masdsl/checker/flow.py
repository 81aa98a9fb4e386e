"""The flow: statements, control flow, scoping and definite assignment.

Rules: a value keeps one type (MAS201 when rebound with another, or when an output gets a
type other than its declared one); inputs are never rebound (MAS308); agents and types are
never assigned (MAS102). Conditions are checked in `conditions.py`. A
`match` covers its enum (MAS303) naming each member once (MAS304). A name bound in some
branches only is MAS107 when used after them. Loops and graphs are bounded (MAS402) by
integers (MAS207); a graph has one valid start (MAS306), edges between its nodes (MAS101),
and warns about nodes unreachable from the start (MAS305).
"""

from __future__ import annotations

from masdsl import ast
from masdsl.checker.conditions import check_cond
from masdsl.checker.context import Context, head_span, is_integer, render, same_type, suggest
from masdsl.checker.declarations import check_reserved
from masdsl.checker.expressions import Scope, resolve_value, static_length, value_type
from masdsl.types import Enum, Type


def collect_bound_names(block: ast.Block, into: dict[str, ast.Expr]) -> None:
    """Every name a block binds (assignments and graph nodes), nested blocks included."""
    for binding in ast.bindings(block):
        name = binding.target if isinstance(binding, ast.Assign) else binding.name
        into.setdefault(name.value, binding.value)


def check_block(ctx: Context, scope: Scope, block: ast.Block, depth: int) -> None:
    """Check the statements of a block in order, updating `scope` in place."""
    if ctx.too_deep(depth, block.span, head=True):
        # Treat what the unchecked block binds as bound, so the cut causes no MAS107/MAS302.
        unchecked: dict[str, ast.Expr] = {}
        collect_bound_names(block, unchecked)
        for name in unchecked:
            scope.bound.setdefault(name, ctx.values.get(name))
            scope.maybe.discard(name)
        return
    for statement in block.statements:
        ctx.count_node(statement.span, head=True)
        if isinstance(statement, ast.Assign):
            bound_type = value_type(ctx, scope, statement.value, depth)
            bind(ctx, scope, statement.target, bound_type, statement.value)
        elif isinstance(statement, ast.If):
            _if(ctx, scope, statement, depth)
        elif isinstance(statement, ast.Match):
            _match(ctx, scope, statement, depth)
        elif isinstance(statement, ast.Loop):
            _loop(ctx, scope, statement, depth)
        else:
            _graph(ctx, scope, statement, depth)


def bind(ctx: Context, scope: Scope, target: ast.Name, bound_type: Type | None,
         value: ast.Expr) -> None:
    """Bind `target` to a value of `bound_type` (None: unknown) in `scope`."""
    name = target.value
    check_reserved(ctx, target, "a value")
    if name in ctx.inputs:
        ctx.report("MAS308", target.span, f"the input '{name}' cannot be rebound",
                   help=f"bind the new value to another name, e.g. {name}_2 = ...")
        return
    if name in ctx.agents or name in ctx.type_aliases:
        what = "an agent" if name in ctx.agents else "a type"
        ctx.report("MAS102", target.span, f"'{name}' is already declared as {what}",
                   help="values, agents and types share one namespace: pick another name")
        return
    expected = ctx.outputs.get(name) if name in ctx.outputs else ctx.values.get(name)
    if expected is not None and bound_type is not None \
            and not same_type(expected, bound_type):
        why = "declared" if name in ctx.outputs else "first bound as"
        ctx.report("MAS201", value.span, f"'{name}' is {why} {render(expected)} but this is "
                   f"{render(bound_type)}",
                   help=f"produce a {render(expected)} here, or change its declaration"
                   if name in ctx.outputs else "a name keeps one type; use a new name")
        bound_type = expected
    if name not in ctx.values or ctx.values[name] is None:
        ctx.values[name] = expected if expected is not None else bound_type
    length = static_length(ctx, value)
    if name in ctx.lengths and ctx.lengths[name] != length:
        ctx.lengths[name] = None
    elif name not in ctx.lengths:
        ctx.lengths[name] = length if name not in scope.bound else None
    scope.bound[name] = ctx.values[name]
    scope.maybe.discard(name)


def _merge(scope: Scope, arms: list[Scope]) -> None:
    """After branches: bound where every arm binds; `maybe` where only some do."""
    before = set(scope.bound)
    every = set.intersection(*(set(arm.bound) for arm in arms))
    some = set.union(*(set(arm.bound) | arm.maybe for arm in arms))
    for name in every - before:
        scope.bound[name] = next(arm.bound[name] for arm in arms)
    scope.maybe |= (some - every) - before


def _if(ctx: Context, scope: Scope, statement: ast.If, depth: int) -> None:
    check_cond(ctx, scope, statement.condition, depth)
    then = scope.copy()
    check_block(ctx, then, statement.then, depth + 1)
    otherwise = scope.copy()
    if statement.otherwise is not None:
        check_block(ctx, otherwise, statement.otherwise, depth + 1)
    _merge(scope, [then, otherwise])


def _match(ctx: Context, scope: Scope, statement: ast.Match, depth: int) -> None:
    subject = statement.subject
    subject_type = resolve_value(ctx, scope, subject.value, subject.span, depth)
    members: tuple[str, ...] | None = None
    if isinstance(subject_type, Enum):
        members = subject_type.members
    elif subject_type is not None:
        ctx.report("MAS202", subject.span, f"match needs an enum; '{subject.value}' is "
                   f"{render(subject_type)}", help="use `if` for a bool, or classify the "
                   "value with an agent whose output is an enum")
    seen: set[str] = set()
    arms: list[Scope] = []
    for case in statement.cases:
        for member in case.members:
            if member.value in seen:
                ctx.report("MAS304", member.span, f"'{member.value}' is already handled by "
                           "an earlier case", help="name each member in one case only")
            elif members is not None and member.value not in members:
                ctx.report("MAS106", member.span, f"'{member.value}' is not a member of "
                           f"{render(subject_type)}", help=suggest(member.value, members)
                           or "members: " + ", ".join(members))
            seen.add(member.value)
        arm = scope.copy()
        check_block(ctx, arm, case.body, depth + 1)
        arms.append(arm)
    if statement.otherwise is not None:
        arm = scope.copy()
        check_block(ctx, arm, statement.otherwise, depth + 1)
        arms.append(arm)
    elif members is not None:
        missing = [member for member in members if member not in seen]
        if missing:
            ctx.report("MAS303", subject.span, "the match does not handle "
                       + ", ".join(missing), help="add a case for each, or an `else { ... }`")
    if arms:
        _merge(scope, arms)


def _bound(ctx: Context, number: ast.NumberLit, what: str, limit_name: str) -> None:
    """A loop or graph bound: an integer (MAS207) in 1..limit (MAS402)."""
    limit = getattr(ctx.limits, limit_name)
    if not is_integer(number):
        ctx.report("MAS207", number.span, f"{what} must be a whole number, not {number.value}",
                   help=f"write e.g. {what} 3")
    elif not 1 <= number.value <= limit:
        ctx.report("MAS402", number.span, f"{what} {number.value} is outside 1..{limit}",
                   help=f"the limit {limit_name} is {limit}")


def _loop(ctx: Context, scope: Scope, statement: ast.Loop, depth: int) -> None:
    _bound(ctx, statement.max_iterations, "loop max", "max_loop")
    forward: dict[str, ast.Expr] = {}
    collect_bound_names(statement.body, forward)
    body = scope.copy()
    for name, expr in forward.items():
        if name not in body.bound:
            body.forward[name] = expr
    check_block(ctx, body, statement.body, depth + 1)
    if statement.until is not None:
        check_cond(ctx, body, statement.until, depth)
    # The body runs at least once: what it binds on every path is bound after the loop.
    for name, bound_type in body.bound.items():
        scope.bound.setdefault(name, bound_type)
    scope.maybe |= body.maybe - set(scope.bound)
    # `rounds(x)` after the loop: x's value after each iteration (at most `max` of them).
    for name in forward:
        if name in scope.bound:
            scope.rounds[name] = _rounds_bound(statement.max_iterations)


def _graph(ctx: Context, scope: Scope, statement: ast.Graph, depth: int) -> None:
    _bound(ctx, statement.max_steps, "max_steps", "max_steps")
    nodes: dict[str, ast.GraphNode] = {}
    starts: list[ast.GraphStart] = []
    edges: list[ast.GraphEdge] = []
    for item in statement.items:
        if isinstance(item, ast.GraphNode):
            if item.name.value in nodes:
                ctx.report("MAS102", item.name.span, f"the node '{item.name.value}' is "
                           "declared twice", help="give each node its own name")
            else:
                nodes[item.name.value] = item
        elif isinstance(item, ast.GraphStart):
            starts.append(item)
        else:
            edges.append(item)
    inner = scope.copy()
    for name, node in nodes.items():
        if name not in inner.bound:
            inner.forward[name] = node.value
    for node in nodes.values():
        ctx.count_node(node.name.span)
        bind(ctx, inner, node.name, value_type(ctx, inner, node.value, depth + 1), node.value)
    start = _start(ctx, statement, starts, nodes)
    successors: dict[str, list[str]] = {name: [] for name in nodes}
    for edge in edges:
        for end_name, role in ((edge.source, "source"), (edge.target, "target")):
            if end_name.value == "end" and role == "source":
                ctx.report("MAS306", end_name.span, "no edge can leave `end`",
                           help="`end` is the graph's exit")
            elif end_name.value not in nodes and end_name.value != "end":
                ctx.report("MAS101", end_name.span, f"the graph has no node "
                           f"'{end_name.value}'", help=suggest(end_name.value, nodes)
                           or "edges connect nodes of this graph or `end`")
        if edge.when is not None:
            check_cond(ctx, inner, edge.when, depth)
        if edge.source.value in successors:
            successors[edge.source.value].append(edge.target.value)
    if start is not None:
        _reachability(ctx, nodes, successors, start)
    for name in nodes:
        scope.bound[name] = inner.bound.get(name, ctx.values.get(name))
        scope.maybe.discard(name)
        scope.rounds[name] = _rounds_bound(statement.max_steps)


def _rounds_bound(number: ast.NumberLit) -> int:
    """The most rounds a loop or graph bound allows (1 when the bound is itself invalid)."""
    return int(number.value) if is_integer(number) and number.value >= 1 else 1


def _start(ctx: Context, statement: ast.Graph, starts: list[ast.GraphStart],
           nodes: dict[str, ast.GraphNode]) -> str | None:
    if not starts:
        ctx.report("MAS306", head_span(statement.span, 5), "the graph has no `start`",
                   help="add `start <node>` naming the first node to run")
        return None
    for extra in starts[1:]:
        ctx.report("MAS306", head_span(extra.span, 5), "the graph has more than one `start`",
                   help="keep exactly one `start <node>`")
    first = starts[0].node
    if first.value not in nodes:
        ctx.report("MAS306", first.span, f"`start` names '{first.value}', which is not a "
                   "node of this graph", help=suggest(first.value, nodes)
                   or "declare it: node <name> = ...")
        return None
    return first.value


def _reachability(ctx: Context, nodes: dict[str, ast.GraphNode],
                  successors: dict[str, list[str]], start: str) -> None:
    reached = {start}
    stack = [start]
    while stack:
        for target in successors.get(stack.pop(), ()):
            if target in nodes and target not in reached:
                reached.add(target)
                stack.append(target)
    for name, node in nodes.items():
        if name not in reached:
            ctx.report("MAS305", node.name.span, f"the node '{name}' is unreachable from "
                       f"the start '{start}'", help="add an edge to it or remove it")

"""Lowering of statements, one function per construct: assignment, `if`, `match` (the
router), `loop` (unrolled to its bound) and `graph` (unrolled to `max_steps`).

Branch arms, later loop iterations and graph steps are *guarded*: every node lowered inside
them has one guard edge from the `branch` / `graph_step` node that decides whether it runs.
After a construct, a name that can have several values is joined by a `merge` node (last
present value, in program order).
"""

from __future__ import annotations

from compiler.builder import Builder, Context, Guard, Value, out
from compiler.ir import OUT, BranchConstruct, BranchNode, GraphStepNode, MergeNode, Port, RouteEdge
from compiler.lower_builtins import merge
from compiler.lower_cond import lower_condition
from compiler.lower_expr import Env, lower_expr
from compiler.lower_state import is_round_key, record_rounds
from compiler.resolve import domain_of, fail
from masdsl import ast
from masdsl.types import Enum

END = "end"


def lower_block(builder: Builder, context: Context, env: Env, block: ast.Block) -> Env:
    """Lower statements in order; returns the environment after the block."""
    env = dict(env)
    for statement in block.statements:
        lower_statement(builder, context, env, statement)
    return env


def lower_statement(builder: Builder, context: Context, env: Env, statement: ast.Stmt) -> None:
    """Dispatch one statement; updates `env` in place."""
    if isinstance(statement, ast.Assign):
        lower_assign(builder, context, env, statement)
    elif isinstance(statement, ast.If):
        lower_if(builder, context, env, statement)
    elif isinstance(statement, ast.Match):
        lower_match(builder, context, env, statement)
    elif isinstance(statement, ast.Loop):
        lower_loop(builder, context, env, statement)
    else:
        lower_graph(builder, context, env, statement)


def lower_assign(builder: Builder, context: Context, env: Env, statement: ast.Assign) -> None:
    """`x = expr`: bind x to the expression's value (an alias under a guard gets an identity
    `merge`, so that the binding is absent when the guard fails)."""
    name = statement.target.value
    value = lower_expr(builder, context, env, statement.value, name)
    if value is None:
        env.pop(name, None)
        return
    if isinstance(statement.value, ast.Ref) and context.guard is not None:
        value = alias(builder, context, statement, name, value)
    env[name] = value


def alias(builder: Builder, context: Context, node: ast.Node, name: str, value: Value) -> Value:
    """An identity `merge` of one value, under the context's guard."""
    port = Port(name="in_0", type=value.type)
    node_id = builder.new_id(f"alias_{name}")
    builder.add(MergeNode(id=node_id, span=node.span, label=f"{name}", name=name,
                          scope=context.scope, inputs=(port,),
                          outputs=(Port(name=OUT, type=value.type),)), context, [(port, value)])
    return out(node_id, value.type)


def _subject(builder: Builder, env: Env, name: ast.Name) -> Value:
    if name.value not in env:
        raise fail(builder.program, name.span, "MAS107", f"'{name.value}' is not bound here")
    return env[name.value]


def add_branch(builder: Builder, context: Context, node: ast.Node, origin: BranchConstruct,
               subject: Value) -> Value:
    """A `branch` node on `subject`; guard edges from its `out` select what runs."""
    port = Port(name="subject", type=subject.type)
    node_id = builder.new_id(f"branch_{origin}")
    builder.add(BranchNode(id=node_id, span=node.span, label=origin, scope=context.scope,
                           origin=origin, domain=domain_of(subject.type), inputs=(port,),
                           outputs=(Port(name=OUT, type=subject.type),)),
                context, [(port, subject)])
    return out(node_id, subject.type)


def _join(builder: Builder, context: Context, node: ast.If | ast.Match, before: Env,
          arms: list[Env], env: Env) -> None:
    """Bind, after a branching construct, every name bound before it or in every arm. Only
    names the construct can bind are looked at, so a join costs what its arms bind."""
    bound: set[str] = set()
    blocks = [node.then, node.otherwise] if isinstance(node, ast.If) else [
        *(case.body for case in node.cases), node.otherwise]
    for block in blocks:
        if block is not None:
            bound |= assigned_names(block)
    for name in sorted(bound):
        changed = [arm[name] for arm in arms
                   if name in arm and (name not in before or arm[name] != before[name])]
        if not changed:
            continue
        if name in before:
            env[name] = merge(builder, context, node, name, [before[name], *changed])
        elif all(name in arm for arm in arms):
            env[name] = merge(builder, context, node, name, changed)


def _arm(context: Context, branch: Value, when: tuple[str, ...], scope: str) -> Context:
    return Context(guard=Guard(branch, when), scope=(*context.scope, scope),
                   pending=context.pending)


def lower_if(builder: Builder, context: Context, env: Env, statement: ast.If) -> None:
    """`if cond { } else { }`: a `branch` node, then each arm under its guard."""
    line = statement.span.line
    test = lower_condition(builder, context, env, statement.condition, f"if@{line}")
    branch = add_branch(builder, context, statement, "if", test.subject)
    arms = [lower_block(builder, _arm(context, branch, test.holds, f"if@{line} then"), env,
                        statement.then)]
    otherwise = test.fails
    if statement.otherwise is not None and otherwise:
        arms.append(lower_block(builder, _arm(context, branch, otherwise, f"if@{line} else"),
                                env, statement.otherwise))
    elif statement.otherwise is None:
        arms.append(dict(env))
    _join(builder, context, statement, env, arms, env)


def lower_match(builder: Builder, context: Context, env: Env, statement: ast.Match) -> None:
    """The router: a `branch` node on an enum; each case's arm runs for its members."""
    subject = _subject(builder, env, statement.subject)
    if not isinstance(subject.type, Enum):
        raise fail(builder.program, statement.subject.span, "MAS202",
                   f"'{statement.subject.value}' is not an enum")
    branch = add_branch(builder, context, statement, "match", subject)
    line = statement.span.line
    arms: list[Env] = []
    covered: set[str] = set()
    for case in statement.cases:
        members = tuple(member.value for member in case.members)
        covered.update(members)
        arms.append(lower_block(builder, _arm(context, branch, members,
                                              f"match@{line} {'|'.join(members)}"),
                                env, case.body))
    rest = tuple(member for member in subject.type.members if member not in covered)
    if rest:
        if statement.otherwise is None:
            arms.append(dict(env))
        else:
            arms.append(lower_block(builder, _arm(context, branch, rest, f"match@{line} else"),
                                    env, statement.otherwise))
    _join(builder, context, statement, env, arms, env)


def assigned_names(block: ast.Block) -> set[str]:
    """Every name a block can bind (assignments and graph nodes, at any depth)."""
    names: set[str] = set()
    for statement in block.statements:
        if isinstance(statement, ast.Assign):
            names.add(statement.target.value)
        elif isinstance(statement, ast.If):
            names |= assigned_names(statement.then)
            if statement.otherwise is not None:
                names |= assigned_names(statement.otherwise)
        elif isinstance(statement, ast.Match):
            for case in statement.cases:
                names |= assigned_names(case.body)
            if statement.otherwise is not None:
                names |= assigned_names(statement.otherwise)
        elif isinstance(statement, ast.Loop):
            names |= assigned_names(statement.body)
        else:
            names |= {item.name.value for item in statement.items
                      if isinstance(item, ast.GraphNode)}
    return names


def lower_loop(builder: Builder, context: Context, env: Env, statement: ast.Loop) -> None:
    """`loop max N until c { body }`: the body unrolled N times. Iteration i+1 is guarded by a
    `branch` (origin `loop_until`) on the until-subject after iteration i, which lets it run
    only while the condition does not hold. Names bound in the body are joined by a `merge`
    over the iterations (the last iteration that ran)."""
    bound = int(statement.max_iterations.value)
    line = statement.span.line
    pending = context.pending | frozenset(assigned_names(statement.body))
    iteration_context = Context(guard=context.guard, scope=context.scope, pending=pending)
    before = dict(env)
    current = dict(env)
    ends = []
    for iteration in range(1, bound + 1):
        scope_context = Context(guard=iteration_context.guard,
                                scope=(*context.scope, f"loop@{line} #{iteration}"),
                                pending=pending)
        current = lower_block(builder, scope_context, current, statement.body)
        ends.append(current)
        if statement.until is None or iteration == bound:
            continue
        test = lower_condition(builder, scope_context, current, statement.until,
                               f"until@{line} #{iteration}")
        keep_going = test.fails
        if not keep_going:
            break
        branch = add_branch(builder, scope_context, statement, "loop_until", test.subject)
        iteration_context = Context(guard=Guard(branch, keep_going), scope=context.scope,
                                    pending=pending)
    if statement.until is None or len(ends) == 1:
        env.update(current)
        _record_loop_rounds(env, statement, ends)
        return
    for name in dict.fromkeys(name for end in ends for name in end if not is_round_key(name)):
        values = [end[name] for end in ends if name in end]
        if name in before:
            values = [before[name], *values]
        elif name not in ends[0]:
            continue
        env[name] = merge(builder, context, statement, name, values)
    _record_loop_rounds(env, statement, ends)


def _record_loop_rounds(env: Env, statement: ast.Loop, ends: list[Env]) -> None:
    """What `rounds(x)` reads after the loop: x's value at the end of each iteration."""
    for name in sorted(assigned_names(statement.body)):
        record_rounds(env, name, [end[name] for end in ends if name in end])


def lower_graph(builder: Builder, context: Context, env: Env, statement: ast.Graph) -> None:
    """`graph max_steps S { ... }`: unrolled step by step. At step k the graph nodes that can
    be active run, each guarded by the `graph_step` node of step k-1 (the start node runs at
    step 1 unguarded); a node's value after the graph is the merge of its instances."""
    steps = int(statement.max_steps.value)
    nodes = {item.name.value: item for item in statement.items if isinstance(item, ast.GraphNode)}
    starts = [item for item in statement.items if isinstance(item, ast.GraphStart)]
    edges = [item for item in statement.items if isinstance(item, ast.GraphEdge)]
    if len(starts) != 1 or starts[0].node.value not in nodes:
        raise fail(builder.program, statement.span, "MAS306", "a graph needs one start node")
    graph_name = f"graph@{statement.span.line}"
    candidates = [starts[0].node.value]
    runs: dict[str, list[Value]] = {name: [] for name in nodes}
    step_value: Value | None = None
    pending = context.pending | frozenset(nodes)
    for step in range(1, steps + 1):
        before = dict(env)
        instances: dict[str, Value] = {}
        for name in candidates:
            guard = context.guard if step_value is None else Guard(step_value, (name,))
            node_context = Context(guard=guard, scope=(*context.scope, f"{graph_name} {name}"),
                                   pending=pending)
            value = lower_expr(builder, node_context, before, nodes[name].value, name)
            if value is None:
                continue
            if isinstance(nodes[name].value, ast.Ref) and guard is not None:
                value = alias(builder, node_context, nodes[name], name, value)
            instances[name] = value
            runs[name].append(value)
        for name, value in instances.items():
            env[name] = merge(builder, context, nodes[name], name,
                              [env[name], value]) if name in env else value
        following = [name for name in nodes
                     if any(edge.source.value in candidates and edge.target.value == name
                            for edge in edges)]
        if step == steps or not following:
            break
        step_value = _add_step(builder, context, env, statement, graph_name, step, candidates,
                               following, edges, step_value)
        candidates = following
    for name, node in nodes.items():
        if name not in env:
            _bind_absent(builder, context, env, node, pending)
        # What `rounds(x)` reads after the graph: x's value at each step that ran it.
        record_rounds(env, name, runs[name] or [env[name]] if name in env else [])


def _bind_absent(builder: Builder, context: Context, env: Env, node: ast.GraphNode,
                 pending: frozenset[str]) -> None:
    """Bind a graph node that can never run within `max_steps` to an always-absent value:
    a `merge` without inputs. Its type is found by lowering the node's expression into a
    scratch builder that is then thrown away."""
    scratch = Builder(program=builder.program, agents=builder.agents)
    value = lower_expr(scratch, Context(pending=pending), env, node.value, node.name.value)
    if value is None:
        return
    node_id = builder.new_id(f"absent_{node.name.value}")
    builder.add(MergeNode(id=node_id, span=node.span, label=f"{node.name.value} (never runs)",
                          name=node.name.value, scope=context.scope,
                          outputs=(Port(name=OUT, type=value.type),)), context, [])
    env[node.name.value] = out(node_id, value.type)


def _add_step(builder: Builder, context: Context, env: Env, statement: ast.Graph,
              graph_name: str, step: int, candidates: list[str], following: list[str],
              edges: list[ast.GraphEdge], previous: Value | None) -> Value:
    """The `graph_step` node choosing the node of step `step + 1`."""
    domain = (*following, END)
    step_type = Enum(members=domain, name=f"{graph_name}_step{step}")
    inputs: list[tuple[Port, Value]] = []
    ports: list[Port] = []
    if previous is None:
        ports.append(Port(name="current", type=Enum(members=(candidates[0],)),
                          constant=candidates[0]))
    else:
        ports.append(Port(name="current", type=previous.type))
        inputs.append((ports[-1], previous))
    routes: list[RouteEdge] = []
    for edge in edges:
        if edge.source.value not in candidates:
            continue
        subject_port, when = None, None
        if edge.when is not None:
            read = [name.value if isinstance(name, ast.Name) else name.name
                    for name in ast.condition_names(edge.when)
                    if (name.span.start, name.span.end) not in builder.members]
            if all(name in env for name in read):
                test = lower_condition(builder, context, env, edge.when,
                                       f"{graph_name} edge@{edge.span.line} step {step}")
                # A value tested directly keeps its port name; a computed test gets one per
                # edge (two edges may compute different tests over the same values).
                subject_port = f"test_{len(routes)}" if test.computed else f"subject_{read[0]}"
                when = test.holds
                if all(port.name != subject_port for port in ports):
                    ports.append(Port(name=subject_port, type=test.subject.type))
                    inputs.append((ports[-1], test.subject))
            else:
                subject_port, when = f"subject_{read[0]}", ()
        routes.append(RouteEdge(source=edge.source.value, target=edge.target.value,
                                subject=subject_port, when=when))
    node_id = builder.new_id(f"graph_step{step}")
    builder.add(GraphStepNode(id=node_id, span=statement.span, label=f"{graph_name} step {step}",
                              scope=context.scope, graph=graph_name, step=step,
                              edges=tuple(routes), domain=domain, inputs=tuple(ports),
                              outputs=(Port(name=OUT, type=step_type),)), context, inputs)
    return out(node_id, step_type)

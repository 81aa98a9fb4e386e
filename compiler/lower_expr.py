"""Lowering of expressions: references, literals, lists and agent calls. The builtin patterns
(`ensemble`, `vote`, `debate`, `reflect`) are in `lower_builtins`; each construct has its own
function. A function returns the `Value` the expression evaluates to, or None when it is
statically absent (a loop body's reference to a name bound later in the body, on the first
iteration)."""

from __future__ import annotations

from compiler.builder import FLOW_MEMBER, Builder, Context, Value, out, unique_labels
from compiler.ir import (
    OUT,
    AgentKind,
    AgentNode,
    AgentSettings,
    CollectNode,
    FieldNode,
    ListNode,
    LiteralNode,
    Port,
)
from compiler.ir import (
    TEXT as TEXT_PORT,
)
from compiler.resolve import fail
from masdsl import ast
from masdsl.patterns import BUILTINS
from masdsl.spans import Span
from masdsl.types import BOOL, NUMBER, TEXT, List, Record, Type

Env = dict[str, Value]


def lower_expr(builder: Builder, context: Context, env: Env, expr: ast.Expr,
               label: str = "value") -> Value | None:
    """Lower any expression (dispatch by kind)."""
    if isinstance(expr, ast.Ref):
        return lower_ref(builder, context, env, expr)
    if isinstance(expr, ast.FieldAccess):
        return lower_field(builder, context, env, expr)
    if isinstance(expr, ast.StringLit | ast.NumberLit | ast.BoolLit):
        return lower_literal(builder, context, expr, label)
    if isinstance(expr, ast.ListExpr):
        return lower_list(builder, context, env, expr, label)
    if isinstance(expr, ast.Index):
        from compiler.lower_lists import lower_index

        return lower_index(builder, context, env, expr)
    if expr.callee.value in BUILTINS:
        from compiler.lower_builtins import lower_builtin

        return lower_builtin(builder, context, env, expr)
    return lower_agent_call(builder, context, env, expr)


def lower_ref(builder: Builder, context: Context, env: Env, ref: ast.Ref) -> Value | None:
    """A reference to a bound value or input; absent for a loop-carried name not yet bound."""
    if ref.name in env:
        return env[ref.name]
    if ref.name in context.pending:
        return None
    if ref.name in builder.agents:
        raise fail(builder.program, ref.span, "MAS204",
                   f"agent '{ref.name}' is used as a value")
    raise fail(builder.program, ref.span, "MAS101", f"'{ref.name}' is not bound here")


def lower_field(builder: Builder, context: Context, env: Env,
                access: ast.FieldAccess) -> Value | None:
    """`record.field`: a `field` node reading one field of the record (no LLM call)."""
    subject = lower_ref(builder, context, env,
                        ast.Ref(span=access.subject.span, name=access.subject.value))
    if subject is None:
        return None
    if not isinstance(subject.type, Record) or subject.type.field(access.field.value) is None:
        raise fail(builder.program, access.span, "MAS208",
                   f"'{access.subject.value}' has no field '{access.field.value}'")
    field_type = subject.type.field(access.field.value)
    assert field_type is not None
    port = Port(name="subject", type=subject.type)
    node_id = builder.new_id(f"field_{access.subject.value}_{access.field.value}")
    builder.add(FieldNode(id=node_id, span=access.span,
                          label=f"{access.subject.value}.{access.field.value}",
                          scope=context.scope, field=access.field.value, inputs=(port,),
                          outputs=(Port(name=OUT, type=field_type),)),
                context, [(port, subject)])
    return out(node_id, field_type)


def literal_type(expr: ast.StringLit | ast.NumberLit | ast.BoolLit) -> Type:
    if isinstance(expr, ast.StringLit):
        return TEXT
    return BOOL if isinstance(expr, ast.BoolLit) else NUMBER


def lower_literal(builder: Builder, context: Context,
                  expr: ast.StringLit | ast.NumberLit | ast.BoolLit, label: str) -> Value:
    """A literal becomes a `literal` node (constant folding later moves it into its user)."""
    type_ = literal_type(expr)
    node = LiteralNode(id=builder.new_id(f"literal_{label}"), span=expr.span, label=label,
                       scope=context.scope, value=expr.value,
                       outputs=(Port(name=OUT, type=type_),))
    builder.add(node, context, [])
    return out(node.id, type_)


def lower_list(builder: Builder, context: Context, env: Env, expr: ast.ListExpr,
               label: str) -> Value:
    """`[a, b]` as a data value: a `list` node over its present items."""
    items = [lower_expr(builder, context, env, item, f"{label}_{index}")
             for index, item in enumerate(expr.items)]
    present = [item for item in items if item is not None]
    element = present[0].type if present else TEXT
    list_type = List(element=element)
    node_id = builder.new_id(f"list_{label}")
    ports = [Port(name=f"item_{index}", type=item.type) for index, item in enumerate(present)]
    node = ListNode(id=node_id, span=expr.span, label=label, scope=context.scope,
                    inputs=tuple(ports), outputs=(Port(name=OUT, type=list_type),))
    builder.add(node, context, list(zip(ports, present, strict=True)))
    return out(node_id, list_type)


def argument_label(arg: ast.Arg, index: int) -> str:
    """Positional data args are labelled by their variable name (the field name of a field
    access, the list's name of an item `xs[k]`, the callee of a nested call, `x_reply` /
    `x_rounds` for `reply(x)` / `rounds(x)`); keyword args by their keyword."""
    if arg.keyword is not None:
        return arg.keyword.value
    if isinstance(arg.value, ast.Ref):
        return arg.value.name
    if isinstance(arg.value, ast.FieldAccess):
        return arg.value.field.value
    if isinstance(arg.value, ast.Index):
        return arg.value.subject.value
    if isinstance(arg.value, ast.Call):
        callee = arg.value.callee.value
        subject = next((item.value for item in arg.value.args if item.keyword is None), None)
        if callee in ("reply", "rounds") and isinstance(subject, ast.Ref):
            return f"{subject.name}_{callee}"  # `reply(draft)` is shown as `draft_reply`
        return callee
    return f"input_{index}"


def lower_data_args(builder: Builder, context: Context, env: Env,
                    args: list[ast.Arg]) -> list[tuple[str, Value]]:
    """Lower data arguments to labelled values, dropping statically absent ones."""
    labels = unique_labels([argument_label(arg, index) for index, arg in enumerate(args)])
    lowered = []
    for label, arg in zip(labels, args, strict=True):
        value = lower_expr(builder, context, env, arg.value, label)
        if value is not None:
            lowered.append((label, value))
    return lowered


def lower_agent_call(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value:
    """`solver(question, hint: h)`: one `agent_call` node."""
    agent = agent_settings(builder, call.callee.value, call.callee.span)
    inputs = lower_data_args(builder, context, env, list(call.args))
    return add_agent_node(builder, context, "agent_call", agent, call.span, inputs)


def agent_settings(builder: Builder, name: str, span: Span) -> AgentSettings:
    if name not in builder.agents:
        raise fail(builder.program, span, "MAS104", f"'{name}' is not an agent")
    return builder.agents[name]


def collect_list(builder: Builder, context: Context, span: Span, label: str,
                 members: list[Value]) -> Value:
    """One `collect` node gathering `members` (one value each, in order) into a list; its id
    is `collect_<label>`."""
    element = members[0].type
    ports = [Port(name=f"member_{index}", type=element) for index in range(len(members))]
    list_type = List(element=element)
    node_id = builder.new_id(f"collect_{label}")
    builder.add(CollectNode(id=node_id, span=span, label=label, scope=context.scope,
                            inputs=tuple(ports), outputs=(Port(name=OUT, type=list_type),)),
                context, list(zip(ports, members, strict=True)))
    return out(node_id, list_type)


def add_agent_node(builder: Builder, context: Context, kind: AgentKind, agent: AgentSettings,
                   span: Span, inputs: list[tuple[str, Value]], *, member: int | None = None,
                   round_: int | None = None, label: str | None = None) -> Value:
    """Add one agent node with labelled inputs (in order) and return its typed `out`."""
    labels = unique_labels([name for name, _ in inputs])
    ports = [Port(name=name, type=value.type)
             for name, (_, value) in zip(labels, inputs, strict=True)]
    fed = [(port, value) for port, (_, value) in zip(ports, inputs, strict=True)]
    memory = _memory(builder, agent, kind, span, round_, context, member)
    ports += [port for port, _ in memory]
    node_id = builder.new_id(f"{kind}_{agent.name}")
    node = AgentNode(id=node_id, kind=kind, span=span, label=label or agent.name,
                     scope=context.scope, agent=agent, member=member, round=round_,
                     inputs=tuple(ports), memory=tuple(port.name for port, _ in memory),
                     outputs=(Port(name=OUT, type=agent.output), Port(name=TEXT_PORT,
                                                                      type=TEXT)))
    builder.add(node, context, [*fed, *memory])
    return out(node_id, agent.output)


def _memory(builder: Builder, agent: AgentSettings, kind: AgentKind, span: Span,
            round_: int | None, context: Context,
            member: int | None) -> list[tuple[Port, Value]]:
    """The conversation memory of a call of an agent with `memory N`: a port `memory.<i>`
    fed by the reply of each of the agent's last N calls lowered before this one (oldest
    first), leaving out the calls that run alongside it (`_alongside`). Earlier loop
    iterations and graph steps are before it, in order."""
    if not agent.memory:
        return []
    earlier = [node for node in builder.nodes
               if isinstance(node, AgentNode) and node.agent.name == agent.name
               and not _alongside(builder, node, kind, span, round_, context, member)]
    return [(Port(name=f"memory.{index}", type=TEXT), Value(node.id, TEXT_PORT, TEXT))
            for index, node in enumerate(earlier[-agent.memory:])]


def _alongside(builder: Builder, node: AgentNode, kind: AgentKind, span: Span,
               round_: int | None, context: Context, member: int | None) -> bool:
    """True when the earlier call `node` runs alongside a new call rather than before it:
    another call of the same fan-out (the samples of one `ensemble`, the items of one `map`,
    the turns of one debate round, the critiques of one reflection round: same span, kind,
    round and scope, and numbered members or the same guard; a graph's steps differ in
    their guard, a loop's iterations in their scope), or a call in another member of the
    same flow ensemble (the scopes part at two `ensemble member` labels)."""
    scope = context.scope
    if node.span == span and node.kind == kind and node.round == round_ \
            and node.scope == scope:
        return (node.member is not None and member is not None) \
            or builder.guards.get(node.id) == context.guard
    parted = next((pair for pair in zip(node.scope, scope, strict=False)
                   if pair[0] != pair[1]), None)
    return parted is not None and all(label.startswith(FLOW_MEMBER) for label in parted)

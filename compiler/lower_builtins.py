"""Lowering of the builtin patterns into explicit nodes, one function per pattern:

- `ensemble` -> one `ensemble_member` agent node per sample, and a `collect` node;
- `vote` -> a `vote` node (majority/weighted), a `vote_tiebreak` agent node guarded by the
  vote's `tied` port, and a `merge`; or a `vote_judge` agent node (consensus);
- `debate` -> a `debate_turn` node per round per debater, and a `debate_judge`;
- `reflect` -> `reflect_answer`, then per round a `reflect_critique`, an optional `branch`
  on the critique (the `stop` test), a `reflect_revise` guarded by it, and a `merge`.
"""

from __future__ import annotations

from collections.abc import Callable

from compiler.builder import FLOW_MEMBER, Builder, Context, Guard, Value, out
from compiler.ir import (
    OUT,
    TEXT,
    TIED,
    AgentSettings,
    AppendNode,
    BranchNode,
    CollectNode,
    ConditionNode,
    FormatNode,
    MergeNode,
    Port,
    Term,
    VoteNode,
)
from compiler.lower_expr import (
    Env,
    add_agent_node,
    agent_settings,
    collect_list,
    lower_data_args,
    lower_expr,
)
from compiler.lower_lists import lower_head, lower_len, lower_map, lower_rest, lower_run_tests
from compiler.lower_state import lower_reply, lower_rounds, reply_value
from compiler.resolve import domain_of, fail
from masdsl import ast
from masdsl.patterns import BUILTINS
from masdsl.types import BOOL, List
from masdsl.types import TEXT as TEXT_TYPE


def lower_builtin(builder: Builder, context: Context, env: Env,
                  call: ast.Call) -> Value | None:
    """Dispatch a builtin pattern call to its lowering function (`PATTERN_LOWERINGS`)."""
    return PATTERN_LOWERINGS[call.callee.value](builder, context, env, call)


def _split(call: ast.Call) -> tuple[list[ast.Arg], dict[str, ast.Expr]]:
    positional = [arg for arg in call.args if arg.keyword is None]
    keywords = {arg.keyword.value: arg.value for arg in call.args if arg.keyword is not None}
    return positional, keywords


def data_args(call: ast.Call, skip: int) -> list[ast.Arg]:
    """The data inputs of a builtin call, in source order: the positional arguments after
    the first `skip`, and the labelled inputs (keywords that are no parameter) of a pattern
    that takes them (`Builtin.labelled_inputs`)."""
    builtin = BUILTINS[call.callee.value]
    found: list[ast.Arg] = []
    seen = 0
    for arg in call.args:
        if arg.keyword is None:
            seen += 1
            if seen > skip:
                found.append(arg)
        elif builtin.labelled_inputs and builtin.param(arg.keyword.value) is None:
            found.append(arg)
    return found


def _integer(builder: Builder, keywords: dict[str, ast.Expr], key: str, default: int) -> int:
    expr = keywords.get(key)
    if expr is None:
        return default
    if not isinstance(expr, ast.NumberLit) or not float(expr.value).is_integer():
        raise fail(builder.program, expr.span, "MAS207", f"'{key}' must be an integer")
    return int(expr.value)


def _agent_names(builder: Builder, expr: ast.Expr) -> list[ast.Ref]:
    items = expr.items if isinstance(expr, ast.ListExpr) else (expr,)
    refs = [item for item in items if isinstance(item, ast.Ref)]
    if len(refs) != len(items) or not refs:
        raise fail(builder.program, expr.span, "MAS203", "expected an agent or a list of agents")
    return refs


def _agent_keyword(builder: Builder, call: ast.Call, keywords: dict[str, ast.Expr],
                   key: str) -> ast.Ref:
    expr = keywords.get(key)
    if not isinstance(expr, ast.Ref):
        raise fail(builder.program, (expr or call).span, "MAS109" if expr is None else "MAS203",
                   f"'{call.callee.value}' needs an agent as '{key}'")
    return expr


def _first(builder: Builder, call: ast.Call, positional: list[ast.Arg]) -> ast.Expr:
    if not positional:
        raise fail(builder.program, call.span, "MAS109",
                   f"'{call.callee.value}' needs a first argument")
    return positional[0].value


def lower_ensemble(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value:
    """K samples of each listed agent, collected in order into a list."""
    positional, keywords = _split(call)
    samples = _integer(builder, keywords, "n", 1)
    if isinstance(_first(builder, call, positional), ast.Call):
        return _ensemble_of_flow(builder, context, env, call, positional[0].value, samples)
    refs = _agent_names(builder, _first(builder, call, positional))
    inputs = lower_data_args(builder, context, env, data_args(call, 1))
    members: list[Value] = []
    for ref in refs:
        agent = agent_settings(builder, ref.name, ref.span)
        for _ in range(samples):
            index = len(members)
            members.append(add_agent_node(builder, context, "ensemble_member", agent, call.span,
                                          inputs, member=index,
                                          label=f"{agent.name}[{index}]"))
    return collect_list(builder, context, call.span, "ensemble", members)


def _ensemble_of_flow(builder: Builder, context: Context, env: Env, call: ast.Call,
                      flow: ast.Expr, samples: int) -> Value:
    """`ensemble(flow(...), n: K)`: the flow lowered K times, each copy in its own scope
    (`ensemble member i`), collected in order into a list."""
    members: list[Value] = []
    for index in range(samples):
        member_context = Context(guard=context.guard,
                                 scope=(*context.scope, f"{FLOW_MEMBER}{index}"),
                                 pending=context.pending)
        value = lower_expr(builder, member_context, env, flow, f"member_{index}")
        if value is None:
            raise fail(builder.program, flow.span, "MAS107", "the flow has no value here")
        members.append(value)
    return collect_list(builder, context, call.span, "ensemble", members)


def _replies(builder: Builder, context: Context, call: ast.Call, candidates: Value) -> Value:
    """The full replies of an in-place ensemble's members, collected in member order (a
    member whose reply never parsed still has its last reply here); for any other list of
    candidates, `reply(candidates)` (one reply per present candidate)."""
    collect = next((node for node in builder.nodes if node.id == candidates.node), None)
    if not isinstance(collect, CollectNode) or collect.label != "ensemble":
        return reply_value(builder, context, call, "candidates", candidates)
    members = sorted((edge for edge in builder.edges if edge.target == collect.id
                      and edge.kind == "data"), key=lambda edge: int(
                          edge.target_port.removeprefix("member_")))
    replies = [Value(edge.source, TEXT, TEXT_TYPE) for edge in members]
    ports = [Port(name=f"member_{index}", type=TEXT_TYPE) for index in range(len(replies))]
    node_id = builder.new_id("collect_replies")
    builder.add(CollectNode(id=node_id, span=call.span, label="replies", scope=context.scope,
                            inputs=tuple(ports),
                            outputs=(Port(name=OUT, type=List(element=TEXT_TYPE)),)),
                context, list(zip(ports, replies, strict=True)))
    return out(node_id, List(element=TEXT_TYPE))


def lower_vote(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value:
    """Majority or weighted vote (with an optional tiebreak agent), or consensus by a judge."""
    positional, keywords = _split(call)
    candidates = lower_expr(builder, context, env, _first(builder, call, positional),
                            "candidates")
    if candidates is None or not isinstance(candidates.type, List):
        raise fail(builder.program, call.span, "MAS206", "vote needs a list of candidates")
    element = candidates.type.element
    extras = lower_data_args(builder, context, env, data_args(call, 1))
    strategy_expr = keywords.get("strategy")
    strategy = strategy_expr.name if isinstance(strategy_expr, ast.Ref) else "majority"
    judge_inputs = [("candidates", candidates), *extras]
    show = keywords.get("show")
    if isinstance(show, ast.Ref) and show.name == "replies":
        judge_inputs.insert(1, ("replies", _replies(builder, context, call, candidates)))
    if strategy == "consensus":
        judge = agent_settings(builder, _agent_keyword(builder, call, keywords, "judge").name,
                               call.span)
        return add_agent_node(builder, context, "vote_judge", judge, call.span, judge_inputs)
    if strategy not in ("majority", "weighted"):
        raise fail(builder.program, call.span, "MAS207", f"unknown strategy '{strategy}'")
    weights = None
    if strategy == "weighted":
        weights_expr = keywords.get("weights")
        if not isinstance(weights_expr, ast.ListExpr) or not all(
                isinstance(item, ast.NumberLit) for item in weights_expr.items):
            raise fail(builder.program, call.span, "MAS109", "weighted vote needs weights")
        weights = tuple(float(item.value) for item in weights_expr.items
                        if isinstance(item, ast.NumberLit))
    tiebreak = keywords.get("tiebreak") if strategy == "majority" else None
    port = Port(name="candidates", type=candidates.type)
    outputs = [Port(name=OUT, type=element)]
    if tiebreak is not None:
        outputs.append(Port(name=TIED, type=BOOL))
    node_id = builder.new_id(f"vote_{strategy}")
    builder.add(VoteNode(id=node_id, span=call.span, label=f"vote {strategy}",
                         scope=context.scope, strategy=strategy,
                         weights=weights, has_tiebreak=tiebreak is not None, inputs=(port,),
                         outputs=tuple(outputs)), context, [(port, candidates)])
    voted = out(node_id, element)
    if tiebreak is None:
        return voted
    judge = agent_settings(builder, _agent_keyword(builder, call, keywords, "tiebreak").name,
                           call.span)
    tied = Context(guard=Guard(Value(node_id, TIED, BOOL), ("true",)), scope=context.scope,
                   pending=context.pending)
    broken = add_agent_node(builder, tied, "vote_tiebreak", judge, call.span, judge_inputs)
    return merge(builder, context, call, "vote", [voted, broken])


def merge(builder: Builder, context: Context, node: ast.Node, name: str,
          values: list[Value]) -> Value:
    """A `merge` node taking the last present of `values` (no node when there is one)."""
    distinct = list(dict.fromkeys(values))
    if len(distinct) == 1:
        return distinct[0]
    ports = [Port(name=f"in_{index}", type=value.type) for index, value in enumerate(distinct)]
    node_id = builder.new_id(f"merge_{name}")
    builder.add(MergeNode(id=node_id, span=node.span, label=f"merge {name}", name=name,
                          scope=context.scope, inputs=tuple(ports),
                          outputs=(Port(name=OUT, type=distinct[0].type),)),
                context, list(zip(ports, distinct, strict=True)))
    return out(node_id, distinct[0].type)


def lower_debate(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value:
    """Rounds unrolled: each debater answers seeing the inputs and every earlier answer;
    then the judge decides seeing the inputs and all answers."""
    positional, keywords = _split(call)
    refs = _agent_names(builder, _first(builder, call, positional))
    rounds = _integer(builder, keywords, "rounds", 1)
    judge = agent_settings(builder, _agent_keyword(builder, call, keywords, "judge").name,
                           call.span)
    inputs = lower_data_args(builder, context, env, data_args(call, 1))
    answers: list[tuple[str, Value]] = []
    for round_ in range(1, rounds + 1):
        this_round = []
        for index, ref in enumerate(refs):
            agent = agent_settings(builder, ref.name, ref.span)
            answer = add_agent_node(builder, context, "debate_turn", agent, call.span,
                                    [*inputs, *answers], member=index, round_=round_,
                                    label=f"{agent.name} round {round_}")
            this_round.append((f"round{round_}_{agent.name}",
                               Value(answer.node, TEXT, TEXT_TYPE)))
        answers.extend(this_round)
    return add_agent_node(builder, context, "debate_judge", judge, call.span,
                          [*inputs, *answers], round_=rounds)


def lower_reflect(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value:
    """Answer, then per round critique -> (stop test) -> revise; the result is the last
    answer produced."""
    positional, keywords = _split(call)
    refs = _agent_names(builder, _first(builder, call, positional))
    agent = agent_settings(builder, refs[0].name, refs[0].span)
    critic_expr = keywords.get("critic")
    if critic_expr is None:
        raise fail(builder.program, call.span, "MAS109", "'reflect' needs a critic")
    critics = [agent_settings(builder, ref.name, call.span)
               for ref in _agent_names(builder, critic_expr)]
    rounds = _integer(builder, keywords, "rounds", 1)
    stop = _stop_value(builder, keywords.get("stop"))
    inputs = lower_data_args(builder, context, env, data_args(call, 1))
    answer = add_agent_node(builder, context, "reflect_answer", agent, call.span, inputs,
                            round_=0, label=f"{agent.name} answer")
    results = [answer]
    current = context
    history = keywords.get("history")
    every_round = isinstance(history, ast.Ref) and history.name == "all"
    earlier: list[tuple[str, Value]] = []  # with history: all, what earlier rounds showed
    for round_ in range(1, rounds + 1):
        answer_text = Value(results[-1].node, TEXT, TEXT_TYPE)
        critiques = [add_agent_node(builder, current, "reflect_critique", critic, call.span,
                                    [*inputs, ("answer", answer_text)], round_=round_,
                                    label=f"{critic.name} critique {round_}")
                     for critic in critics]
        if stop is not None:
            current = _stop_guard(builder, context, current, call, critics, critiques, stop,
                                  round_)
        labels = ["critique"] if len(critics) == 1 else [
            f"critique_{critic.name}" for critic in critics]
        critique_texts = [(label, Value(critique.node, TEXT, TEXT_TYPE))
                          for label, critique in zip(labels, critiques, strict=True)]
        results.append(add_agent_node(
            builder, current, "reflect_revise", agent, call.span,
            [*inputs, *earlier, ("answer", answer_text), *critique_texts], round_=round_,
            label=f"{agent.name} revise {round_}"))
        if every_round:
            earlier += [(f"round{round_}_answer", answer_text),
                        *((f"round{round_}_{label}", text) for label, text in critique_texts)]
    if stop is None:
        return results[-1]
    return merge(builder, context, call, f"reflect_{agent.name}", results)


def _stop_guard(builder: Builder, context: Context, current: Context, call: ast.Call,
                critics: list[AgentSettings], critiques: list[Value], stop: str,
                round_: int) -> Context:
    """The guard of what follows a round's critiques: it runs unless the critic's verdict is
    `stop` (a `branch` on it), or, with several critics, unless every verdict is `stop` (a
    `branch` on a `condition` node testing them all)."""
    critic = critics[0]
    domain = domain_of(critic.output)
    if stop not in domain:
        raise fail(builder.program, call.span, "MAS106",
                   f"'{stop}' is not a value of the critic's output")
    subject: Value = critiques[0]
    if len(critics) > 1:
        ports = [Port(name=f"in_{index}", type=critique.type)
                 for index, critique in enumerate(critiques)]
        stop_value = stop == "true" if critic.output == BOOL else stop
        test = Term(op="and", operands=tuple(
            Term(op="==", operands=(Term(op="port", port=port.name),
                                    Term(op="const", value=stop_value))) for port in ports))
        condition_id = builder.new_id(f"all_stop_round{round_}")
        builder.add(ConditionNode(id=condition_id, span=call.span,
                                  label=f"all critics stop? round {round_}",
                                  scope=current.scope, test=test, inputs=tuple(ports),
                                  outputs=(Port(name=OUT, type=BOOL),)),
                    current, list(zip(ports, critiques, strict=True)))
        subject, domain, stop = out(condition_id, BOOL), ("true", "false"), "true"
    branch_id = builder.new_id(f"stop_{critic.name}")
    port = Port(name="subject", type=subject.type)
    builder.add(BranchNode(id=branch_id, span=call.span, label=f"stop? round {round_}",
                           scope=current.scope, origin="reflect_stop", domain=domain,
                           inputs=(port,), outputs=(Port(name=OUT, type=subject.type),)),
                current, [(port, subject)])
    return Context(guard=Guard(out(branch_id, subject.type),
                               tuple(value for value in domain if value != stop)),
                   scope=context.scope, pending=context.pending)


def _stop_value(builder: Builder, expr: ast.Expr | None) -> str | None:
    if expr is None:
        return None
    if isinstance(expr, ast.Ref):
        return expr.name
    if isinstance(expr, ast.BoolLit):
        return "true" if expr.value else "false"
    raise fail(builder.program, expr.span, "MAS207", "'stop' must be a member or true/false")


def lower_append(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value:
    """`append(xs, x)`: an `append` node; without a `list` port when `xs` is a loop's name
    not bound yet (the first iteration)."""
    positional, _ = _split(call)
    subject = lower_expr(builder, context, env, _first(builder, call, positional), "list")
    if len(positional) < 2:
        raise fail(builder.program, call.span, "MAS109", "append needs the item to add")
    item = lower_expr(builder, context, env, positional[1].value, "item")
    if item is None:
        raise fail(builder.program, positional[1].span, "MAS107",
                   "append's item has no value on the first iteration")
    list_type = List(element=item.type)
    inputs: list[tuple[Port, Value]] = []
    if subject is not None:
        inputs.append((Port(name="list", type=list_type), subject))
    inputs.append((Port(name="item", type=item.type), item))
    node_id = builder.new_id("append")
    builder.add(AppendNode(id=node_id, span=call.span, label="append", scope=context.scope,
                           inputs=tuple(port for port, _ in inputs),
                           outputs=(Port(name=OUT, type=list_type),)), context, inputs)
    return out(node_id, list_type)


def lower_format(builder: Builder, context: Context, env: Env, call: ast.Call) -> Value:
    """`format(template, name: value)`: a `format` node with one port per named value (a
    value that is statically absent, a loop's name not bound yet, gets no port)."""
    positional, keywords = _split(call)
    template = _first(builder, call, positional)
    if not isinstance(template, ast.StringLit):
        raise fail(builder.program, template.span, "MAS207", "the template must be a string")
    inputs: list[tuple[Port, Value]] = []
    for name, expr in keywords.items():
        value = lower_expr(builder, context, env, expr, name)
        if value is not None:
            inputs.append((Port(name=f"in_{name}", type=value.type), value))
    node_id = builder.new_id("format")
    builder.add(FormatNode(id=node_id, span=call.span, label="format", scope=context.scope,
                           template=template.value, inputs=tuple(port for port, _ in inputs),
                           outputs=(Port(name=OUT, type=TEXT_TYPE),)), context, inputs)
    return out(node_id, TEXT_TYPE)


PATTERN_LOWERINGS: dict[str, Callable[[Builder, Context, Env, ast.Call], Value | None]] = {
    "ensemble": lower_ensemble, "vote": lower_vote, "append": lower_append,
    "format": lower_format, "debate": lower_debate, "reflect": lower_reflect,
    "reply": lower_reply, "rounds": lower_rounds,
    "head": lower_head, "rest": lower_rest, "len": lower_len, "map": lower_map,
    "run_tests": lower_run_tests}
"""Each pattern of the registry (`masdsl.patterns.BUILTINS`) with its own lowering; the node
kinds each creates are the registry entry's `node_kinds`."""

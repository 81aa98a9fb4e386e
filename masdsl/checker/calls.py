"""Calls: agent calls and the builtin patterns, typed against `builtins.BUILTINS`.

An agent call `a(x, label: y)` returns the agent's output type; its arguments are data
(MAS204 for an agent), each labelled once (MAS115). A builtin call takes its subject as the
first positional argument, known keywords only (MAS108), each once (MAS115), the required
ones (MAS109); further positional arguments are data inputs. Pattern-specific rules are in
`_ensemble`, `_vote`, `_debate` and `_reflect`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from masdsl import ast
from masdsl.checker.analysis import AgentSettings
from masdsl.checker.context import (
    Context,
    is_integer,
    list_of,
    render,
    same_type,
    suggest,
)
from masdsl.checker.expressions import (
    Scope,
    agent_ref,
    data_input_type,
    report_template,
    static_length,
    value_type,
)
from masdsl.checker.lists import check_head, check_len, check_map, check_rest
from masdsl.checker.state import check_reply, check_rounds
from masdsl.checker.steps import check_run_tests
from masdsl.patterns import (
    BUILTINS,
    REFLECT_HISTORIES,
    VOTE_SHOWS,
    VOTE_STRATEGIES,
    VOTE_STRATEGY_PARAMS,
    Builtin,
)
from masdsl.types import TEXT, Enum, List, Primitive, Type

# Keywords that are some builtin's parameter: never a label of a data input, so a parameter
# given to the wrong pattern (`ensemble(a, n: 3, rounds: 2)`) is MAS108, not data.
_PARAMETER_NAMES = frozenset(param.name for builtin in BUILTINS.values()
                             for param in builtin.params)

# Which diagnostic a builtin integer outside its range gets, by the limit bounding it.
_RANGE_CODES = {"max_fanout": "MAS403", "max_loop": "MAS402"}


def call_type(ctx: Context, scope: Scope, call: ast.Call, depth: int) -> Type | None:
    """Type a call (agent or builtin), recording its type; None when unknown."""
    ctx.count_node(call.callee.span)
    if ctx.too_deep(depth, call.callee.span):
        return None
    name = call.callee.value
    builtin = BUILTINS.get(name)
    if builtin is not None:
        result = _builtin_call(ctx, scope, call, builtin, depth)
    else:
        result = _agent_call(ctx, scope, call, depth)
    return ctx.record(call, "call", result)


_CALLABLE_HELP = ("only agents (declared or template instances) and the builtin patterns can "
                  "be called: " + ", ".join(BUILTINS))
"""MAS104's help, naming every builtin of the registry (a new builtin needs no edit here)."""


def _agent_call(ctx: Context, scope: Scope, call: ast.Call, depth: int) -> Type | None:
    name = call.callee.value
    agent = ctx.agents.get(name)
    if agent is None:
        if name in ctx.templates:
            ctx.used_agents.add(name)
            report_template(ctx, name, call.callee.span)
        elif name in scope.bound or name in ctx.flow_names or name in ctx.outputs \
                or name in ctx.type_aliases:
            ctx.report("MAS104", call.callee.span, f"'{name}' is not an agent and cannot be "
                       "called", help=_CALLABLE_HELP)
        else:
            ctx.report("MAS101", call.callee.span, f"undefined name '{name}'",
                       help=suggest(name, [*ctx.agents, *BUILTINS])
                       or f'declare the agent: agent {name} {{ role "..." }}')
    else:
        ctx.used_agents.add(name)
    if agent is None:
        _mention_agents(ctx, call)
    labels: set[str] = set()
    for arg in call.args:
        if agent is None and _names_agents(ctx, arg.value):
            continue  # the callee is wrong already: no MAS204 for what it was given
        label = arg.keyword.value if arg.keyword is not None else (
            arg.value.name if isinstance(arg.value, ast.Ref) else None)
        if label is not None:
            if label in labels:
                ctx.report("MAS115", arg.keyword.span if arg.keyword else arg.span,
                           f"the input '{label}' is passed twice",
                           help="give each input its own label: `label: value`")
            labels.add(label)
        value_type(ctx, scope, arg.value, depth)
    return None if agent is None else agent.output


def _names_agents(ctx: Context, value: ast.Expr) -> bool:
    """True for an agent name, or a list literal naming one."""
    items = value.items if isinstance(value, ast.ListExpr) else (value,)
    return any(isinstance(item, ast.Ref) and item.name in ctx.agents for item in items)


def _mention_agents(ctx: Context, call: ast.Call) -> None:
    """Count every agent a call names in its arguments as used: an agent handed to a
    builtin (or to a misspelt callee) is meant to be used, so a mistake in the call gets
    its own diagnostic and no "agent never used" warnings on top (MAS105)."""
    for arg in call.args:
        items = arg.value.items if isinstance(arg.value, ast.ListExpr) else (arg.value,)
        for item in items:
            if isinstance(item, ast.Ref) and item.name in ctx.agents:
                ctx.used_agents.add(item.name)


def _builtin_call(ctx: Context, scope: Scope, call: ast.Call, builtin: Builtin,
                  depth: int) -> Type | None:
    _mention_agents(ctx, call)
    positional: list[ast.Expr] = []
    keywords: dict[str, ast.Arg] = {}
    for arg in call.args:
        if arg.keyword is None:
            positional.append(arg.value)
            continue
        key = arg.keyword.value
        if key in keywords:
            ctx.report("MAS115", arg.keyword.span, f"'{key}' is given twice",
                       help="keep one of them")
        elif builtin.param(key) is None and builtin.named_values:
            keywords[key] = arg  # a named value (`format`): typed by the pattern's check
        elif builtin.param(key) is None and builtin.labelled_inputs \
                and key not in _PARAMETER_NAMES \
                and suggest(key, [p.name for p in builtin.params]) is None:
            _labelled_input(ctx, scope, call, builtin, arg, depth)
        elif builtin.param(key) is None:
            accepted = ", ".join(param.name for param in builtin.params)
            inputs = ("positional, or labelled with a name that is no parameter"
                      if builtin.labelled_inputs else "positional")
            ctx.report("MAS108", arg.keyword.span,
                       f"{builtin.name} has no parameter '{key}'",
                       help=suggest(key, [p.name for p in builtin.params])
                       or f"{builtin.name} accepts: {accepted}; data inputs are {inputs}")
        else:
            keywords[key] = arg
    for param in builtin.params:
        if param.required and param.name not in keywords:
            ctx.report("MAS109", call.callee.span,
                       f"{builtin.name} needs '{param.name}: ...'", help=param.doc)
    for data in positional[1:]:
        value_type(ctx, scope, data, depth)
    if not positional:
        ctx.report("MAS109", call.callee.span,
                   f"{builtin.name} needs its {builtin.subject.name} as the first argument",
                   help=builtin.subject.doc)
        return None
    subject = positional[0]
    return PATTERN_CHECKS[builtin.name](ctx, scope, call, subject, keywords, depth)


def _labelled_input(ctx: Context, scope: Scope, call: ast.Call, builtin: Builtin,
                    arg: ast.Arg, depth: int) -> None:
    """`label: value` given to a pattern that shows data inputs to its agents: data under
    that label, which must be free (MAS132 for a label the pattern gives itself, MAS115 for
    one another input has)."""
    assert arg.keyword is not None
    label = arg.keyword.value
    if label in builtin.own_labels:
        ctx.report("MAS132", arg.keyword.span, f"{builtin.name} already shows its agents an "
                   f"input labelled '{label}'", help="choose another label; "
                   f"{builtin.name} uses " + ", ".join(builtin.own_labels))
    else:
        others = [other.value.name for other in call.args if other.keyword is None
                  and isinstance(other.value, ast.Ref)]
        if label in others:
            ctx.report("MAS115", arg.keyword.span, f"the input '{label}' is passed twice",
                       help="give each input its own label: `label: value`")
    value_type(ctx, scope, arg.value, depth)


def _integer(ctx: Context, builtin: str, arg: ast.Arg | None) -> int | None:
    """A builtin's integer parameter, checked against its minimum and its limit."""
    if arg is None or arg.keyword is None:
        return None
    param = BUILTINS[builtin].param(arg.keyword.value)
    assert param is not None
    value = arg.value
    if not is_integer(value):
        shown = value.value if isinstance(value, ast.NumberLit) else "this"
        ctx.report("MAS207", value.span, f"{param.name} must be a whole number, not {shown}",
                   help=f"write e.g. {param.name}: 3")
        return None
    assert isinstance(value, ast.NumberLit) and isinstance(value.value, int)
    high = getattr(ctx.limits, param.limit) if param.limit else None
    low = param.minimum if param.minimum is not None else 0
    if value.value < low or (high is not None and value.value > high):
        code = _RANGE_CODES.get(param.limit or "", "MAS207")
        ctx.report(code, value.span, f"{param.name} {value.value} is outside {low}..{high}",
                   help=f"the limit {param.limit} is {high}" if param.limit else None)
        return None
    return value.value


builtin_integer = _integer
"""A builtin's integer parameter, checked against its minimum and its limit (for the
pattern modules outside this one)."""


def _agents(ctx: Context, scope: Scope, subject: ast.Expr, role: str,
            single_ok: bool) -> tuple[list[tuple[ast.Expr, AgentSettings | None]], bool]:
    """The agents of an `A` or `[A, B]` subject, and whether it was a single agent."""
    if isinstance(subject, ast.ListExpr):
        return [(item, agent_ref(ctx, scope, item, role)) for item in subject.items], False
    if single_ok or not isinstance(subject, ast.Ref):
        return [(subject, agent_ref(ctx, scope, subject, role))], True
    if agent_ref(ctx, scope, subject, role) is not None:  # else already reported
        ctx.report("MAS203", subject.span, f"{role} expects a list of agents: [a, b]",
                   help="write the debaters as a list")
    return [], True


def _ensemble(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
              keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    if isinstance(subject, ast.Call):
        return _ensemble_of_flow(ctx, scope, call, subject, keywords, depth)
    agents, single = _agents(ctx, scope, subject, "ensemble", single_ok=True)
    n = _integer(ctx, "ensemble", keywords.get("n"))
    if single and "n" not in keywords:
        ctx.report("MAS109", call.callee.span, "an ensemble of one agent needs 'n: K'",
                   help="say how many samples to draw, e.g. ensemble(solver, n: 3, question)")
    if not agents:
        ctx.report("MAS403", subject.span, "an ensemble needs at least one agent",
                   help="list the agents: ensemble([a, b], question)")
        return None
    fanout = (n if n is not None else 1) * len(agents)
    if (n is not None or "n" not in keywords) and fanout > ctx.limits.max_fanout:
        ctx.report("MAS403", subject.span, f"the ensemble fans out to {fanout} calls; the "
                   f"limit is {ctx.limits.max_fanout}", help="use fewer agents or samples")
    element: Type | None = None
    for item, agent in agents:
        if agent is None or agent.output is None:
            return None
        if element is None:
            element = agent.output
        elif not same_type(element, agent.output):
            ctx.report("MAS201", item.span, f"ensemble agents must share one output type: "
                       f"'{agent.name}' returns {render(agent.output)}, the first returns "
                       f"{render(element)}", help="give the agents the same `-> Type`")
            return None
    if element is None:
        return None
    if (n is not None or "n" not in keywords) and not ctx.muted:
        ctx.static_lengths[(call.span.start, call.span.end, "call")] = fanout
    return list_of(element)


def _ensemble_of_flow(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Call,
                      keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`ensemble(flow(...), n: K)`: the flow, a call that runs agents (MAS232 for a step
    without an LLM call), run K times independently (`n` required, MAS109; fan-out MAS403).
    Its inputs are written inside the flow's call (MAS133)."""
    callee = BUILTINS.get(subject.callee.value)
    if callee is not None and callee.construct == "state":
        ctx.report("MAS232", subject.span, f"{callee.name}(...) makes no LLM call: sampling "
                   "it n times gives n equal values", help="sample an agent or a flow "
                   "that calls one, e.g. ensemble(reflect(solver, critic: c, rounds: 1, q), "
                   "n: 3)")
    for arg in call.args:
        if arg.value is subject or (arg.keyword is not None and arg.keyword.value == "n"):
            continue
        ctx.report("MAS133", arg.span, "an ensemble of a flow takes no inputs of its own",
                   help="give the inputs to the flow's call: ensemble(reflect(solver, "
                        "critic: c, rounds: 1, question), n: 3)")
    n = _integer(ctx, "ensemble", keywords.get("n"))
    if "n" not in keywords:
        ctx.report("MAS109", call.callee.span, "an ensemble of a flow needs 'n: K'",
                   help="say how many times to run it, e.g. n: 3")
    element = value_type(ctx, scope, subject, depth)
    if n is not None and not ctx.muted:
        ctx.static_lengths[(call.span.start, call.span.end, "call")] = n
    return None if element is None else list_of(element)


def _vote(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
          keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    values = value_type(ctx, scope, subject, depth)
    element: Type | None = None
    if isinstance(values, List):
        element = values.element
    elif values is not None:
        ctx.report("MAS206", subject.span, f"vote needs a list of candidates; this is "
                   f"{render(values)}", help="vote over an ensemble(...) or a [a, b] list")
    strategy = "majority"
    strategy_arg = keywords.get("strategy")
    if strategy_arg is not None:
        chosen = strategy_arg.value
        if isinstance(chosen, ast.Ref) and chosen.name in VOTE_STRATEGIES:
            strategy = chosen.name
        else:
            ctx.report("MAS207", chosen.span, "unknown vote strategy",
                       help="strategy is one of: " + ", ".join(VOTE_STRATEGIES))
            strategy = ""
    if strategy:
        allowed, required = VOTE_STRATEGY_PARAMS[strategy]
        for key in ("tiebreak", "weights", "judge"):
            arg = keywords.get(key)
            if arg is not None and key not in allowed and arg.keyword is not None:
                ctx.report("MAS108", arg.keyword.span,
                           f"'{key}' does not apply to strategy {strategy}",
                           help="tiebreak goes with majority, weights with weighted, judge "
                                "with consensus")
        for key in sorted(required - keywords.keys()):
            span = strategy_arg.value.span if strategy_arg else call.callee.span
            ctx.report("MAS109", span, f"strategy {strategy} needs '{key}: ...'",
                       help="weighted needs weights: [w1, ...]; consensus needs judge: agent")
    for key in ("tiebreak", "judge"):
        arg = keywords.get(key)
        if arg is None:
            continue
        agent = agent_ref(ctx, scope, arg.value, f"vote's {key}")
        if agent is not None and agent.output is not None and element is not None \
                and not same_type(agent.output, element):
            ctx.report("MAS201", arg.value.span, f"the {key} '{agent.name}' returns "
                       f"{render(agent.output)} but the candidates are {render(element)}",
                       help=f"declare it `agent {agent.name} -> {render(element)}`")
    weights = keywords.get("weights")
    if weights is not None:
        _weights(ctx, weights.value, static_length(ctx, subject))
    show = keywords.get("show")
    if show is not None:
        _show(ctx, show.value, subject, keywords)
    return element


def _show(ctx: Context, value: ast.Expr, subject: ast.Expr,
          keywords: dict[str, ast.Arg]) -> None:
    """`show: answers | replies`; replies need an agent that sees them (a judge or a
    tiebreak). Any candidate list has replies (`reply(xs)`); an `ensemble(...)` written in
    place also shows the replies of members whose answer never parsed."""
    if not isinstance(value, ast.Ref) or value.name not in VOTE_SHOWS:
        ctx.report("MAS207", value.span, "show is answers or replies",
                   help="show: replies gives the judge or tiebreak every candidate's reply")
        return
    if value.name != "replies":
        return
    if "judge" not in keywords and "tiebreak" not in keywords:
        ctx.report("MAS207", value.span, "show: replies needs a judge or a tiebreak",
                   help="only a judge (consensus) or a tiebreak (majority) reads replies")
    elif (isinstance(subject, ast.Call) and subject.callee.value == "ensemble"
          and any(arg.keyword is None and isinstance(arg.value, ast.Call)
                  for arg in subject.args[:1])):
        ctx.report("MAS207", subject.span, "show: replies needs an ensemble of agents; a "
                   "flow's candidates have no single reply", help="vote over "
                   "ensemble(agent, n: 3, q) to show replies")


def _weights(ctx: Context, value: ast.Expr, expected: int | None) -> None:
    if not isinstance(value, ast.ListExpr) or not value.items:
        ctx.report("MAS207", value.span, "weights must be a list of numbers",
                   help="write weights: [1, 2, 1], one per candidate")
        return
    for item in value.items:
        if not isinstance(item, ast.NumberLit) or item.value < 0:
            ctx.report("MAS207", item.span, "a weight must be a number >= 0",
                       help="write weights as non-negative number literals")
    if expected is not None and len(value.items) != expected:
        ctx.report("MAS207", value.span, f"{len(value.items)} weights for {expected} "
                   "candidates", help="give exactly one weight per candidate")


def _debate(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
            keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    debaters, _ = _agents(ctx, scope, subject, "debate", single_ok=False)
    if isinstance(subject, ast.ListExpr) and not 2 <= len(debaters) <= ctx.limits.max_fanout:
        ctx.report("MAS403", subject.span, f"a debate needs 2..{ctx.limits.max_fanout} "
                   f"debaters, not {len(debaters)}", help="list at least two debaters")
    _integer(ctx, "debate", keywords.get("rounds"))
    judge_arg = keywords.get("judge")
    if judge_arg is None:
        return None
    judge = agent_ref(ctx, scope, judge_arg.value, "debate's judge")
    return None if judge is None else judge.output


def _reflect(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
             keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    agent = agent_ref(ctx, scope, subject, "reflect")
    _integer(ctx, "reflect", keywords.get("rounds"))
    critic_arg = keywords.get("critic")
    critics = _agents(ctx, scope, critic_arg.value, "reflect's critic", True)[0] \
        if critic_arg is not None else []
    if critic_arg is not None and isinstance(critic_arg.value, ast.ListExpr):
        if not critic_arg.value.items:
            ctx.report("MAS203", critic_arg.value.span, "reflect needs at least one critic",
                       help="write critic: c or critic: [c1, c2]")
        elif len(critic_arg.value.items) > ctx.limits.max_fanout:
            ctx.report("MAS403", critic_arg.value.span, f"more than "
                       f"{ctx.limits.max_fanout} critics", help="the limit is max_fanout")
    history = keywords.get("history")
    if history is not None and not (isinstance(history.value, ast.Ref)
                                    and history.value.name in REFLECT_HISTORIES):
        ctx.report("MAS207", history.value.span, "history is latest or all",
                   help="history: all shows each revision every earlier answer and critique")
    stop = keywords.get("stop")
    known = [critic for _, critic in critics if critic is not None and critic.output is not None]
    if stop is not None and known:
        first = known[0]
        for other in known[1:]:
            assert other.output is not None and first.output is not None
            if not same_type(other.output, first.output):
                ctx.report("MAS201", stop.value.span, f"with stop, the critics share one "
                           f"output type; '{other.name}' returns {render(other.output)}, "
                           f"'{first.name}' {render(first.output)}",
                           help="give every critic the same verdict type")
                break
        else:
            _stop(ctx, stop.value, first)
    return None if agent is None else agent.output


def _stop(ctx: Context, value: ast.Expr, critic: AgentSettings) -> None:
    verdict = critic.output
    if isinstance(verdict, Enum):
        if not isinstance(value, ast.Ref):
            ctx.report("MAS201", value.span, f"stop must name a member of {render(verdict)}",
                       help="members: " + ", ".join(verdict.members))
        elif value.name not in verdict.members:
            ctx.report("MAS106", value.span, f"'{value.name}' is not a member of "
                       f"{render(verdict)}", help=suggest(value.name, verdict.members)
                       or "members: " + ", ".join(verdict.members))
        return
    if isinstance(verdict, Primitive) and verdict.name == "bool":
        if not isinstance(value, ast.BoolLit):
            ctx.report("MAS201", value.span, "the critic returns bool: stop must be true or "
                       "false", help="write stop: true")
        return
    ctx.report("MAS201", value.span, f"stop needs a critic whose output is an enum or bool; "
               f"'{critic.name}' returns {render(verdict)}",
               help=f"declare e.g. `agent {critic.name} -> enum {{ approve, revise }}`")





PatternCheck = Callable[[Context, Scope, ast.Call, ast.Expr, dict[str, ast.Arg], int],
                       Type | None]

def _append(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
            keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`append(xs, x)`: `xs: list[T]` (MAS206), or a loop's name bound later (absent on the
    first iteration); exactly one item `x: T` (MAS109, MAS207, MAS201) that has a value
    when it runs (MAS107 for a name bound later in the loop)."""
    items = [arg.value for arg in call.args if arg.keyword is None][1:]
    if not items:
        ctx.report("MAS109", call.callee.span, "append needs the item to add",
                   help="write append(list, item)")
        return None
    for extra in items[1:]:
        ctx.report("MAS207", extra.span, "append adds one item",
                   help="append again for another item")
    item = items[0]
    item_type = data_input_type(ctx, scope, item, depth, "item to append", "append")
    list_type = value_type(ctx, scope, subject, depth)
    if list_type is None:
        return None if item_type is None else list_of(item_type)
    if not isinstance(list_type, List):
        ctx.report("MAS206", subject.span, f"append needs a list; this is "
                   f"{render(list_type)}", help="append to a list, e.g. history")
        return None
    if item_type is not None and not same_type(list_type.element, item_type):
        ctx.report("MAS201", item.span, f"the list holds {render(list_type.element)} but "
                   f"the item is {render(item_type)}", help="append items of the list's type")
    return list_type


PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")
"""A `format` template's pieces: `{{`/`}}` (literal braces), `{name}`, or a stray brace."""


def template_names(template: str) -> list[str] | None:
    """The placeholder names of a `format` template in order, or None when it has a stray
    `{` or `}` (write `{{`/`}}` for a literal brace)."""
    names: list[str] = []
    for match in PLACEHOLDER.finditer(template):
        if match.group(1) is not None:
            names.append(match.group(1))
        elif match.group() in ("{", "}"):
            return None
    return names


def _format(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
            keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`format("... {name} ...", name: value)`: a string literal template (MAS207) whose
    every placeholder has a value (MAS109) and every value a placeholder (MAS108); no
    positional data inputs (MAS207). The result is text."""
    for data in [arg.value for arg in call.args if arg.keyword is None][1:]:
        ctx.report("MAS207", data.span, "format takes its values by name",
                   help="write name: value and put {name} in the template")
    for arg in keywords.values():
        value_type(ctx, scope, arg.value, depth)
    if not isinstance(subject, ast.StringLit):
        ctx.report("MAS207", subject.span, "the template must be a string literal",
                   help='write e.g. format("Solve {q}", q: question)')
        return TEXT
    names = template_names(subject.value)
    if names is None:
        ctx.report("MAS207", subject.span, "the template has a stray { or }",
                   help="write {{ or }} for a literal brace; placeholders are {name}")
        return TEXT
    for name in dict.fromkeys(names):
        if name not in keywords:
            ctx.report("MAS109", subject.span, f"the template's {{{name}}} has no value",
                       help=f"add {name}: value")
    for key, arg in keywords.items():
        if key not in names and arg.keyword is not None:
            ctx.report("MAS108", arg.keyword.span, f"the template has no {{{key}}}",
                       help=suggest(key, names) or "remove it or add {" + key + "}")
    return TEXT


PATTERN_CHECKS: dict[str, PatternCheck] = {
    "ensemble": _ensemble, "vote": _vote, "append": _append, "format": _format,
    "debate": _debate, "reflect": _reflect, "reply": check_reply, "rounds": check_rounds,
    "head": check_head, "rest": check_rest, "len": check_len, "map": check_map,
    "run_tests": check_run_tests}
"""Each pattern of the registry (`masdsl.patterns.BUILTINS`) with its own typing rule."""

"""Flow stages of typed design decoding: bindings, `if`, `loop` and `match`, each written so
that the design keeps type-checking.

A flow stage writes one line that ends at a natural token boundary: a binding (ending in
`)`), or a block's header (ending in `{`), or the end of the spec. Before it, the stage
may close open blocks (`}` lines, `} else {`, the next `case`), so a stage is
`(close)* (binding | header)` or, at the top level, the end. The grammar of each level is
built from the scope that closing the inner blocks leaves: a name bound in one branch of
an `if` only is not readable after it (MAS107), a `match` binds what every arm binds, a
loop body runs at least once. Outputs may be bound anywhere; the end binds every output
not yet bound on every path (MAS301/MAS302).

The statements are a table (`STATEMENTS`): each entry offers its alternatives for the
current state and reads its own lines back. A construct added later is one more entry;
a new builtin is one more `TypedForm` in `masdsl.patterns` (`_forms` reads the registry).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import combinations

from masdsl.patterns import BUILTINS
from masdsl.typed_conditions import SMALL_NUMBER, condition_rules
from masdsl.typed_state import (
    Block,
    DesignState,
    Field,
    alternatives,
    common,
    enum_members,
    fresh_name,
    literal,
)

MAX_FANOUT = 5      # `ensemble(..., n: K)` samples K in 2..MAX_FANOUT
MAX_ROUNDS = 3      # `debate`/`reflect` rounds and `loop max` in 1..MAX_ROUNDS
MAX_ARGUMENTS = 3   # data arguments of one call
MAX_DEPTH = 2       # nested `if`/`loop`/`match`/`graph` constructs
MAX_NODES = 4       # nodes of a graph
MAX_EDGES = 4       # edges of a graph (at least one)

COUNTS = f"""\
FANOUT: /[2-{MAX_FANOUT}]/
ROUNDS: /[1-{MAX_ROUNDS}]/
LOOP_MAX: /[2-{MAX_ROUNDS}]/
MAX_STEPS: /[2-9]|1[0-2]/
TEMPLATE_TEXT: /[A-Za-z][A-Za-z ,.:?]{{0,59}}/
{SMALL_NUMBER}
"""


@dataclass(frozen=True)
class Form:
    """One expression form a stage grammar offers: the literal text it starts with, the rest
    of its grammar, and the type of the value it produces."""

    prefix: str
    rest: str
    result: str


def _is_list(type_: str) -> bool:
    return type_.startswith("list[")


def _fillings(text: str, state: DesignState, agent: str,
              type_: str) -> list[dict[str, str]]:
    """Every way to fill the slots that `text` (a typed form's prefix and rest) uses."""
    agents = [name for name, _ in state.agents]
    readable = state.inputs + state.values
    # A node of an open graph may not have run yet when another node reads it: a step
    # without an LLM call (head, rest, len, map's list, run_tests) needs a value there
    # (MAS107 when lowering the graph's unrolled steps), so its list slots skip them.
    nodes = {node for block in state.blocks for node in block.nodes}
    steady = tuple(value for value in readable if value[0] not in nodes)
    lists = [name for name, value_type in steady if _is_list(value_type)]
    rounds = dict(state.rounds)
    slots: list[dict[str, str]] = [{"agent": agent, "args": "{args}"}]
    options: dict[str, list[str]] = {
        "critic": agents,
        "peer": [peer for peer, peer_type in state.agents if peer_type == type_],
        "list": [name for name, value_type in steady if value_type == f"list[{type_}]"],
        "item": [name for name, value_type in readable if value_type == type_],
        "value": [name for name, _ in readable],
        "produced": [name for name, value_type in state.values
                     if value_type == type_ and not _is_list(type_)],
        "rounded": [name for name, value_type in state.values
                    if value_type == type_ and name in rounds],
        "long": [name for name, value_type in steady if value_type == f"list[{type_}]"
                 and (state.length(name) is None or state.length(name) != 1)],
        "anylist": lists,
        "sized": [name for name in lists if 1 <= (state.length(name) or 0) <= MAX_FANOUT],
        "unsized": [name for name in lists if state.length(name) is None],
        "program": [name for name, value_type in state.values
                    if value_type == "code" and name not in nodes],
        "tests": [name for name, value_type in steady
                  if value_type in ("text", "list[text]", "list[code]")],
    }
    for slot, choices in options.items():
        if "{" + slot + "}" in text:
            slots = [{**filled, slot: choice} for filled in slots for choice in choices]
    if "{first}" in text:
        slots = [{**filled, "first": first, "second": second} for filled in slots
                 for first, second in combinations(agents, 2)]
    return slots


def _forms(state: DesignState, result: str | None) -> list[Form]:
    """Every form over the declared agents and values in scope whose type is `result` (any
    type when None): a call, and each typed form of each builtin in the registry
    (`masdsl.patterns`), with `{agent}` the agent giving the type `{type}` and the other
    slots filled with every fitting declared agent, pair of agents or value. `{args}` in
    `rest` stands for the argument-list rule."""
    patterns = [form for builtin in BUILTINS.values() for form in builtin.typed_forms]
    forms: dict[tuple[str, str], Form] = {}
    for agent, type_ in state.agents:
        if result in (None, type_):
            forms[(f"{agent}(", '{args} ")"')] = Form(f"{agent}(", '{args} ")"', type_)
        for pattern in patterns:
            produced = pattern.result.format(type=type_)
            if result not in (None, produced):
                continue
            for slot in _fillings(pattern.prefix + pattern.rest, state, agent, type_):
                form = Form(pattern.prefix.format(**slot), pattern.rest.format(**slot),
                            produced)
                forms.setdefault((form.prefix, form.rest), form)
    return list(forms.values())


def expression_rules(state: DesignState, rule: str, result: str | None) -> list[str]:
    """Rules for `rule`: expressions over the declared agents and the values in scope whose
    type is `result` (any type when None); empty when there is none. Each argument list is
    a non-empty subset of the inputs and values in scope, in declaration order, so no label
    repeats."""
    forms = _forms(state, result)
    if not forms:
        return []
    refs = [name for name, _ in state.inputs + state.values]
    subsets = [", ".join(chosen) for size in range(1, min(len(refs), MAX_ARGUMENTS) + 1)
               for chosen in combinations(refs, size)]
    args = f"{rule}_args"
    choices = [f"{literal(form.prefix)} {form.rest.replace('{args}', args)}".rstrip()
               for form in forms]
    return [f"{rule}: " + "\n    | ".join(choices),
            f"{args}: " + " | ".join(literal(subset) for subset in subsets)]


def form_type(state: DesignState, expression: str) -> str | None:
    """The type of an expression a stage grammar wrote (the longest matching form's; a form
    with no rest, such as `xs[0]` or `reply(x)`, matches only the whole expression)."""
    forms = [form for form in _forms(state, None) if expression.startswith(form.prefix)
             and (form.rest or expression == form.prefix)]
    return max(forms, key=lambda form: len(form.prefix)).result if forms else None


def expression_length(state: DesignState, expression: str) -> int | None:
    """The static length the checker gives a list expression a stage grammar wrote (None
    when it has none): an ensemble's `n`, a `map`'s bound (its list's length, else its
    `max`), `rounds(x)`'s loop or graph bound, `rest` of a list one shorter."""
    if expression.startswith("ensemble("):
        found = re.search(r"\bn: (\d+)", expression)
        return int(found.group(1)) if found else None
    if expression.startswith("map("):
        found = re.match(r"map\(\w+, (\w+)(?:, max: (\d+))?", expression)
        if found is None:
            return None
        known = state.length(found.group(1))
        return known if known is not None else \
            (int(found.group(2)) if found.group(2) else None)
    if expression.startswith("rounds(") and expression.endswith(")"):
        return dict(state.rounds).get(expression[len("rounds("):-1])
    if expression.startswith("rest(") and expression.endswith(")"):
        known = state.length(expression[len("rest("):-1])
        return None if known is None else max(0, known - 1)
    return None


# ---- the statements table ---------------------------------------------------------------


class Rules:
    """The grammar rules of one stage, named uniquely, each type's expressions once."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0
        self.by_type: dict[tuple[int, str], str] = {}
        self.new_value = False

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def expression(self, state: DesignState, level: int, result: str | None) -> str | None:
        """The rule name for expressions of type `result` at `level`, or None."""
        key = (level, result or "*")
        if key not in self.by_type:
            name = self.fresh("expr")
            found = expression_rules(state, name, result)
            if not found:
                return None
            self.lines += found
            self.by_type[key] = name
        return self.by_type[key]

    def condition(self, state: DesignState, level: int) -> str | None:
        """The rule name for conditions over the scope at `level`, or None (no atom)."""
        key = (level, "?condition")
        if key not in self.by_type:
            name = self.fresh("cond")
            found = condition_rules(name, state.values)
            if not found:
                return None
            self.lines += found
            self.by_type[key] = name
        return self.by_type[key]


@dataclass(frozen=True)
class Statement:
    """One kind of flow statement: `offer` gives its grammar alternatives in a state (each
    starting with the statement's text, after the indentation), `absorb` reads one of its
    lines back (None when the line is not its)."""

    name: str
    offer: Callable[[DesignState, int, Rules, bool], list[str]]
    absorb: Callable[[DesignState, str], DesignState | None]


def _empty(state: DesignState) -> bool:
    """True when the innermost block holds nothing yet (it must before it closes)."""
    return bool(state.blocks) and state.blocks[-1].statements == 0


def _offer_new(state: DesignState, level: int, rules: Rules, more: bool) -> list[str]:
    if not (more or _empty(state)):
        return []
    expression = rules.expression(state, level, None)
    if expression is None:
        return []
    if not rules.new_value:  # one rule serves every level: closing blocks frees no name
        rules.lines.append(fresh_name("NEW_VALUE", state.taken()))
        rules.new_value = True
    return [f'NEW_VALUE " = " {expression}']


def _targets(state: DesignState) -> list[Field]:
    """What may be bound again: the outputs, and the values in scope that are no input."""
    inputs = {name for name, _ in state.inputs}
    seen = list(state.outputs)
    seen += [value for value in state.values
             if value[0] not in inputs and value not in state.outputs]
    return seen


def _offer_rebind(state: DesignState, level: int, rules: Rules, more: bool) -> list[str]:
    """Binding an output or a value in scope again (same type). Near the budget only the
    top level's unbound outputs are offered: the design must bind them to end."""
    if more or _empty(state):
        targets = _targets(state)
    else:
        targets = state.unbound_outputs() if not state.blocks else []
    found = []
    for name, type_ in targets:
        expression = rules.expression(state, level, type_)
        if expression is not None:
            found.append(f"{literal(name + ' = ')} {expression}")
    return found


def _absorb_binding(state: DesignState, line: str) -> DesignState | None:
    name, equals, expression = line.partition(" = ")
    if not equals or not expression.endswith((")", "]")):
        return None
    length = expression_length(state, expression)
    known = dict(_targets(state))
    if name in known:
        return state.bind(name, known[name], length)
    type_ = form_type(state, expression)
    if type_ is None or name in state.taken():
        return None
    return state.bind(name, type_, length)


def _opened(state: DesignState, block: Block) -> DesignState:
    counted = replace(state.counted(), statements=state.statements + 1)
    return replace(counted, blocks=(*counted.blocks, block))


def _offer_if(state: DesignState, level: int, rules: Rules, more: bool) -> list[str]:
    condition = rules.condition(state, level)
    return [] if condition is None else [f'"if " {condition} " {{"']


def _absorb_if(state: DesignState, line: str) -> DesignState | None:
    if not (line.startswith("if ") and line.endswith(" {")):
        return None
    return _opened(state, Block("if", outer=state.values))


def _offer_loop(state: DesignState, level: int, rules: Rules, more: bool) -> list[str]:
    condition = rules.condition(state, level)
    until = "" if condition is None else f' (" until " {condition})?'
    return [f'"loop max " LOOP_MAX{until} " {{"']


def _absorb_loop(state: DesignState, line: str) -> DesignState | None:
    if not (line.startswith("loop max ") and line.endswith(" {")):
        return None
    limit = int(line[len("loop max "):].split(" ", 1)[0])
    return _opened(state, Block("loop", outer=state.values, limit=limit))


def _offer_match(state: DesignState, level: int, rules: Rules, more: bool) -> list[str]:
    subjects = [(name, type_) for name, type_ in state.values if enum_members(type_)]
    indent = state.indent() + "  "
    return [f'{literal(f"match {name} {{")} {literal(chr(10) + indent + "case ")} '
            f'{alternatives(literal(m) for m in enum_members(type_))} " {{"'
            for name, type_ in subjects]


def _absorb_match(state: DesignState, line: str) -> DesignState | None:
    if not (line.startswith("match ") and line.endswith(" {")):
        return None
    subject = line[len("match "):-len(" {")]
    found = [value for value in state.values if value[0] == subject]
    if not found:
        return None
    return _opened(state, Block("match", outer=state.values, subject=found[0]))


def _offer_graph(state: DesignState, level: int, rules: Rules, more: bool) -> list[str]:
    expression = rules.expression(state, level, None)
    if expression is None:
        return []
    if not rules.new_value:
        rules.lines.append(fresh_name("NEW_VALUE", state.taken()))
        rules.new_value = True
    node = literal("\n" + state.indent() + "  node ")
    return [f'"graph max_steps " MAX_STEPS " {{" {node} NEW_VALUE " = " {expression}']


def _absorb_graph(state: DesignState, line: str) -> DesignState | None:
    if not (line.startswith("graph max_steps ") and line.endswith(" {")):
        return None
    limit = int(line[len("graph max_steps "):-len(" {")])
    return _opened(state, Block("graph", outer=state.values, limit=limit))


def _absorb_node(state: DesignState, line: str) -> DesignState | None:
    """`node NAME = EXPR` in the innermost graph: a fresh name, readable by later nodes,
    later edges' conditions, and (bound, though perhaps absent) after the graph."""
    name, equals, expression = line[len("node "):].partition(" = ")
    type_ = form_type(state, expression)
    if not equals or type_ is None or name in state.taken():
        return None
    bound = state.bind(name, type_, expression_length(state, expression))
    graph = bound.blocks[-1]
    return replace(bound, blocks=(*bound.blocks[:-1],
                                  replace(graph, nodes=(*graph.nodes, name))))


def _wiring(state: DesignState, rules: Rules) -> str:
    """A graph's `start` and 1..MAX_EDGES edges between its nodes (or to `end`, `when` a
    condition over the scope and the nodes holds), up to the graph's closing brace."""
    graph = state.blocks[-1]
    nodes = [literal(node) for node in graph.nodes]
    indent = "\n" + state.indent()
    cond = rules.condition(state, len(state.blocks))
    when = "" if cond is None else f' (" when " {cond})?'
    edge = (f'{literal(indent + "edge ")} {alternatives(nodes)} " -> " '
            f'{alternatives([*nodes, literal("end")])}{when}')
    edges = " ".join([edge] + [f"({edge})?"] * (MAX_EDGES - 1))
    return f'{literal(indent + "start ")} {alternatives(nodes)} {edges}'


STATEMENTS: tuple[Statement, ...] = (
    Statement("binding", _offer_new, _absorb_binding),
    Statement("rebinding", _offer_rebind, lambda state, line: None),
    Statement("if", _offer_if, _absorb_if),
    Statement("loop", _offer_loop, _absorb_loop),
    Statement("match", _offer_match, _absorb_match),
    Statement("graph", _offer_graph, _absorb_graph),
)
"""Every flow statement typed decoding writes, in the order its alternatives are offered.
`binding` reads back both kinds of binding. A block header is offered only while `more`
statements are allowed and fewer than MAX_DEPTH constructs are open; a binding also when
the innermost block is still empty (a block is closed only once it holds something)."""

_HEADERS = ("if", "loop", "match", "graph")


# ---- levels: closing blocks, then one statement ----------------------------------------


def close_block(state: DesignState) -> DesignState:
    """The state after the innermost block's `}`: its scope merged into the enclosing one
    as the checker does (`if` alone: nothing new; `else`: what both branches bind; `loop`:
    what the body binds; a match's arm: recorded on the match; the match: what every arm
    binds)."""
    inner, blocks = state.blocks[-1], state.blocks[:-1]
    closed = replace(state, blocks=blocks)
    if inner.kind == "if":
        return replace(closed, values=inner.outer)
    if inner.kind == "else":
        return replace(closed, values=common(inner.then, state.values))
    if inner.kind in ("loop", "graph"):
        if blocks:  # rounds(x) of a nested loop: left out (see DesignState.rounds)
            return closed
        names = inner.nodes if inner.kind == "graph" else inner.bound
        bound = {name for name, _ in state.values}
        rounds = dict(closed.rounds) | {name: inner.limit for name in names if name in bound}
        return replace(closed, rounds=tuple(rounds.items()))
    if inner.kind in ("case", "otherwise"):
        match = blocks[-1]
        arms = state.values if match.arms is None else common(match.arms, state.values)
        return replace(closed, values=match.outer,
                       blocks=(*blocks[:-1], replace(match, arms=arms)))
    assert inner.kind == "match" and inner.arms is not None
    return replace(closed, values=inner.arms)


def open_else(state: DesignState) -> DesignState:
    """The state after `} else {`: the second branch starts from the if's outer scope."""
    inner = state.blocks[-1]
    return replace(state, values=inner.outer,
                   blocks=(*state.blocks[:-1], Block("else", outer=inner.outer,
                                                     then=state.values)))


def open_arm(state: DesignState, member: str | None) -> DesignState:
    """The state after `case m {` (or the match's `else {` when `member` is None)."""
    match = state.blocks[-1]
    updated = replace(match, statements=match.statements + 1,
                      covered=match.covered + ((member,) if member else ()),
                      otherwise=member is None)
    arm = Block("case" if member else "otherwise", outer=match.outer)
    return replace(state, blocks=(*state.blocks[:-1], updated, arm))


def _uncovered(match: Block) -> list[str]:
    """The members no arm handles yet (none once the match has its `else` arm)."""
    assert match.subject is not None
    if match.otherwise:
        return []
    return [m for m in enum_members(match.subject[1]) if m not in match.covered]


END = '"\\n  }\\n}\\n"'
"""The flow's and the spec's closing braces: offered once every output is bound on every
path (until then, binding the outputs is always offered at the top level)."""


def level_rule(state: DesignState, rules: Rules, more: bool) -> str:
    """The rule for what may follow in `state`: a statement in the innermost block, or
    closing it (and what follows that, recursively), or at the top level the end."""
    level = len(state.blocks)
    name = f"level_{rules.fresh('l')}"
    indent = literal("\n" + state.indent())
    choices: list[str] = []
    inner = state.blocks[-1] if state.blocks else None
    if inner is not None and inner.kind == "graph":
        if more and len(inner.nodes) < MAX_NODES:
            choices += [f'{literal(chr(10) + state.indent() + "node ")} {alternative}'
                        for alternative in _offer_new(state, level, rules, more)]
        after = level_rule(close_block(state), rules, more)
        choices.append(f'{_wiring(state, rules)} '
                       f'{literal(chr(10) + state.indent()[2:] + "}")} {after}')
    elif inner is not None and inner.kind == "match":
        members = _uncovered(inner)
        if members and more:
            choices.append(f'{indent} "case " {alternatives(literal(m) for m in members)} " {{"')
        if members:
            choices.append(f'{indent} "else {{"')
        else:
            after = level_rule(close_block(state), rules, more)
            choices.append(f'{literal(chr(10) + state.indent()[2:] + "}")} {after}')
    else:
        empty = _empty(state)
        for statement in STATEMENTS:
            if statement.name in _HEADERS and not (more and state.depth() < MAX_DEPTH):
                continue
            choices += [f"{indent} {alternative}"
                        for alternative in statement.offer(state, level, rules, more)]
        if inner is None:
            if not state.unbound_outputs():
                choices.append(END)
        elif not empty:
            closing = literal("\n" + state.indent()[2:] + "}")
            if inner.kind == "if":
                choices.append(literal("\n" + state.indent()[2:] + "} else {"))
            after = level_rule(close_block(state), rules, more)
            choices.append(f"{closing} {after}")
    rules.lines.append(f"{name}: " + "\n    | ".join(choices))
    return name


def statement_rules(state: DesignState, more: bool) -> tuple[str, list[str]]:
    """The rule of the next flow stage in `state` and every rule it needs."""
    rules = Rules()
    start = level_rule(state, rules, more)
    return start, [*rules.lines, COUNTS]


def absorb_lines(state: DesignState, lines: list[str]) -> DesignState | None:
    """The state after the flow lines a stage wrote (indentation stripped); None when a
    line is not one the stage grammars write."""
    for line in lines:
        if line == "}":
            if not state.blocks:
                return state  # the flow's end
            state = close_block(state)
        elif line == "} else {":
            if not state.blocks or state.blocks[-1].kind != "if":
                return None
            state = open_else(state)
        elif line.startswith("case ") and line.endswith(" {"):
            if not state.blocks or state.blocks[-1].kind != "match":
                return None
            state = open_arm(state, line[len("case "):-len(" {")])
        elif line.startswith("node "):
            if not state.blocks or state.blocks[-1].kind != "graph":
                return None
            found = _absorb_node(state, line)
            if found is None:
                return None
            state = found
        elif line.startswith(("start ", "edge ")):
            if not state.blocks or state.blocks[-1].kind != "graph":
                return None
        elif line == "else {":
            if not state.blocks or state.blocks[-1].kind != "match":
                return None
            state = open_arm(state, None)
        else:
            for statement in STATEMENTS:
                after = statement.absorb(state, line)
                if after is not None:
                    state = after
                    break
            else:
                return None
    return state

"""The worst case of a spec computed symbolically on the AST, before anything is unrolled.

Lowering unrolls every loop to its bound and every graph to its `max_steps`, so nested bounds
multiply: five nested `loop max 16` are a million copies of the body, which used to take
minutes and gigabytes before any limit was looked at. `estimate(program)` walks the AST once
and returns upper bounds on the size of the unrolled IR and on the worst-case LLM calls, in
time linear in the spec; `cost_diagnostics` turns them into MAS410 (unrolled IR too large) and
MAS408 (too many LLM calls) before lowering starts. The bounds are conservative (a test checks
them against the real IR of every example and fixture), so a spec under them always lowers
quickly; the exact numbers come from `compiler.stats` after lowering.

Builtin patterns (ensemble, debate, reflect, vote, ...) are bounded without knowing each one:
a call's expansion is taken as at most `BUILTIN_NODES` nodes per unit of
`(1 + its numeric arguments) × (1 + its list items and names)`, which covers samples × agents
and rounds × debaters. Keep it that way, so a new builtin needs no change here. Two shapes
are the exception, because their multiplier is not an argument: `map(A, xs)` runs A once per
item of `xs` (its `max:` or an upper bound on the list's length, tracked per bound name),
and `ensemble(flow(...), n: K)` runs a whole flow K times.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from masdsl import ast
from masdsl.diagnostics import Diagnostic, diagnostic
from masdsl.limits import Limits
from masdsl.patterns import BUILTINS

DEFAULT_MAX_UNROLLED_NODES = 20_000
# IR nodes per unit of a builtin call's multiplier (its agent runs, votes, joins, formats).
BUILTIN_NODES = 4
# LLM calls of an agent run when the agent's settings are not known (no tools, 2 retries).
DEFAULT_AGENT_CALLS = 3
# Numbers beyond this are saturated, so a hostile spec cannot make the arithmetic slow.
SATURATED = 10**18
# Builtins that lower to one node and call no model (besides what their arguments do).
SINGLE_NODE_STEPS = frozenset({"head", "rest", "len", "run_tests"})
# The length assumed for a list whose length is not known here (the default fan-out limit:
# a map over a list of unknown length needs a `max:` within it).
UNKNOWN_LIST_LENGTH = Limits().max_fanout


@dataclass(frozen=True)
class Cost:
    """Upper bounds for one spec: IR nodes after unrolling, and LLM calls of one execution."""

    ir_nodes: int
    llm_calls: int


def _add(*values: int) -> int:
    return min(SATURATED, sum(values))


def _mul(*values: int) -> int:
    total = 1
    for value in values:
        total = min(SATURATED, total * max(value, 0))
    return total


class _Estimator:
    def __init__(self, agent_calls: Mapping[str, int]) -> None:
        self.agent_calls = agent_calls
        self.list_bounds: dict[str, int] = {}  # an upper bound on each bound name's length

    def list_bound(self, expr: ast.Expr) -> int:
        """An upper bound on the length of a list-valued expression."""
        if isinstance(expr, ast.ListExpr):
            return len(expr.items)
        if isinstance(expr, ast.Ref):
            return self.list_bounds.get(expr.name, UNKNOWN_LIST_LENGTH)
        if isinstance(expr, ast.Call):
            positional = [arg.value for arg in expr.args if arg.keyword is None]
            if expr.callee.value == "map":
                return self._map_bound(expr)
            if expr.callee.value == "rest" and positional:
                return self.list_bound(positional[0])
            if expr.callee.value == "ensemble":
                return self._multiplier(expr)
        return UNKNOWN_LIST_LENGTH

    def bind(self, name: str, expr: ast.Expr) -> None:
        """Remember an upper bound on the length of what `name` is bound to (the largest
        over its bindings)."""
        self.list_bounds[name] = max(self.list_bounds.get(name, 0), self.list_bound(expr))

    def _map_bound(self, call: ast.Call) -> int:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "max" \
                    and isinstance(arg.value, ast.NumberLit):
                return int(min(abs(arg.value.value), SATURATED))
        positional = [arg.value for arg in call.args if arg.keyword is None]
        return self.list_bound(positional[1]) if len(positional) > 1 else UNKNOWN_LIST_LENGTH

    def _multiplier(self, call: ast.Call) -> int:
        numbers = items = 0
        for arg in call.args:
            if isinstance(arg.value, ast.NumberLit):
                numbers = _add(numbers, int(min(abs(arg.value.value), SATURATED)))
            elif isinstance(arg.value, ast.ListExpr):
                items = _add(items, len(arg.value.items))
            elif isinstance(arg.value, ast.Ref):
                items = _add(items, 1)
        return _mul(_add(1, numbers), _add(1, items))

    def _map(self, call: ast.Call, args: list[Cost]) -> Cost:
        """`map(A, xs, ...)`: per item a guarded call of A and its three helper nodes."""
        positional = [arg.value for arg in call.args if arg.keyword is None]
        agent = positional[0] if positional else None
        per_item = self.calls_of_agent(agent.name) if isinstance(agent, ast.Ref) \
            else DEFAULT_AGENT_CALLS
        bound = self._map_bound(call)
        return Cost(_add(*(arg.ir_nodes for arg in args), _mul(BUILTIN_NODES, _add(bound, 1))),
                    _add(*(arg.llm_calls for arg in args), _mul(bound, per_item)))

    def _ensemble_of_flow(self, call: ast.Call, flow: ast.Call) -> Cost:
        """`ensemble(flow(...), n: K)`: the flow K times, and a collect."""
        samples = 1
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "n" \
                    and isinstance(arg.value, ast.NumberLit):
                samples = int(min(abs(arg.value.value), SATURATED))
        inner = self.call(flow)
        others = [self.expression(arg.value) for arg in call.args if arg.value is not flow]
        return Cost(_add(_mul(samples, inner.ir_nodes), 1, *(o.ir_nodes for o in others)),
                    _add(_mul(samples, inner.llm_calls), *(o.llm_calls for o in others)))

    def calls_of_agent(self, name: str) -> int:
        return self.agent_calls.get(name, DEFAULT_AGENT_CALLS)

    def expression(self, expr: ast.Expr) -> Cost:
        if isinstance(expr, ast.Call):
            return self.call(expr)
        if isinstance(expr, ast.ListExpr):
            items = [self.expression(item) for item in expr.items]
            return Cost(_add(1, *(item.ir_nodes for item in items)),
                        _add(*(item.llm_calls for item in items)))
        if isinstance(expr, ast.Ref):
            return Cost(0, 0)  # an edge; a bare `x = y` gets its alias node from the Assign
        return Cost(1, 0)  # a literal: at most one constant node

    def call(self, call: ast.Call) -> Cost:
        first = next((arg.value for arg in call.args if arg.keyword is None), None)
        if call.callee.value == "ensemble" and isinstance(first, ast.Call):
            return self._ensemble_of_flow(call, first)
        args = [self.expression(arg.value) for arg in call.args]
        if call.callee.value == "map" and call.callee.value not in self.agent_calls:
            return self._map(call, args)
        if call.callee.value in SINGLE_NODE_STEPS and call.callee.value not in self.agent_calls:
            return Cost(_add(1, *(arg.ir_nodes for arg in args)),
                        _add(*(arg.llm_calls for arg in args)))
        nodes = _add(*(arg.ir_nodes for arg in args))
        calls = _add(*(arg.llm_calls for arg in args))
        callee = call.callee.value
        if callee in self.agent_calls:
            return Cost(_add(nodes, 2), _add(calls, self.calls_of_agent(callee)))
        numbers = 0
        items = 0
        agent_calls = 0
        builtin = BUILTINS.get(callee)
        for arg in call.args:
            value = arg.value
            if builtin is not None and builtin.labelled_inputs and arg.keyword is not None \
                    and builtin.param(arg.keyword.value) is None:
                continue  # a labelled data input: costed above, multiplies nothing
            if isinstance(value, ast.NumberLit):
                numbers = _add(numbers, int(min(abs(value.value), SATURATED)))
            elif isinstance(value, ast.ListExpr):
                items = _add(items, len(value.items))
                for item in value.items:
                    if isinstance(item, ast.Ref):
                        agent_calls = max(agent_calls, self.calls_of_agent(item.name))
            elif isinstance(value, ast.Ref):
                items = _add(items, 1)
                if value.name in self.agent_calls:
                    agent_calls = max(agent_calls, self.calls_of_agent(value.name))
        multiplier = _mul(_add(1, numbers), _add(1, items))
        # An unknown callee (an agent whose settings are unknown here) runs agents too.
        agent_calls = max(agent_calls, DEFAULT_AGENT_CALLS)
        return Cost(_add(nodes, _mul(BUILTIN_NODES, multiplier)),
                    _add(calls, _mul(multiplier, agent_calls)))

    def block(self, block: ast.Block) -> Cost:
        costs = [self.statement(statement) for statement in block.statements]
        return Cost(_add(*(cost.ir_nodes for cost in costs)),
                    _add(*(cost.llm_calls for cost in costs)))

    def statement(self, statement: ast.Stmt) -> Cost:
        if isinstance(statement, ast.Assign):
            self.bind(statement.target.value, statement.value)
            value = self.expression(statement.value)
            return Cost(_add(value.ir_nodes, 1), value.llm_calls)
        if isinstance(statement, ast.If):
            arms = [self.block(statement.then)]
            if statement.otherwise is not None:
                arms.append(self.block(statement.otherwise))
            return self._branches(arms, statement)
        if isinstance(statement, ast.Match):
            arms = [self.block(case.body) for case in statement.cases]
            if statement.otherwise is not None:
                arms.append(self.block(statement.otherwise))
            return self._branches(arms, statement)
        if isinstance(statement, ast.Loop):
            body = self.block(statement.body)
            bound = _bound(statement.max_iterations)
            merges = _assigned(statement.body)
            return Cost(_add(_mul(bound, _add(body.ir_nodes, 2)), merges),
                        _mul(bound, body.llm_calls))
        return self.graph(statement)

    def _branches(self, arms: list[Cost], statement: ast.If | ast.Match) -> Cost:
        """Every arm's nodes exist in the IR; one arm runs, so calls take the largest."""
        merges = _assigned(statement)
        return Cost(_add(1, merges, *(arm.ir_nodes for arm in arms)),
                    max((arm.llm_calls for arm in arms), default=0))

    def graph(self, statement: ast.Graph) -> Cost:
        steps = _bound(statement.max_steps)
        for item in statement.items:
            if isinstance(item, ast.GraphNode):
                self.bind(item.name.value, item.value)
        nodes = [self.expression(item.value) for item in statement.items
                 if isinstance(item, ast.GraphNode)]
        per_step = Cost(_add(1, *(_add(node.ir_nodes, 2) for node in nodes)),
                        _add(*(node.llm_calls for node in nodes)))
        return Cost(_add(_mul(steps, per_step.ir_nodes), _mul(2, len(nodes))),
                    _mul(steps, per_step.llm_calls))


def _bound(number: ast.NumberLit) -> int:
    value = number.value
    return int(min(max(value, 1), SATURATED)) if value == value else 1  # NaN: the checker says


def _assigned(node: ast.Block | ast.If | ast.Match) -> int:
    """Names bound inside `node` (each may need one merge node after it)."""
    return sum(1 for _ in ast.bindings(node))


def estimate(program: ast.Program, agent_calls: Mapping[str, int] | None = None) -> Cost:
    """Upper bounds on the unrolled IR's size and the worst-case LLM calls of `program`.
    `agent_calls` maps agent names to their worst-case calls per run (tool turns × retries);
    agents missing from it (or all, when it is None) count as `DEFAULT_AGENT_CALLS`."""
    known = dict(agent_calls or {})
    for item in program.items:
        if isinstance(item, ast.AgentDecl):
            known.setdefault(item.name.value, DEFAULT_AGENT_CALLS)
    estimator = _Estimator(known)
    flow = Cost(0, 0)
    declarations = 0
    for item in program.items:
        if isinstance(item, ast.Flow):
            body = estimator.block(item.body)
            flow = Cost(_add(flow.ir_nodes, body.ir_nodes), _add(flow.llm_calls, body.llm_calls))
        else:
            declarations += 2  # an input or output node, and its edge's join
    return Cost(_add(flow.ir_nodes, declarations), flow.llm_calls)


def cost_diagnostics(program: ast.Program, cost: Cost,
                     max_unrolled_nodes: int | None = DEFAULT_MAX_UNROLLED_NODES
                     ) -> list[Diagnostic]:
    """MAS410, at the spec's name, when the unrolled IR could exceed `max_unrolled_nodes`
    (None: no limit). The LLM-call bound is not turned into MAS408 here: an upper bound cannot
    prove a spec too expensive, and a spec under the IR limit lowers quickly, after which
    `compiler.stats` gives the exact worst case."""
    if max_unrolled_nodes is None or cost.ir_nodes <= max_unrolled_nodes:
        return []
    size = "more than 10^18" if cost.ir_nodes >= SATURATED else f"up to {cost.ir_nodes:,}"
    return [diagnostic(
        "MAS410", program.name.span, "unrolling the loops, graphs and fan-outs of this spec "
        f"could make {size} IR nodes; the limit is {max_unrolled_nodes:,}",
        help="lower loop `max`, graph `max_steps`, rounds or samples, or nest fewer loops "
             "(nested bounds multiply)", path=program.path)]

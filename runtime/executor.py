"""The scheduler: executes a compiled IR (see `docs/ir.md` for each node kind's meaning).

A `Plan` is computed once per IR: each node's in-edges by port, its guard, its successors and
how many distinct predecessors it waits for. Executing is event-driven: when a node's last
predecessor finishes, the node is ready; cheap nodes (inputs, merges, votes, branches,
conditions, graph steps...) are evaluated inline at once, agent nodes become asyncio tasks.
Many executions run concurrently in one event loop, so their LLM calls reach the engine
together and batch.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler.ir import (
    GUARD,
    IR,
    OUT,
    TEXT,
    TIED,
    AgentNode,
    AppendNode,
    BranchNode,
    CollectNode,
    ConditionNode,
    Edge,
    FieldNode,
    FormatNode,
    GraphStepNode,
    InputNode,
    IRNode,
    ListNode,
    ListOpNode,
    LiteralNode,
    MergeNode,
    OutputNode,
    ReplyNode,
    RoundsNode,
    RunTestsNode,
    VoteNode,
)
from masdsl.types import Record
from runtime.agent_turn import AgentInput, AgentOutcome, TurnContext, run_agent, user_prompt
from runtime.budget import Budget, BudgetExceeded, BudgetTracker
from runtime.conditions import evaluate, value_key
from runtime.engines.base import Engine, Message
from runtime.format import fill_template
from runtime.list_ops import evaluate_list_op
from runtime.replies import CARRIES_ORIGIN, Origin, full_reply, origin_of
from runtime.run_tests import run_tests
from runtime.tools.binding import bind_tools
from runtime.tools.registry import PythonTool, ToolRegistry
from runtime.tools.sandbox import SandboxLimits, SandboxUnavailable
from runtime.trace import ExecutionRecord, TurnRecord
from runtime.values import Value, to_json


class _Absent:
    """The value of a port that did not run or failed (see docs/ir.md)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()

AgentRunner = Callable[[AgentNode, Sequence[AgentInput], TurnContext, Sequence[Message]],
                      Awaitable[AgentOutcome]]
"""How an agent node is run: `runtime.agent_turn.run_agent` unless told otherwise (a
benchmark wraps it to time the node work apart from the scheduler's); the last argument is
the agent's conversation memory (earlier calls' messages)."""


@dataclass(frozen=True)
class NodePlan:
    node: IRNode
    data_edges: tuple[Edge, ...]  # by target port, in the node's input-port order
    guard: Edge | None
    successors: tuple[str, ...]
    waits_for: int


@dataclass(frozen=True)
class Plan:
    """What the scheduler precomputes once per IR and reuses for every execution."""

    ir: IR
    nodes: Mapping[str, NodePlan]
    sources: tuple[str, ...]  # nodes with no predecessors

    @classmethod
    def of(cls, ir: IR) -> Plan:
        nodes: dict[str, NodePlan] = {}
        for node in ir.nodes():
            edges = ir.in_edges(node.id)
            by_port = {edge.target_port: edge for edge in edges if edge.kind == "data"}
            ordered = tuple(by_port[port.name] for port in node.inputs if port.name in by_port)
            guard = next((edge for edge in edges if edge.target_port == GUARD), None)
            predecessors = {edge.source for edge in edges}
            successors = tuple(sorted({edge.target for edge in ir.out_edges(node.id)}))
            nodes[node.id] = NodePlan(node, ordered, guard, successors, len(predecessors))
        sources = tuple(node_id for node_id, plan in nodes.items() if plan.waits_for == 0)
        return cls(ir=ir, nodes=nodes, sources=sources)


@dataclass
class ExecutionResult:
    """An execution's record (outputs, failures, status, costs) and its turns."""

    record: ExecutionRecord
    turns: list[TurnRecord] = field(default_factory=list)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.record.outputs


@dataclass
class _State:
    """The mutable state of one execution."""

    plan: Plan
    context: TurnContext
    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    finished: int = 0
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)
    """The full reply behind each present value (`runtime.replies`)."""
    exchanges: dict[str, tuple[str, str]] = field(default_factory=dict)
    """The user message and last reply of each finished call of an agent with memory."""


def _as_condition(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Executor:
    """Runs executions of one compiled IR on a set of engines (by model name: `executor`,
    `designer`, or any name an agent's `model` field uses)."""

    def __init__(self, ir: IR, engines: Mapping[str, Engine], *,
                 tools: ToolRegistry | None = None, budget: Budget | None = None,
                 agent_runner: AgentRunner = run_agent) -> None:
        self.plan = Plan.of(ir)
        self.engines = engines
        self.agent_runner = agent_runner
        # Declared tools get their implementations now: an unbound one raises
        # `ToolBindingError` here, before any LLM call.
        self.tools = bind_tools(ir, tools)
        self.budget = budget or Budget()

    async def run(self, inputs: Mapping[str, Value], *, seed: int = 0,
                  execution_id: str | None = None,
                  on_turn: Callable[[TurnRecord], None] | None = None) -> ExecutionResult:
        """Execute once on `inputs` (already typed values, see `runtime.inputs`)."""
        execution_id = execution_id or uuid.uuid4().hex[:12]
        turns: list[TurnRecord] = []

        def record(turn: TurnRecord) -> None:
            turns.append(turn)
            if on_turn is not None:
                on_turn(turn)

        tracker = BudgetTracker(self.budget)
        context = TurnContext(execution_id=execution_id, engines=self.engines,
                              tools=self.tools, budget=tracker, seed=seed, on_turn=record)
        state = _State(plan=self.plan, context=context)
        status = "ok"
        try:
            await self._execute(state, inputs)
        except BudgetExceeded as exceeded:
            status = "budget_exceeded"
            state.failures["budget"] = str(exceeded)
        except asyncio.CancelledError:
            status = "cancelled"
            raise
        finally:
            for task in state.tasks:
                task.cancel()
            if state.tasks:
                await asyncio.gather(*state.tasks, return_exceptions=True)
            declared = {decl.name: decl.type for decl in self.plan.ir.outputs}
            outputs = {name: to_json(value, declared[name])
                       for name, value in state.outputs.items() if value is not ABSENT}
            for name in declared:
                if name not in outputs:
                    state.failures.setdefault(f"output:{name}", "absent")
            if status == "ok" and len(outputs) < len(declared):
                status = "failed"
            result = ExecutionResult(ExecutionRecord(
                execution_id=execution_id, spec=self.plan.ir.name, inputs=dict(inputs),
                outputs=outputs, failures=state.failures, status=status,
                llm_calls=tracker.llm_calls, prompt_tokens=tracker.prompt_tokens,
                completion_tokens=tracker.completion_tokens, wall_s=tracker.elapsed(),
                seed=seed), turns)
        return result

    async def run_many(self, inputs: Sequence[Mapping[str, Value]], *, seed: int = 0,
                       concurrency: int = 64,
                       on_turn: Callable[[TurnRecord], None] | None = None,
                       on_done: Callable[[ExecutionResult], None] | None = None,
                       ) -> list[ExecutionResult]:
        """Execute once per input set, up to `concurrency` at a time in this event loop; the
        i-th execution uses seed `seed + i`. One execution failing never stops the others."""
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int, values: Mapping[str, Value]) -> ExecutionResult:
            async with gate:
                result = await self.run(values, seed=seed + index,
                                        execution_id=f"e{index:05d}", on_turn=on_turn)
            if on_done is not None:
                on_done(result)
            return result

        return list(await asyncio.gather(*(one(i, v) for i, v in enumerate(inputs))))

    # ---- scheduling ---------------------------------------------------------------------

    async def _execute(self, state: _State, inputs: Mapping[str, Value]) -> None:
        plan = state.plan
        state.waiting = {node_id: node.waits_for for node_id, node in plan.nodes.items()}
        done = asyncio.Event()
        failure: list[BaseException] = []
        total = len(plan.nodes)

        def finish(node_id: str) -> None:
            state.finished += 1
            for successor in plan.nodes[node_id].successors:
                state.waiting[successor] -= 1
                if state.waiting[successor] == 0:
                    start(successor)
            if state.finished == total:
                done.set()

        def start(node_id: str) -> None:
            node_plan = plan.nodes[node_id]
            if not self._guard_allows(state, node_plan):
                for port in node_plan.node.outputs:
                    state.values[(node_id, port.name)] = ABSENT
                finish(node_id)
                return
            if isinstance(node_plan.node, AgentNode | RunTestsNode):
                work = self._run_agent(state, node_plan) if isinstance(
                    node_plan.node, AgentNode) else self._run_tests(state, node_plan)
                task = asyncio.create_task(work)
                state.tasks.add(task)
                task.add_done_callback(lambda t: settle(t, node_id))
                return
            self._evaluate(state, node_plan, inputs)
            finish(node_id)

        def settle(task: asyncio.Task[None], node_id: str) -> None:
            state.tasks.discard(task)
            if task.cancelled():
                return
            error = task.exception()
            if error is not None:
                failure.append(error)
                done.set()
                return
            finish(node_id)

        for node_id in plan.sources:
            start(node_id)
        if total and state.finished < total:
            await done.wait()
        if failure:
            raise failure[0]

    def _guard_allows(self, state: _State, node_plan: NodePlan) -> bool:
        guard = node_plan.guard
        if guard is None:
            return True
        value = state.values.get((guard.source, guard.source_port), ABSENT)
        if value is ABSENT:
            return False
        return guard.when is None or _as_condition(value) in guard.when

    def _inputs(self, state: _State, node_plan: NodePlan) -> dict[str, Any]:
        """Each input port's value: its constant, or its data edge's source value."""
        values: dict[str, Any] = {}
        by_port = {edge.target_port: edge for edge in node_plan.data_edges}
        for port in node_plan.node.inputs:
            edge = by_port.get(port.name)
            if edge is not None:
                values[port.name] = state.values.get((edge.source, edge.source_port), ABSENT)
            elif port.constant is not None:
                constant = port.constant
                values[port.name] = constant
            else:
                values[port.name] = ABSENT
        return values

    def _evaluate(self, state: _State, node_plan: NodePlan, inputs: Mapping[str, Value]) -> None:
        node = node_plan.node
        given = self._inputs(state, node_plan)
        present = [value for value in given.values() if value is not ABSENT]
        put = state.values
        if isinstance(node, InputNode):
            put[(node.id, OUT)] = inputs.get(node.name, ABSENT)
        elif isinstance(node, OutputNode):
            state.outputs[node.name] = given.get("value", ABSENT)
        elif isinstance(node, LiteralNode):
            put[(node.id, OUT)] = node.value
        elif isinstance(node, ListNode | CollectNode | RoundsNode):
            put[(node.id, OUT)] = tuple(present)
        elif isinstance(node, MergeNode):
            put[(node.id, OUT)] = present[-1] if present else ABSENT
        elif isinstance(node, BranchNode):
            put[(node.id, OUT)] = given.get("subject", ABSENT)
        elif isinstance(node, FormatNode):
            named = {port.name.removeprefix("in_"): (given[port.name], port.type)
                     for port in node.inputs if given.get(port.name, ABSENT) is not ABSENT}
            put[(node.id, OUT)] = fill_template(node.template, named)
        elif isinstance(node, AppendNode):
            items = given.get("list", ABSENT)
            item = given.get("item", ABSENT)
            put[(node.id, OUT)] = (*(() if items is ABSENT else items),
                                   *(() if item is ABSENT else (item,)))
        elif isinstance(node, FieldNode):
            record = given.get("subject", ABSENT)
            put[(node.id, OUT)] = ABSENT if record is ABSENT else \
                record[self._field_index(node)]
        elif isinstance(node, ListOpNode):
            put[(node.id, OUT)] = evaluate_list_op(node, given, ABSENT)
        elif isinstance(node, ConditionNode):
            holds = evaluate(node.test, given, ABSENT)
            put[(node.id, OUT)] = ABSENT if holds is None else holds
        elif isinstance(node, VoteNode):
            self._vote(state, node_plan, given.get("candidates", ABSENT))
        elif isinstance(node, GraphStepNode):
            put[(node.id, OUT)] = self._graph_step(node, given)
        elif isinstance(node, ReplyNode):
            self._reply(state, node_plan, given.get("value", ABSENT))
        else:  # pragma: no cover - validate_ir guarantees the kinds above
            raise TypeError(f"cannot evaluate node kind {node.kind!r}")
        if isinstance(node, CARRIES_ORIGIN):
            by_port = {edge.target_port: edge for edge in node_plan.data_edges}
            ports = [name for name, value in given.items() if value is not ABSENT]
            origin = origin_of(node, by_port, ports, state.origins)
            if origin is not None and put.get((node.id, OUT), ABSENT) is not ABSENT:
                state.origins[(node.id, OUT)] = origin

    @staticmethod
    def _reply(state: _State, node_plan: NodePlan, value: Any) -> None:
        """`reply(x)`: the full reply behind the value on `value` (`runtime.replies`)."""
        node = node_plan.node
        if value is ABSENT:
            state.values[(node.id, OUT)] = ABSENT
            return
        [edge] = node_plan.data_edges
        origin = state.origins.get((edge.source, edge.source_port))
        state.values[(node.id, OUT)] = full_reply(value, node.inputs[0].type, origin)

    @staticmethod
    def _field_index(node: FieldNode) -> int:
        record = node.inputs[0].type
        assert isinstance(record, Record)
        return next(index for index, field in enumerate(record.fields)
                    if field.name == node.field)

    def _vote(self, state: _State, node_plan: NodePlan, candidates: Any) -> None:
        node = node_plan.node
        assert isinstance(node, VoteNode)
        put = state.values
        if candidates is ABSENT or not candidates:
            put[(node.id, OUT)] = ABSENT
            put[(node.id, TIED)] = False
            return
        scores: dict[str, float] = {}
        first: dict[str, Value] = {}
        for index, value in enumerate(candidates):
            key = value_key(value)
            first.setdefault(key, value)
            weight = node.weights[index] if node.strategy == "weighted" and node.weights and \
                index < len(node.weights) else 1.0
            scores[key] = scores.get(key, 0.0) + weight
        best = max(scores.values())
        leaders = [key for key in first if scores[key] == best]
        tied = node.has_tiebreak and len(leaders) > 1
        put[(node.id, OUT)] = ABSENT if tied else first[leaders[0]]
        put[(node.id, TIED)] = tied
        [edge] = node_plan.data_edges
        origins = state.origins.get((edge.source, edge.source_port))
        if not tied and isinstance(origins, tuple):  # the winner's reply: its first holder's
            winner = next(index for index, value in enumerate(candidates)
                          if value_key(value) == leaders[0])
            if winner < len(origins) and origins[winner] is not None:
                state.origins[(node.id, OUT)] = origins[winner]

    @staticmethod
    def _graph_step(node: GraphStepNode, given: Mapping[str, Any]) -> Any:
        current = given.get("current", ABSENT)
        if current is ABSENT or current == "end":
            return ABSENT
        for edge in node.edges:
            if edge.source != current:
                continue
            if edge.subject is None:
                return edge.target
            subject = given.get(edge.subject, ABSENT)
            if subject is not ABSENT and (edge.when is None or _as_condition(subject) in edge.when):
                return edge.target
        return "end"

    async def _run_tests(self, state: _State, node_plan: NodePlan) -> None:
        """A `run_tests` node: the program and its tests in the python tool's sandbox (its
        limits when the registry's `python` is the sandboxed tool), no LLM call."""
        given = self._inputs(state, node_plan)
        code, tests = given.get("code", ABSENT), given.get("tests", ABSENT)
        if code is ABSENT or tests is ABSENT:
            state.values[(node_plan.node.id, OUT)] = ABSENT
            return
        python = self.tools.get("python") if "python" in self.tools else None
        limits = python.limits if isinstance(python, PythonTool) else SandboxLimits()
        cases = tuple(str(test) for test in tests) if isinstance(tests, tuple) else (str(tests),)
        try:
            state.values[(node_plan.node.id, OUT)] = await run_tests(str(code), cases, limits)
        except SandboxUnavailable as error:
            state.values[(node_plan.node.id, OUT)] = ABSENT
            state.failures[node_plan.node.id] = f"run_tests: {error}"

    async def _run_agent(self, state: _State, node_plan: NodePlan) -> None:
        node = node_plan.node
        assert isinstance(node, AgentNode)
        given = self._inputs(state, node_plan)
        agent_inputs = []
        history: list[Message] = []
        for port in node.inputs:
            value = given.get(port.name, ABSENT)
            edge = next((e for e in node_plan.data_edges if e.target_port == port.name), None)
            if port.name in node.memory:  # an earlier call of this agent: memory, not input
                exchange = state.exchanges.get(edge.source) if edge is not None else None
                if exchange is not None:
                    history += [Message("user", exchange[0]), Message("assistant", exchange[1])]
                continue
            if value is ABSENT:
                continue
            raw = edge is not None and edge.source_port == TEXT
            agent_inputs.append(AgentInput(port.name, value, port.type, raw_text=raw))
        outcome: AgentOutcome = await self.agent_runner(node, agent_inputs, state.context,
                                                        history)
        state.values[(node.id, OUT)] = ABSENT if outcome.value is None else outcome.value
        state.values[(node.id, TEXT)] = outcome.text if outcome.text else ABSENT
        if outcome.value is not None and outcome.text:
            state.origins[(node.id, OUT)] = outcome.text
        if node.agent.memory and outcome.turns:
            state.exchanges[node.id] = (user_prompt(agent_inputs), outcome.text)
        if outcome.failure is not None:
            state.failures[node.id] = outcome.failure


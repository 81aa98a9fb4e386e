"""Scheduler overhead per node: our executor against LangGraph on the same graph and node work.

Generated specs of N agent-call nodes (a chain, and layers of parallel calls joined at the
end) are compiled, then executed two ways on an `InstantEngine` (a benchmark double that
answers at once): by `runtime.executor.Executor`, and by a LangGraph `StateGraph` with one
node per agent node and one edge per dependency, whose node functions call the very same
`runtime.agent_turn.run_agent` on the same IR node with the same inputs. Both sides time
every `run_agent` call; a node's *overhead* is the wall time of the execution minus the time
inside `run_agent`, divided by the number of agent nodes.

The execution's budget has no wall-time limit, so `run_agent` on an instant engine never
suspends (`asyncio.wait_for` without a timeout awaits in place): the timed intervals never
overlap, even when a layer's nodes run concurrently, and their sum is exactly the node work.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from compiler.ir import IR, TEXT, AgentNode, InputNode
from runtime.agent_turn import AgentInput, AgentOutcome, TurnContext, run_agent
from runtime.budget import Budget, BudgetTracker
from runtime.engines.base import Capabilities, ChatRequest, Completion, Message
from runtime.executor import Executor
from runtime.tools.registry import ToolRegistry, default_tools

SIZES = (10, 100, 1000)
SHAPES = ("chain", "layers")
INSTANT_REPLY = "ANSWER: 1"
UNLIMITED = Budget(max_llm_calls=None, max_tokens=None, max_wall_s=None)


class InstantEngine:
    """A benchmark double, not a model: every request gets the same parseable reply
    (`ANSWER: 1`) at once, so what remains of an execution's time is scheduling and
    agent-turn bookkeeping."""

    name = "instant"
    capabilities = Capabilities(batching=True, logprobs=True, grammar=False, token_ids=True,
                                max_context=1 << 20)

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        return [Completion(text=INSTANT_REPLY, prompt_token_ids=(1, 2, 3), token_ids=(1, 2),
                           logprobs=(0.0, 0.0), finish_reason="stop") for _ in requests]

    async def close(self) -> None:
        return None


class TimedAgentRunner:
    """`run_agent`, timed: adds the wall time of every call to `seconds`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    async def __call__(self, node: AgentNode, inputs: Sequence[AgentInput],
                       context: TurnContext, history: Sequence[Message] = ()) -> AgentOutcome:
        started = time.perf_counter()
        outcome = await run_agent(node, inputs, context, history)
        self.seconds += time.perf_counter() - started
        self.calls += 1
        return outcome


# ---- generated specs ------------------------------------------------------------------------

_HEAD = """mas overhead_{shape} {{
  input question: text
  output answer: number
  agent step -> number {{ role "Reply with a number." }}
  flow {{
"""


def chain_spec(nodes: int) -> str:
    """A spec of `nodes` agent calls in a chain: each sees the question and the previous
    answer."""
    lines = ["    x1 = step(question)\n"]
    lines += [f"    x{i} = step(question, previous: x{i - 1})\n" for i in range(2, nodes + 1)]
    return _HEAD.format(shape="chain") + "".join(lines) + f"    answer = x{nodes}\n  }}\n}}\n"


def layers_spec(nodes: int) -> str:
    """A spec of about `nodes` agent calls in layers of width about sqrt(nodes): the first
    layer sees the question, each later call sees two calls of the layer before, and one
    final call joins the last layer."""
    width = max(1, round(math.sqrt(nodes - 1)))
    depth = max(1, round((nodes - 1) / width))
    lines = [f"    l1_{j} = step(question)\n" for j in range(width)]
    for layer in range(2, depth + 1):
        lines += [f"    l{layer}_{j} = step(question, left: l{layer - 1}_{j}, "
                  f"right: l{layer - 1}_{(j + 1) % width})\n" for j in range(width)]
    joined = ", ".join(f"p{j}: l{depth}_{j}" for j in range(width))
    lines.append(f"    answer = step(question, {joined})\n")
    return _HEAD.format(shape="layers") + "".join(lines) + "  }\n}\n"


def generated_ir(shape: str, nodes: int) -> IR:
    """Compile the generated spec of `shape` ("chain" or "layers") with about `nodes` agent
    calls (limits raised to fit)."""
    from compiler.api import compile as compile_spec
    from masdsl.limits import Limits

    text = chain_spec(nodes) if shape == "chain" else layers_spec(nodes)
    limits = Limits(max_nodes=100_000, max_agents=1_000)
    return compile_spec(text, path=f"overhead_{shape}_{nodes}.mas", limits=limits).ir


# ---- the two schedulers --------------------------------------------------------------------


@dataclass(frozen=True)
class Overhead:
    """One measurement: agent nodes, the median scheduler overhead per node and the median
    time inside `run_agent` per node, in µs, and the answer computed."""

    agent_nodes: int
    us_per_node: float
    node_work_us: float
    answer: Any


async def ours(ir: IR, repeat: int) -> Overhead:
    """Our executor's overhead per agent node (median of `repeat` executions, after one
    warm-up)."""
    runner = TimedAgentRunner()
    executor = Executor(ir, {"executor": InstantEngine()}, budget=UNLIMITED,
                        agent_runner=runner)
    agents = sum(1 for _ in ir.agent_nodes())
    samples, work, answer = [], [], None
    for attempt in range(repeat + 1):
        runner.seconds = 0.0
        started = time.perf_counter()
        result = await executor.run({"question": "What is 1 + 0?"}, execution_id="bench")
        wall = time.perf_counter() - started
        answer = result.outputs.get("answer")
        if attempt:
            samples.append((wall - runner.seconds) / agents)
            work.append(runner.seconds / agents)
    return Overhead(agents, statistics.median(samples) * 1e6, statistics.median(work) * 1e6,
                    answer)


@dataclass(frozen=True)
class _Source:
    """Where an agent input comes from in the LangGraph state."""

    port: AgentInput  # label, type and raw-text flag; the value is filled in per call
    key: str


def langgraph_app(ir: IR, runner: TimedAgentRunner, context_of: dict[str, TurnContext]) -> Any:
    """A compiled LangGraph `StateGraph` with one node per agent node of `ir` and the same
    dependencies (a node with several predecessors waits for all of them). The state holds
    each system input and, per agent node, its value and raw text. Node functions build the
    same `AgentInput`s the executor would and call `runner` (the timed `run_agent`)."""
    from langgraph.graph import END, START, StateGraph

    agents = list(ir.agent_nodes())
    names = {node.id: f"a{index}" for index, node in enumerate(agents)}
    fields: dict[str, Any] = {decl.name: Any for decl in ir.inputs}
    for name in names.values():
        fields[f"{name}_out"] = Any
        fields[f"{name}_text"] = Any
    state_type = TypedDict("State", fields)  # type: ignore[misc]
    builder: Any = StateGraph(state_type)
    feeds_output: set[str] = set()
    for node in agents:
        sources, predecessors = [], []
        for edge in ir.in_edges(node.id):
            source = ir.node(edge.source)
            port = node.input_port(edge.target_port)
            if isinstance(source, InputNode) and port is not None:
                sources.append(_Source(AgentInput(port.name, "", port.type), source.name))
            elif isinstance(source, AgentNode) and port is not None:
                raw = edge.source_port == TEXT
                key = f"{names[source.id]}_{'text' if raw else 'out'}"
                sources.append(_Source(AgentInput(port.name, "", port.type, raw), key))
                predecessors.append(names[source.id])
            else:
                raise ValueError(f"{node.id}: unsupported input from {source.kind}")
        order = {port.name: index for index, port in enumerate(node.inputs)}
        sources.sort(key=lambda item: order[item.port.label])
        feeds_output |= {names[node.id] for edge in ir.out_edges(node.id)
                         if not isinstance(ir.node(edge.target), AgentNode)}
        builder.add_node(names[node.id], _node_function(node, names[node.id], sources, runner,
                                                        context_of))
        if not predecessors:
            builder.add_edge(START, names[node.id])
        elif len(predecessors) == 1:
            builder.add_edge(predecessors[0], names[node.id])
        else:
            builder.add_edge(sorted(set(predecessors)), names[node.id])
    for name in sorted(feeds_output):
        builder.add_edge(name, END)
    return builder.compile()


def _node_function(node: AgentNode, name: str, sources: list[_Source],
                   runner: TimedAgentRunner, context_of: dict[str, TurnContext]) -> Any:
    async def call(state: dict[str, Any]) -> dict[str, Any]:
        inputs = [AgentInput(source.port.label, state[source.key], source.port.type,
                             source.port.raw_text)
                  for source in sources if state.get(source.key) is not None]
        outcome = await runner(node, inputs, context_of["current"])
        return {f"{name}_out": outcome.value, f"{name}_text": outcome.text or None}

    return call


async def langgraph(ir: IR, repeat: int) -> Overhead:
    """LangGraph's overhead per agent node on the same graph (median of `repeat`
    executions, after one warm-up)."""
    runner = TimedAgentRunner()
    engine, tools = InstantEngine(), default_tools()
    context_of: dict[str, TurnContext] = {}
    app = langgraph_app(ir, runner, context_of)
    agents = sum(1 for _ in ir.agent_nodes())
    output_source = _output_key(ir)
    samples, work, answer = [], [], None
    for attempt in range(repeat + 1):
        runner.seconds = 0.0
        started = time.perf_counter()
        context_of["current"] = _context(engine, tools)
        state = await app.ainvoke({"question": "What is 1 + 0?"},
                                  config={"recursion_limit": agents + 10})
        wall = time.perf_counter() - started
        answer = state.get(output_source)
        if attempt:
            samples.append((wall - runner.seconds) / agents)
            work.append(runner.seconds / agents)
    return Overhead(agents, statistics.median(samples) * 1e6, statistics.median(work) * 1e6,
                    answer)


def _context(engine: InstantEngine, tools: ToolRegistry) -> TurnContext:
    """A fresh execution context, as the executor makes one per execution (turn records
    are kept, as the executor keeps them)."""
    turns: list[Any] = []
    return TurnContext(execution_id="bench", engines={"executor": engine}, tools=tools,
                       budget=BudgetTracker(UNLIMITED), seed=0, on_turn=turns.append)


def _output_key(ir: IR) -> str:
    agents = {node.id: f"a{index}" for index, node in enumerate(ir.agent_nodes())}
    for node in ir.nodes():
        for edge in ir.out_edges(node.id):
            if node.id in agents and ir.node(edge.target).kind == "output":
                return f"{agents[node.id]}_out"
    raise ValueError("no agent node feeds the output")


@dataclass(frozen=True)
class OverheadRow:
    shape: str
    agent_nodes: int
    ours_us: float
    langgraph_us: float
    node_work_us: float  # inside run_agent per node, ours (the same function on both sides)

    @property
    def ratio(self) -> float:
        return self.ours_us / self.langgraph_us


def measure_overhead(shape: str, nodes: int, repeat: int) -> OverheadRow:
    """Both schedulers on the generated `shape` of about `nodes` agent nodes; checks that
    both computed the same answer."""
    ir = generated_ir(shape, nodes)
    mine = asyncio.run(ours(ir, repeat))
    theirs = asyncio.run(langgraph(ir, repeat))
    if mine.answer != theirs.answer:
        raise AssertionError(f"answers differ: ours {mine.answer!r}, LangGraph "
                             f"{theirs.answer!r}")
    return OverheadRow(shape, mine.agent_nodes, mine.us_per_node, theirs.us_per_node,
                       mine.node_work_us)

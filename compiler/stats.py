"""Static analysis of a compiled spec: worst-case LLM calls and generated tokens, the
critical path in LLM calls (a latency bound), the maximum parallel width, and the agents
that can be skipped.

The worst case follows SEMANTICS.md: every agent run uses all its tool turns and format
retries, `(1 + max_tool_turns) × (1 + retries)` calls of at most `max_tokens` tokens each
(split into 1 logical agent call, `max_tool_turns` tool turns and `(1 + max_tool_turns) ×
retries` format retries, the split `masc compile --stats` and the viewer show);
loops, rounds and graph steps are unrolled to their bounds in the IR; and where a guard
source (a `branch`, a `graph_step`, a vote's `tied` port) chooses between guarded nodes, the
most expensive value is taken: for each value v of the source, sum what runs when it is v,
and take the maximum over v. Nodes without a guard always run.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field

from compiler.ir import IR, AgentNode, AgentSettings, IRNode
from masdsl.diagnostics import Diagnostic, diagnostic
from masdsl.spans import Span


class CallSplit(BaseModel):
    """Where the worst-case LLM calls come from: one logical call per agent run, the tool
    turns it may take, and the format retries of every reply (they sum to the total)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent_calls: int = 0
    tool_turns: int = 0
    format_retries: int = 0

    @property
    def total(self) -> int:
        return self.agent_calls + self.tool_turns + self.format_retries


class Stats(BaseModel):
    """What `masc compile --stats` prints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    llm_calls: int
    generated_tokens: int
    critical_path: int
    parallel_width: int
    skippable_agents: tuple[str, ...]
    agent_runs: int
    nodes: int
    edges: int
    split: CallSplit = Field(default_factory=CallSplit)

    def render(self) -> str:
        skippable = ", ".join(self.skippable_agents) or "none"
        rows = [("worst-case LLM calls", str(self.llm_calls)),
                ("  logical agent calls", str(self.split.agent_calls)),
                ("  tool turns", str(self.split.tool_turns)),
                ("  format retries", str(self.split.format_retries)),
                ("worst-case generated tokens", f"{self.generated_tokens:,}"),
                ("critical path (LLM calls)", str(self.critical_path)),
                ("max parallel width (LLM calls)", str(self.parallel_width)),
                ("agent runs (IR agent nodes)", str(self.agent_runs)),
                ("skippable agents", skippable),
                ("IR nodes / edges", f"{self.nodes} / {self.edges}")]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows) + "\n"


def calls(node: IRNode) -> int:
    """Worst-case LLM calls of one node (0 for nodes that call no model)."""
    return node.agent.worst_case_calls if isinstance(node, AgentNode) else 0


def tokens(node: IRNode) -> int:
    """Worst-case generated tokens of one node."""
    return calls(node) * node.agent.max_tokens if isinstance(node, AgentNode) else 0


class GuardForest:
    """The IR's guard structure, computed once: a topological order, each node's guard
    (source, when), and the nodes each guard source guards."""

    def __init__(self, ir: IR) -> None:
        self.ir = ir
        self.order: list[str] = list(nx.topological_sort(ir.graph))
        self.guard: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.guarded: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for _, target, data in ir.graph.edges(data=True):
            edge = data["edge"]
            if edge.kind == "guard":
                self.guard[target] = (edge.source, edge.when or ())
        for node_id in self.order:
            if node_id in self.guard:
                source, when = self.guard[node_id]
                self.guarded.setdefault(source, []).append((when, node_id))
        self.roots = [node_id for node_id in self.order if node_id not in self.guard]


def worst_case(ir: IR, weight: Callable[[IRNode], int],
               forest: GuardForest | None = None) -> int:
    """The largest total `weight` of the nodes that run in one execution, taking at each
    guard source its most expensive value."""
    forest = forest or GuardForest(ir)
    total: dict[str, int] = {}
    for node_id in reversed(forest.order):
        children = forest.guarded.get(node_id, [])
        best = 0
        for value in dict.fromkeys(value for when, _ in children for value in when):
            best = max(best, sum(total[child] for when, child in children if value in when))
        total[node_id] = weight(ir.node(node_id)) + best
    return sum(total[node_id] for node_id in forest.roots)


def run_split(agent: AgentSettings) -> tuple[int, int, int]:
    """One agent run's worst-case calls as (logical call, tool turns, format retries); they
    sum to `agent.worst_case_calls`."""
    turns, retries = agent.max_tool_turns, agent.retries
    return (1, turns, (1 + turns) * retries)


def split_of(node: IRNode) -> tuple[int, int, int]:
    """One node's worst-case calls as (logical agent calls, tool turns, format retries)."""
    return run_split(node.agent) if isinstance(node, AgentNode) else (0, 0, 0)


def worst_case_split(ir: IR, forest: GuardForest | None = None,
                     include: Callable[[IRNode], bool] | None = None) -> CallSplit:
    """The worst-case LLM calls split by `split_of`, along the same choices as
    `worst_case(ir, calls)`: at each guard source the value with the most calls (ties go to
    the larger split), so the parts sum to the worst-case total. With `include`, only the
    nodes it accepts count (the cost of one statement)."""
    forest = forest or GuardForest(ir)
    Split = tuple[int, int, int, int]  # (calls, logical, tool turns, retries)
    total: dict[str, Split] = {}
    for node_id in reversed(forest.order):
        node = ir.node(node_id)
        logical, turns, retries = (split_of(node) if include is None or include(node)
                                   else (0, 0, 0))
        children = forest.guarded.get(node_id, [])
        best: Split = (0, 0, 0, 0)
        for value in dict.fromkeys(value for when, _ in children for value in when):
            parts = [total[child] for when, child in children if value in when]
            summed: Split = (sum(part[0] for part in parts), sum(part[1] for part in parts),
                             sum(part[2] for part in parts), sum(part[3] for part in parts))
            best = max(best, summed)
        total[node_id] = (logical + turns + retries + best[0], logical + best[1],
                          turns + best[2], retries + best[3])
    roots = [total[node_id] for node_id in forest.roots]
    return CallSplit(agent_calls=sum(root[1] for root in roots),
                     tool_turns=sum(root[2] for root in roots),
                     format_retries=sum(root[3] for root in roots))


def critical_path(ir: IR, forest: GuardForest | None = None) -> int:
    """The largest number of LLM calls on one dependency chain (data or guard edges)."""
    forest = forest or GuardForest(ir)
    longest: dict[str, int] = {}
    for node_id in forest.order:
        before = max((longest[pred] for pred in ir.graph.predecessors(node_id)), default=0)
        longest[node_id] = before + calls(ir.node(node_id))
    return max(longest.values(), default=0)


def parallel_width(ir: IR, forest: GuardForest | None = None) -> int:
    """The most agent runs that can be in flight at once. Agent nodes at the same agent
    depth (agent nodes on the longest chain up to and including them) never depend on each
    other, so a scheduler firing ready nodes runs them together; for each depth the worst
    case over the guards is taken (exclusive arms are not counted twice). One pass: each
    node carries a sparse per-depth count vector, and a guard source takes, depth by depth,
    the largest sum over its values."""
    forest = forest or GuardForest(ir)
    depth: dict[str, int] = {}
    for node_id in forest.order:
        before = max((depth[pred] for pred in ir.graph.predecessors(node_id)), default=0)
        depth[node_id] = before + (1 if isinstance(ir.node(node_id), AgentNode) else 0)
    total: dict[str, dict[int, int]] = {}
    for node_id in reversed(forest.order):
        vector: dict[int, int] = {}
        children = forest.guarded.get(node_id, [])
        for value in dict.fromkeys(value for when, _ in children for value in when):
            summed: dict[int, int] = {}
            for when, child in children:
                if value in when:
                    for level, count in total[child].items():
                        summed[level] = summed.get(level, 0) + count
            for level, count in summed.items():
                vector[level] = max(vector.get(level, 0), count)
        if isinstance(ir.node(node_id), AgentNode):
            vector[depth[node_id]] = vector.get(depth[node_id], 0) + 1
        total[node_id] = vector
    width: dict[int, int] = {}
    for root in forest.roots:
        for level, count in total[root].items():
            width[level] = width.get(level, 0) + count
    return max(width.values(), default=0)


def skippable_agents(ir: IR, forest: GuardForest | None = None) -> tuple[str, ...]:
    """Agents whose every run is guarded, so some execution does not call them at all."""
    forest = forest or GuardForest(ir)
    always = {node.agent.name for node in ir.agent_nodes() if node.id not in forest.guard}
    return tuple(sorted({node.agent.name for node in ir.agent_nodes()} - always))


def analyze(ir: IR) -> Stats:
    """All static statistics of a (validated) IR."""
    forest = GuardForest(ir)
    return Stats(llm_calls=worst_case(ir, calls, forest),
                 generated_tokens=worst_case(ir, tokens, forest),
                 critical_path=critical_path(ir, forest),
                 parallel_width=parallel_width(ir, forest),
                 skippable_agents=skippable_agents(ir, forest),
                 agent_runs=sum(1 for _ in ir.agent_nodes()),
                 nodes=ir.graph.number_of_nodes(), edges=ir.graph.number_of_edges(),
                 split=worst_case_split(ir, forest))


def limit_diagnostics(stats: Stats, span: Span, path: str, max_llm_calls: int | None = None,
                      max_generated_tokens: int | None = None) -> list[Diagnostic]:
    """MAS408 / MAS409 when the worst case exceeds a stated limit."""
    found = []
    if max_llm_calls is not None and stats.llm_calls > max_llm_calls:
        found.append(diagnostic(
            "MAS408", span, f"the spec can make {stats.llm_calls} LLM calls in the worst case; "
            f"the limit is {max_llm_calls}",
            help="lower rounds, samples, retries or max_tool_turns", path=path))
    if max_generated_tokens is not None and stats.generated_tokens > max_generated_tokens:
        found.append(diagnostic(
            "MAS409", span, f"the spec can generate {stats.generated_tokens:,} tokens in the "
            f"worst case; the limit is {max_generated_tokens:,}",
            help="lower max_tokens or the number of calls", path=path))
    return found

"""Static analysis of a compiled spec: worst-case LLM calls and generated tokens, the
critical path in LLM calls (a latency bound), the maximum parallel width, and the agents
that can be skipped.

The worst case follows SEMANTICS.md: every agent run uses all its tool turns and format
retries, `(1 + max_tool_turns) × (1 + retries)` calls of at most `max_tokens` tokens each;
loops, rounds and graph steps are unrolled to their bounds in the IR; and where a guard
source (a `branch`, a `graph_step`, a vote's `tied` port) chooses between guarded nodes, the
most expensive value is taken: for each value v of the source, sum what runs when it is v,
and take the maximum over v. Nodes without a guard always run.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx
from pydantic import BaseModel, ConfigDict

from compiler.ir import IR, AgentNode, IRNode
from masdsl.diagnostics import Diagnostic, diagnostic
from masdsl.spans import Span


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

    def render(self) -> str:
        skippable = ", ".join(self.skippable_agents) or "none"
        rows = [("worst-case LLM calls", str(self.llm_calls)),
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


def worst_case(ir: IR, weight: Callable[[IRNode], int]) -> int:
    """The largest total `weight` of the nodes that run in one execution, taking at each
    guard source its most expensive value."""
    order = list(nx.topological_sort(ir.graph))
    guarded: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    roots = []
    for node_id in order:
        guard = ir.guard_of(node_id)
        if guard is None:
            roots.append(node_id)
        else:
            guarded.setdefault(guard.source, []).append((guard.when or (), node_id))
    total: dict[str, int] = {}
    for node_id in reversed(order):
        children = guarded.get(node_id, [])
        best = 0
        for value in dict.fromkeys(value for when, _ in children for value in when):
            best = max(best, sum(total[child] for when, child in children if value in when))
        total[node_id] = weight(ir.node(node_id)) + best
    return sum(total[node_id] for node_id in roots)


def critical_path(ir: IR) -> int:
    """The largest number of LLM calls on one dependency chain (data or guard edges)."""
    longest: dict[str, int] = {}
    for node_id in nx.topological_sort(ir.graph):
        before = max((longest[pred] for pred in ir.graph.predecessors(node_id)), default=0)
        longest[node_id] = before + calls(ir.node(node_id))
    return max(longest.values(), default=0)


def parallel_width(ir: IR) -> int:
    """The most agent runs that can be in flight at once: agent nodes at the same LLM depth
    (number of agent nodes on the longest chain up to and including them) never depend on
    each other, so a scheduler firing ready nodes runs them together; exclusive branches are
    not counted twice."""
    depth: dict[str, int] = {}
    for node_id in nx.topological_sort(ir.graph):
        before = max((depth[pred] for pred in ir.graph.predecessors(node_id)), default=0)
        depth[node_id] = before + (1 if isinstance(ir.node(node_id), AgentNode) else 0)
    levels = {depth[node.id] for node in ir.agent_nodes()}
    return max((worst_case(ir, lambda node, level=level: int(  # type: ignore[misc]
        isinstance(node, AgentNode) and depth[node.id] == level)) for level in levels),
        default=0)


def skippable_agents(ir: IR) -> tuple[str, ...]:
    """Agents whose every run is guarded, so some execution does not call them at all."""
    always = {node.agent.name for node in ir.agent_nodes() if ir.guard_of(node.id) is None}
    return tuple(sorted({node.agent.name for node in ir.agent_nodes()} - always))


def analyze(ir: IR) -> Stats:
    """All static statistics of a (validated) IR."""
    return Stats(llm_calls=worst_case(ir, calls), generated_tokens=worst_case(ir, tokens),
                 critical_path=critical_path(ir), parallel_width=parallel_width(ir),
                 skippable_agents=skippable_agents(ir),
                 agent_runs=sum(1 for _ in ir.agent_nodes()),
                 nodes=ir.graph.number_of_nodes(), edges=ir.graph.number_of_edges())


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

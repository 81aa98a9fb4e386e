"""Dead-node elimination: removes every node from which no path (data or guard) leads to a
system output. It warns (MAS309) once per source call none of whose agent runs survives;
unrolled instances that are dead while others live (e.g. the last iteration's reviewer of a
loop, whose verdict no later iteration reads) are removed silently: the construct as written
is not dead. Input nodes are kept: they are the system's declared interface."""

from __future__ import annotations

import networkx as nx

from compiler.ir import IR, AgentNode, InputNode, OutputNode
from masdsl.diagnostics import Diagnostic, diagnostic


def eliminate_dead_nodes(ir: IR) -> tuple[IR, list[Diagnostic]]:
    """Drop nodes that cannot influence an output; MAS309 for removed agent calls."""
    live: set[str] = set()
    for node in ir.nodes():
        if isinstance(node, OutputNode):
            live |= nx.ancestors(ir.graph, node.id) | {node.id}
    dead = [node for node in ir.nodes()
            if node.id not in live and not isinstance(node, InputNode)]
    if not dead:
        return ir, []
    removed_calls: dict[tuple[int, int], list[AgentNode]] = {}
    for node in dead:
        if isinstance(node, AgentNode):
            removed_calls.setdefault((node.span.start, node.span.end), []).append(node)
    surviving = {(node.span.start, node.span.end) for node in ir.agent_nodes()
                 if node.id in live}
    diagnostics = []
    for key, calls in removed_calls.items():
        if key in surviving:
            continue
        agents = ", ".join(dict.fromkeys(call.agent.name for call in calls))
        diagnostics.append(diagnostic(
            "MAS309", calls[0].span,
            f"this result never reaches an output: {len(calls)} agent run(s) of {agents} "
            "removed", help="use the value, or delete the statement", path=ir.path))
    dead_ids = {node.id for node in dead}
    nodes = [node for node in ir.nodes() if node.id not in dead_ids]
    edges = [edge for edge in ir.edges()
             if edge.source not in dead_ids and edge.target not in dead_ids]
    return ir.replace(nodes, edges), diagnostics

"""Annotates each node with whether it can reach a system output, for the trainer's
per-turn credit: `reaches_output` follows data and guard edges (the node can influence an
output at all: a router's classifier does, through its guards); `feeds_output` follows data
edges only (the node's value can flow into an output)."""

from __future__ import annotations

from compiler.ir import IR, OutputNode
from masdsl.diagnostics import Diagnostic


def annotate_reachability(ir: IR) -> tuple[IR, list[Diagnostic]]:
    """Set `reaches_output` and `feeds_output` on every node."""
    outputs = [node.id for node in ir.nodes() if isinstance(node, OutputNode)]
    reaches = _backwards(ir, outputs, data_only=False)
    feeds = _backwards(ir, outputs, data_only=True)
    nodes = [node.model_copy(update={"reaches_output": node.id in reaches,
                                     "feeds_output": node.id in feeds})
             for node in ir.nodes()]
    return ir.replace(nodes, ir.edges()), []


def _backwards(ir: IR, starts: list[str], data_only: bool) -> set[str]:
    seen = set(starts)
    stack = list(starts)
    while stack:
        node_id = stack.pop()
        for source, _, data in ir.graph.in_edges(node_id, data=True):
            if (data_only and data["edge"].kind != "data") or source in seen:
                continue
            seen.add(source)
            stack.append(source)
    return seen

"""The compiled graph as inline SVG, drawn before the page is written (no script draws it).

With Graphviz `dot` installed the IR's DOT (`compiler.export_dot`) is laid out by dot;
without it a simple layered layout is drawn here (rank = longest path from a source, nodes
ordered by id within a rank). Either way every node is a `<g class="node">` whose
`<title>` is the IR node id, which is how the page finds what was clicked.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from compiler.ir import IR, AgentNode

_NODE_W, _NODE_H, _GAP_X, _GAP_Y = 170, 46, 24, 56


def graph_svg(ir: IR, use_dot: bool = True) -> tuple[str, str]:
    """The SVG markup (no XML prologue) and which layout drew it (`dot` or `builtin`)."""
    if use_dot:
        from compiler.export_dot import GraphvizMissing, render, to_dot

        try:
            drawn = render(to_dot(ir), "svg").decode("utf-8")
        except (GraphvizMissing, RuntimeError, OSError):
            pass
        else:
            start = drawn.find("<svg")
            svg = re.sub(r"<!--.*?-->\s*", "", drawn[start:], flags=re.DOTALL)
            return svg, "dot"
    return layered_svg(ir), "builtin"


def layered_svg(ir: IR) -> str:
    """A layered drawing: one row per rank, straight edges (guards dashed)."""
    import networkx as nx

    rank: dict[str, int] = {}
    for node_id in nx.topological_sort(ir.graph):
        rank[node_id] = max((rank[p] + 1 for p in ir.graph.predecessors(node_id)), default=0)
    rows: dict[int, list[str]] = {}
    for node_id in sorted(rank):
        rows.setdefault(rank[node_id], []).append(node_id)
    widest = max((len(row) for row in rows.values()), default=1)
    width = widest * (_NODE_W + _GAP_X) + _GAP_X
    height = len(rows) * (_NODE_H + _GAP_Y) + _GAP_Y
    where: dict[str, tuple[float, float]] = {}
    for level, row in rows.items():
        offset = (width - len(row) * (_NODE_W + _GAP_X) + _GAP_X) / 2
        for position, node_id in enumerate(row):
            where[node_id] = (offset + position * (_NODE_W + _GAP_X),
                              _GAP_Y + level * (_NODE_H + _GAP_Y))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}pt" height="{height}pt" '
             f'viewBox="0 0 {width} {height}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
             'fill="#555"/></marker></defs>', '<g class="graph">']
    for edge in ir.edges():
        (x1, y1), (x2, y2) = where[edge.source], where[edge.target]
        dash = ' stroke-dasharray="5,4"' if edge.kind == "guard" else ""
        parts.append(f'<g class="edge"><line x1="{x1 + _NODE_W / 2:.1f}" '
                     f'y1="{y1 + _NODE_H:.1f}" x2="{x2 + _NODE_W / 2:.1f}" y2="{y2:.1f}" '
                     f'stroke="#555"{dash} marker-end="url(#arrow)"/></g>')
    for node in ir.nodes():
        x, y = where[node.id]
        fill = "#e8f0fe" if isinstance(node, AgentNode) else "#ffffff"
        caption = _caption(node)
        parts.append(f'<g class="node"><title>{escape(node.id)}</title>'
                     f'<rect x="{x:.1f}" y="{y:.1f}" width="{_NODE_W}" height="{_NODE_H}" '
                     f'rx="6" fill="{fill}" stroke="black"/>')
        for index, line in enumerate(caption):
            parts.append(f'<text x="{x + _NODE_W / 2:.1f}" y="{y + 16 + index * 13:.1f}" '
                         f'text-anchor="middle" font-family="Helvetica,sans-serif" '
                         f'font-size="10">{escape(line)}</text>')
        parts.append("</g>")
    parts.append("</g></svg>")
    return "\n".join(parts)


def _caption(node: Any) -> list[str]:
    lines = [node.kind, node.label]
    if isinstance(node, AgentNode):
        lines.append(f"-> {node.agent.output.render()} [≤{node.agent.worst_case_calls} calls]")
    return [line if len(line) <= 30 else line[:29] + "…" for line in lines]

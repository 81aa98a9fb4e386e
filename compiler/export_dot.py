"""Graphviz DOT for an IR: one box per node (shape by kind), data edges labelled
`port: type`, guard edges dashed and labelled with the values they run under. Nodes of the
same scope (a branch arm, a loop iteration, a graph node's step) are drawn in a cluster.
`render` turns DOT into SVG or PNG with the Graphviz `dot` program when it is installed."""

from __future__ import annotations

import shutil
import subprocess

from compiler.ir import IR, AgentNode, IRNode

SHAPES = {"input": "invhouse", "output": "house", "literal": "note", "list": "component",
          "merge": "circle", "collect": "trapezium", "vote": "hexagon", "branch": "diamond",
          "graph_step": "diamond"}


class GraphvizMissing(RuntimeError):
    """The `dot` program is not installed."""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_caption(node: IRNode) -> str:
    """A short multi-line caption: kind, label and, for agents, the settings that matter."""
    if isinstance(node, AgentNode):
        agent = node.agent
        return (f"{node.kind}\n{node.label}\n-> {agent.output.render()} "
                f"[{agent.model}, ≤{agent.worst_case_calls} calls]")
    return f"{node.kind}\n{node.label}"


def to_dot(ir: IR) -> str:
    """The IR as a DOT digraph (deterministic: sorted nodes and edges)."""
    lines = [f"digraph {_quote(ir.name)} {{", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    clusters: dict[tuple[str, ...], list[IRNode]] = {}
    for node in ir.nodes():
        clusters.setdefault(node.scope, []).append(node)
    for index, (scope, nodes) in enumerate(sorted(clusters.items())):
        indent = "  "
        if scope:
            lines.append(f"  subgraph cluster_{index} {{")
            lines.append(f"    label={_quote(' / '.join(scope))}; style=dashed;")
            indent = "    "
        for node in nodes:
            shape = SHAPES.get(node.kind, "box")
            style = ', style="rounded,filled", fillcolor="#e8f0fe"' if isinstance(
                node, AgentNode) else ""
            lines.append(f"{indent}{_quote(node.id)} [label={_quote(node_caption(node))}, "
                         f"shape={shape}{style}];")
        if scope:
            lines.append("  }")
    for edge in ir.edges():
        if edge.kind == "guard":
            label = "when " + "|".join(edge.when or ())
            attributes = f'label={_quote(label)}, style=dashed, color="#888888"'
        else:
            port = edge.target_port if edge.source_port == "out" else (
                f"{edge.source_port}→{edge.target_port}")
            attributes = f"label={_quote(f'{port}: {edge.type.render()}')}"
        lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, fmt: str, timeout: float = 60.0) -> bytes:
    """Run Graphviz `dot -T<fmt>` on DOT text; raises `GraphvizMissing` when it is absent."""
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing("Graphviz 'dot' is not installed; install graphviz (e.g. "
                              "`apt-get install graphviz`) or use --format dot|mermaid")
    result = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode("utf-8"),
                            capture_output=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode('utf-8', 'replace').strip()}")
    return result.stdout

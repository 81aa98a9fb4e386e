"""Mermaid flowchart text for an IR (renders in GitHub and most Markdown viewers): agent
nodes as rounded boxes, branches as rhombi, guard edges dotted with their values."""

from __future__ import annotations

from compiler.ir import IR, AgentNode, IRNode


def _escape(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def _mermaid_id(node_id: str) -> str:
    return node_id.replace(".", "_")


def _shape(node: IRNode) -> tuple[str, str]:
    if isinstance(node, AgentNode):
        return "(", ")"
    if node.kind in ("branch", "graph_step"):
        return "{", "}"
    if node.kind in ("input", "output"):
        return "[/", "/]"
    if node.kind == "merge":
        return "((", "))"
    return "[", "]"


def to_mermaid(ir: IR) -> str:
    """The IR as a deterministic Mermaid `flowchart TD`."""
    lines = ["flowchart TD"]
    for node in ir.nodes():
        opening, closing = _shape(node)
        caption = f"{node.kind}\n{node.label}"
        if isinstance(node, AgentNode):
            caption += f"\n-> {node.agent.output.render()}"
        lines.append(f'  {_mermaid_id(node.id)}{opening}"{_escape(caption)}"{closing}')
    for edge in ir.edges():
        source, target = _mermaid_id(edge.source), _mermaid_id(edge.target)
        if edge.kind == "guard":
            label = _escape("when " + "|".join(edge.when or ()))
            lines.append(f'  {source} -.->|"{label}"| {target}')
        else:
            label = _escape(f"{edge.target_port}: {edge.type.render()}")
            lines.append(f'  {source} -->|"{label}"| {target}')
    return "\n".join(lines) + "\n"

"""Constant folding: literal arguments become constants on the ports that use them.

A `literal` node whose every user is an ordinary consumer (not a `merge` or an `output`,
where the literal's own guard decides presence) is removed and its value is set as the
`constant` of each port it fed. A `list` node whose items are then all constants becomes a
`literal` holding the tuple, which can fold in turn. Parameters such as `n`, `rounds` and
`weights` are already constants of their nodes after lowering.
"""

from __future__ import annotations

from compiler.ir import IR, Edge, IRNode, ListNode, LiteralNode, MergeNode, OutputNode
from masdsl.diagnostics import Diagnostic


def fold_constants(ir: IR) -> tuple[IR, list[Diagnostic]]:
    """Fold literals into their users until nothing changes."""
    nodes = {node.id: node for node in ir.nodes()}
    edges = ir.edges()
    changed, folded_any = True, False
    while changed:
        changed = False
        for node in list(nodes.values()):
            if isinstance(node, ListNode) and node.inputs and all(
                    port.constant is not None for port in node.inputs):
                nodes[node.id] = LiteralNode(
                    id=node.id, span=node.span, label=node.label, scope=node.scope,
                    outputs=node.outputs,
                    value=tuple(port.constant for port in node.inputs))
                changed = True
        users: dict[str, list[Edge]] = {}
        for edge in edges:
            users.setdefault(edge.source, []).append(edge)
        folded: set[str] = set()
        for node in list(nodes.values()):
            uses = users.get(node.id, [])
            if not isinstance(node, LiteralNode) or not uses or not all(
                    _foldable_into(edge, nodes) for edge in uses):
                continue
            for edge in uses:
                nodes[edge.target] = _with_constant(nodes[edge.target], edge, node)
            del nodes[node.id]
            folded.add(node.id)
        if folded:
            edges = [edge for edge in edges
                     if edge.source not in folded and edge.target not in folded]
            changed = True
        folded_any = folded_any or changed
    if not folded_any:
        return ir, []
    return ir.replace(nodes.values(), edges), []


def _foldable_into(edge: Edge, nodes: dict[str, IRNode]) -> bool:
    return edge.kind == "data" and not isinstance(nodes[edge.target], MergeNode | OutputNode)


def _with_constant(target: IRNode, edge: Edge, literal: LiteralNode) -> IRNode:
    ports = tuple(port.model_copy(update={"constant": literal.value})
                  if port.name == edge.target_port else port for port in target.inputs)
    return target.model_copy(update={"inputs": ports})

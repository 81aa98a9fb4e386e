"""`validate_ir`: the invariants every IR holds after lowering and after every pass.

- every edge joins existing ports and its type agrees with both ports;
- no dangling ports: each input port has exactly one data edge or a constant, never both;
- a node has at most one guard edge, and a guard's `when` values lie in its source's domain;
- every loop is bounded: loops and graphs are unrolled, so the graph must be acyclic;
- exactly the declared outputs are produced (one `output` node each, types equal) and
  every declared input has its `input` node.
"""

from __future__ import annotations

import networkx as nx

from compiler.ir import GUARD, IR, BranchNode, GraphStepNode, InputNode, OutputNode
from masdsl.types import Type


class IRInvariantError(ValueError):
    """An IR that breaks an invariant: a compiler bug, never a user error."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:10]
        more = f"\n... and {len(problems) - 10} more" if len(problems) > 10 else ""
        super().__init__("invalid IR:\n" + "\n".join(f"- {p}" for p in shown) + more)


def ir_problems(ir: IR) -> list[str]:
    """Every broken invariant of `ir`, as sentences (empty when the IR is valid)."""
    problems: list[str] = []
    for node_id in ir.graph.nodes:
        if "node" not in ir.graph.nodes[node_id]:
            problems.append(f"edge endpoint {node_id} is not a node")
    if problems:
        return problems
    for edge in ir.edges():
        source, target = ir.node(edge.source), ir.node(edge.target)
        source_port = source.output_port(edge.source_port)
        if source_port is None:
            problems.append(f"{edge.source} has no output port '{edge.source_port}'")
        elif not _same(source_port.type, edge.type):
            problems.append(f"edge {edge.source} -> {edge.target}: type "
                            f"{edge.type.render()} != source {source_port.type.render()}")
        if edge.kind == "guard":
            if edge.target_port != GUARD or edge.when is None:
                problems.append(f"guard edge into {edge.target} is malformed")
            elif isinstance(source, BranchNode | GraphStepNode) and not set(edge.when) <= set(
                    source.domain):
                problems.append(f"guard {edge.source} -> {edge.target}: {edge.when} outside "
                                f"the domain {source.domain}")
            continue
        target_port = target.input_port(edge.target_port)
        if target_port is None:
            problems.append(f"{edge.target} has no input port '{edge.target_port}'")
        elif not _same(target_port.type, edge.type):
            problems.append(f"edge {edge.source} -> {edge.target}.{edge.target_port}: type "
                            f"{edge.type.render()} != port {target_port.type.render()}")
        elif target_port.constant is not None:
            problems.append(f"{edge.target}.{edge.target_port} has both a constant and an edge")
    for node in ir.nodes():
        incoming = [data["edge"] for _, _, data in ir.graph.in_edges(node.id, data=True)]
        if sum(edge.kind == "guard" for edge in incoming) > 1:
            problems.append(f"{node.id} has more than one guard")
        fed = [edge.target_port for edge in incoming if edge.kind == "data"]
        for port in node.inputs:
            count = fed.count(port.name)
            if count > 1:
                problems.append(f"{node.id}.{port.name} is fed {count} times")
            elif count == 0 and port.constant is None:
                problems.append(f"{node.id}.{port.name} is dangling (no edge, no constant)")
    if not nx.is_directed_acyclic_graph(ir.graph):
        problems.append("the IR has a cycle: every loop must be unrolled to its bound")
    problems += _interface_problems(ir)
    return problems


def _same(left: Type, right: Type) -> bool:
    """Type equality, with the common case (one shared type object) checked first."""
    return left is right or left == right


def _interface_problems(ir: IR) -> list[str]:
    problems = []
    produced = [node for node in ir.nodes() if isinstance(node, OutputNode)]
    declared = {output.name: output for output in ir.outputs}
    names = [node.name for node in produced]
    if sorted(names) != sorted(declared):
        problems.append(f"outputs produced {sorted(names)} != declared {sorted(declared)}")
    for node in produced:
        port = node.input_port("value")
        if port is None or (node.name in declared and port.type != declared[node.name].type):
            problems.append(f"output {node.name} does not take its declared type")
    given = sorted(node.name for node in ir.nodes() if isinstance(node, InputNode))
    if given != sorted(item.name for item in ir.inputs):
        problems.append(f"input nodes {given} != declared inputs")
    return problems


def validate_ir(ir: IR) -> IR:
    """Raise `IRInvariantError` listing every broken invariant; return the IR when valid."""
    problems = ir_problems(ir)
    if problems:
        raise IRInvariantError(problems)
    return ir

"""validate_ir: a valid IR passes; each broken invariant is reported."""

from __future__ import annotations

import pytest
from compiler_helpers import lowered, spec

from compiler.ir import IR, Edge
from compiler.validate import IRInvariantError, ir_problems, validate_ir
from masdsl.types import BOOL

SOURCE = spec("    ok = check(question)\n"
              "    if ok { answer = solver(question) } else { answer = alt(question) }")


def _edges_into(ir: IR, label: str) -> list[Edge]:
    (node,) = [node for node in ir.nodes() if node.label == label]
    return ir.in_edges(node.id)


def test_a_lowered_ir_is_valid() -> None:
    ir = lowered(SOURCE)
    assert ir_problems(ir) == []
    assert validate_ir(ir) is ir


def test_edge_type_disagreeing_with_its_ports_is_reported() -> None:
    ir = lowered(SOURCE)
    bad = _edges_into(ir, "solver")[0]
    edges = [edge.model_copy(update={"type": BOOL}) if edge == bad else edge
             for edge in ir.edges()]
    problems = ir_problems(ir.replace(ir.nodes(), edges))
    assert any("type" in problem for problem in problems)


def test_dangling_port_is_reported() -> None:
    ir = lowered(SOURCE)
    data = next(edge for edge in _edges_into(ir, "solver") if edge.kind == "data")
    problems = ir_problems(ir.replace(ir.nodes(), [e for e in ir.edges() if e != data]))
    assert any("dangling" in problem for problem in problems)


def test_cycle_is_reported_as_an_unbounded_loop() -> None:
    ir = lowered(SOURCE)
    (solver,) = [node for node in ir.nodes() if node.label == "solver"]
    (check,) = [node for node in ir.nodes() if node.label == "check"]
    fake = Edge(source=solver.id, source_port="text", target=check.id,
                target_port="question", type=solver.outputs[1].type)
    others = [edge for edge in ir.edges()
              if not (edge.target == check.id and edge.target_port == "question")]
    problems = ir_problems(ir.replace(ir.nodes(), [*others, fake]))
    assert any("cycle" in problem for problem in problems)


def test_missing_output_is_reported_and_raises() -> None:
    ir = lowered(SOURCE)
    nodes = [node for node in ir.nodes() if node.kind != "output"]
    broken = ir.replace(nodes, [edge for edge in ir.edges()
                                if edge.target in {node.id for node in nodes}])
    with pytest.raises(IRInvariantError, match="outputs produced"):
        validate_ir(broken)


def test_second_guard_and_out_of_domain_guard_are_reported() -> None:
    ir = lowered(SOURCE)
    (guard_edge,) = [edge for edge in _edges_into(ir, "solver") if edge.kind == "guard"]
    (alt,) = [node for node in ir.nodes() if node.label == "alt"]
    (check,) = [node for node in ir.nodes() if node.label == "check"]
    extra = Edge(source=check.id, target=alt.id, target_port="guard", type=BOOL,
                 kind="guard", when=("true",))
    problems = ir_problems(ir.replace(ir.nodes(), [*ir.edges(), extra]))
    assert any("more than one guard" in problem for problem in problems)
    wrong_domain = guard_edge.model_copy(update={"when": ("maybe",)})
    edges = [wrong_domain if edge == guard_edge else edge for edge in ir.edges()]
    assert any("domain" in problem for problem in ir_problems(ir.replace(ir.nodes(), edges)))

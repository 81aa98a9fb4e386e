"""The pass pipeline: constant folding, dead-node elimination (MAS309), reachability."""

from __future__ import annotations

from compiler_helpers import lowered, nodes_of, optimised, spec

from compiler.ir import LiteralNode
from compiler.passes import PASSES
from compiler.passes.annotate_reachability import annotate_reachability
from compiler.passes.eliminate_dead_nodes import eliminate_dead_nodes
from compiler.passes.fold_constants import fold_constants
from compiler.validate import validate_ir


def test_pipeline_order_is_one_tuple() -> None:
    assert (fold_constants, eliminate_dead_nodes, annotate_reachability) == PASSES


def test_literal_arguments_fold_into_port_constants() -> None:
    ir = lowered(spec('    answer = solver(question, hint: "be brief", tries: 3, '
                      'flags: [true, false])'))
    assert len([node for node in ir.nodes() if isinstance(node, LiteralNode)]) == 4
    folded, diagnostics = fold_constants(ir)
    validate_ir(folded)
    assert diagnostics == []
    (call,) = nodes_of(folded, "agent_call")
    assert [(port.name, port.constant) for port in call.inputs] == [
        ("question", None), ("hint", "be brief"), ("tries", 3), ("flags", (True, False))]
    assert not [node for node in folded.nodes() if node.kind in ("literal", "list")]


def test_literals_feeding_a_merge_keep_their_node() -> None:
    ir = lowered(spec('    ok = check(question)\n'
                      '    if ok { n = "yes" } else { n = "no" }\n'
                      '    answer = solver(question, n)'))
    folded, _ = fold_constants(ir)
    assert len([node for node in folded.nodes() if isinstance(node, LiteralNode)]) == 2


def test_dead_call_is_removed_with_a_located_warning() -> None:
    source = spec("    unused = alt(question)\n    answer = solver(question)")
    ir, diagnostics = optimised(source)
    assert [node.agent.name for node in ir.agent_nodes()] == ["solver"]
    (warning,) = diagnostics
    assert warning.code == "MAS309" and not warning.is_error
    assert source[warning.span.start:warning.span.end] == "alt(question)"


def test_dead_last_iteration_of_a_live_loop_is_removed_silently() -> None:
    ir, diagnostics = optimised(spec(
        "    loop max 3 until v == approve {\n"
        "      answer = solver(question, review: r)\n"
        "      r = note(answer)\n"
        "      v = critic(r)\n"
        "    }"))
    assert diagnostics == []
    notes = [node for node in ir.agent_nodes() if node.agent.name == "note"]
    assert len(notes) == 2  # the third review is never read


def test_reachability_separates_control_from_data() -> None:
    ir, _ = optimised(spec(
        "    k = classify(question)\n"
        "    match k { case a { answer = solver(question) } else { answer = alt(question) } }"))
    by_agent = {node.agent.name: node for node in ir.agent_nodes()}
    assert by_agent["classify"].reaches_output is True
    assert by_agent["classify"].feeds_output is False
    assert by_agent["solver"].feeds_output is True
    unannotated = lowered(spec("    answer = solver(question)"))
    assert all(node.reaches_output is None for node in unannotated.nodes())

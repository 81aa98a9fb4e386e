"""Labelled builtin data inputs reach every agent that sees the pattern's inputs, under their
label and in the order written; a flow as an ensemble subject is lowered once per sample."""

from __future__ import annotations

from compiler_helpers import optimised, spec

from compiler.ir import AgentNode


def ports(node: AgentNode) -> list[str]:
    return [port.name for port in node.inputs]


def test_reflect_debate_and_map_show_the_labelled_input_to_each_of_their_agents() -> None:
    ir, _ = optimised(spec(
        "    r = reflect(alt, critic: critic, rounds: 1, question, hint: \"be brief\")\n"
        "    d = debate([solver, alt], judge: judge, rounds: 1, context: r, question)\n"
        "    xs = ensemble(solver, n: 2, question)\n"
        "    m = map(alt, xs, note: d)\n"
        "    answer = vote(m, strategy: consensus, judge: judge, problem: question)"))
    by_kind: dict[str, list[list[str]]] = {}
    for node in ir.agent_nodes():
        by_kind.setdefault(node.kind, []).append(ports(node))
    assert by_kind["reflect_answer"] == [["question", "hint"]]
    assert by_kind["reflect_critique"] == [["question", "hint", "answer"]]
    assert by_kind["reflect_revise"] == [["question", "hint", "answer", "critique"]]
    assert by_kind["debate_turn"][0] == ["context", "question"]
    assert by_kind["debate_judge"] == [["context", "question", "round1_solver", "round1_alt"]]
    assert sorted(by_kind["ensemble_member"]) == [["item", "note"], ["item", "note"],
                                                   ["question"], ["question"]]
    assert by_kind["vote_judge"] == [["candidates", "problem"]]


def test_an_ensemble_of_a_flow_copies_the_flow_into_its_own_scopes() -> None:
    ir, _ = optimised(spec(
        "    xs = ensemble(reflect(alt, critic: critic, rounds: 1, question), n: 3)\n"
        "    answer = vote(xs)"))
    answers = [node for node in ir.agent_nodes() if node.kind == "reflect_answer"]
    assert [node.scope for node in answers] == [(f"ensemble member {index}",)
                                                for index in range(3)]
    assert sum(1 for _ in ir.agent_nodes()) == 9

"""Lowering: one test per construct, asserting the explicit nodes and guards it produces."""

from __future__ import annotations

import pytest
from compiler_helpers import lower_source, lowered, nodes_of, spec

from compiler.ir import GUARD, AgentNode, BranchNode, GraphStepNode, MergeNode
from masdsl.diagnostics import MasError
from masdsl.types import NUMBER, List


def test_agent_call_carries_resolved_settings_labels_and_span() -> None:
    source = spec("    answer = tooly(question, hint: question)")
    ir = lowered(source)
    (call,) = nodes_of(ir, "agent_call")
    assert call.agent.name == "tooly" and call.agent.tools == ("python",)
    assert call.agent.max_tool_turns == 3 and call.agent.retries == 2
    assert call.agent.max_tokens == 512 and call.agent.model == "executor"
    assert [port.name for port in call.inputs] == ["question", "hint"]
    assert source[call.span.start:call.span.end] == "tooly(question, hint: question)"
    assert [port.name for port in call.outputs] == ["out", "text"]


def test_ensemble_lowers_to_members_and_a_collect() -> None:
    ir = lowered(spec("    xs = ensemble(solver, n: 3, question)\n"
                      "    answer = vote(xs, strategy: majority)"))
    members = nodes_of(ir, "ensemble_member")
    assert [member.member for member in members] == [0, 1, 2]
    (collect,) = nodes_of(ir, "collect")
    assert [port.name for port in collect.inputs] == ["member_0", "member_1", "member_2"]
    assert collect.outputs[0].type == List(element=NUMBER)


def test_majority_vote_with_tiebreak_is_guarded_by_tied() -> None:
    ir = lowered(spec("    answer = vote(ensemble([solver, alt], question), strategy: majority, "
                      "tiebreak: judge, question)"))
    (vote,) = nodes_of(ir, "vote")
    assert [port.name for port in vote.outputs] == ["out", "tied"]
    (tiebreak,) = nodes_of(ir, "vote_tiebreak")
    guard = ir.guard_of(tiebreak.id)
    assert guard is not None and guard.source == vote.id and guard.source_port == "tied"
    assert guard.when == ("true",)
    assert [port.name for port in tiebreak.inputs] == ["candidates", "question"]
    (merge,) = nodes_of(ir, "merge")
    assert [edge.source for edge in ir.in_edges(merge.id)] == [vote.id, tiebreak.id]


def test_weighted_and_consensus_votes() -> None:
    ir = lowered(spec("    xs = ensemble(solver, n: 2, question)\n"
                      "    w = vote(xs, strategy: weighted, weights: [1, 2.5])\n"
                      "    answer = vote([w, w], strategy: consensus, judge: judge)"))
    (vote,) = nodes_of(ir, "vote")
    assert vote.strategy == "weighted" and vote.weights == (1.0, 2.5)
    (judge,) = nodes_of(ir, "vote_judge")
    assert judge.agent.name == "judge" and judge.inputs[0].name == "candidates"


def test_debate_is_unrolled_per_round_and_debater() -> None:
    ir = lowered(spec("    answer = debate([solver, alt], judge: judge, rounds: 2, question)"))
    turns = nodes_of(ir, "debate_turn")
    assert [(turn.round, turn.agent.name) for turn in turns] == [
        (1, "solver"), (1, "alt"), (2, "solver"), (2, "alt")]
    assert [port.name for port in turns[2].inputs] == ["question", "round1_solver",
                                                       "round1_alt"]
    (judge,) = nodes_of(ir, "debate_judge")
    assert len(judge.inputs) == 5


def test_reflect_with_stop_guards_each_revision() -> None:
    ir = lowered(spec("    answer = reflect(solver, critic: critic, rounds: 2, stop: approve, "
                      "question)"))
    critiques = nodes_of(ir, "reflect_critique")
    revisions = nodes_of(ir, "reflect_revise")
    branches = [node for node in ir.nodes() if isinstance(node, BranchNode)]
    assert len(critiques) == 2 and len(revisions) == 2 and len(branches) == 2
    for revision, branch in zip(revisions, branches, strict=True):
        guard = ir.guard_of(revision.id)
        assert guard is not None and guard.source == branch.id and guard.when == ("revise",)
    assert ir.guard_of(critiques[1].id).source == branches[0].id  # type: ignore[union-attr]
    assert [port.name for port in revisions[0].inputs] == ["question", "answer", "critique"]


def test_reflect_without_stop_has_no_guards() -> None:
    ir = lowered(spec("    answer = reflect(solver, critic: note, rounds: 3, question)"))
    assert not [edge for edge in ir.edges() if edge.kind == "guard"]
    (output,) = nodes_of(ir, "output")
    (last,) = [node for node in nodes_of(ir, "reflect_revise") if node.round == 3]
    assert ir.in_edges(output.id)[0].source == last.id


def test_if_else_guards_each_arm_and_merges() -> None:
    ir = lowered(spec("    ok = check(question)\n"
                      "    if ok { answer = solver(question) } else { answer = alt(question) }"))
    (branch,) = [node for node in ir.nodes() if isinstance(node, BranchNode)]
    assert branch.origin == "if" and branch.domain == ("true", "false")
    whens = {ir.node(edge.target).label: edge.when for edge in ir.out_edges(branch.id)
             if edge.kind == "guard"}
    assert whens == {"solver": ("true",), "alt": ("false",)}
    assert any(isinstance(node, MergeNode) for node in ir.nodes())


def test_match_router_covers_the_enum() -> None:
    ir = lowered(spec("    k = classify(question)\n"
                      "    match k { case a { answer = solver(question) } "
                      "case b { answer = alt(question) } else { answer = judge(question) } }"))
    (branch,) = [node for node in ir.nodes() if isinstance(node, BranchNode)]
    whens = sorted(edge.when or () for edge in ir.out_edges(branch.id) if edge.kind == "guard")
    assert whens == [("a",), ("b",), ("c",)]


def test_loop_until_unrolls_with_guards_and_absent_first_feedback() -> None:
    ir = lowered(spec("    loop max 3 until v == approve {\n"
                      "      answer = solver(question, feedback: c)\n"
                      "      c = note(answer)\n"
                      "      v = critic(c)\n"
                      "    }"))
    solvers = [node for node in nodes_of(ir, "agent_call") if node.agent.name == "solver"]
    assert len(solvers) == 3
    assert [port.name for port in solvers[0].inputs] == ["question"]
    assert [port.name for port in solvers[1].inputs] == ["question", "feedback"]
    assert ir.guard_of(solvers[0].id) is None
    for solver in solvers[1:]:
        guard = ir.guard_of(solver.id)
        assert guard is not None and guard.when == ("revise",)
        assert ir.node(guard.source).origin == "loop_until"  # type: ignore[union-attr]


def test_loop_without_until_has_no_guards_and_binds_the_last_iteration() -> None:
    ir = lowered(spec("    answer = solver(question)\n"
                      "    loop max 2 { answer = alt(question, answer) }"))
    assert not [edge for edge in ir.edges() if edge.kind == "guard"]
    alts = [node for node in nodes_of(ir, "agent_call") if node.agent.name == "alt"]
    (output,) = nodes_of(ir, "output")
    assert ir.in_edges(output.id)[0].source == alts[-1].id


def test_graph_is_unrolled_to_max_steps_and_acyclic() -> None:
    ir = lowered(spec("    graph max_steps 5 {\n"
                      "      start s\n"
                      "      node s = solver(question, r)\n"
                      "      node r = critic(question, s)\n"
                      "      edge s -> r\n"
                      "      edge r -> end when r == approve\n"
                      "      edge r -> s\n"
                      "    }\n"
                      "    answer = s"))
    steps = [node for node in ir.nodes() if isinstance(node, GraphStepNode)]
    assert [step.step for step in steps] == [1, 2, 3, 4]
    agents = [node for node in ir.nodes() if isinstance(node, AgentNode)]
    assert [node.agent.name for node in agents] == ["solver", "critic", "solver", "critic",
                                                    "solver"]
    assert ir.guard_of(agents[0].id) is None
    guard = ir.guard_of(agents[2].id)
    assert guard is not None and guard.source == steps[1].id and guard.when == ("s",)
    assert steps[1].edges[0].subject == "subject_r" and steps[1].edges[0].when == ("approve",)
    assert all(edge.target_port == GUARD for edge in ir.edges() if edge.kind == "guard")


def test_graph_node_beyond_max_steps_is_bound_but_absent() -> None:
    ir = lowered(spec("    graph max_steps 1 {\n"
                      "      start s\n"
                      "      node s = solver(question)\n"
                      "      node t = alt(question, s)\n"
                      "      edge s -> t\n"
                      "    }\n"
                      "    answer = t"))
    (output,) = nodes_of(ir, "output")
    (edge,) = ir.in_edges(output.id)
    absent = ir.node(edge.source)
    assert isinstance(absent, MergeNode) and absent.inputs == () and absent.name == "t"
    assert [node.agent.name for node in ir.agent_nodes()] == ["solver"]


def test_lowering_reports_located_errors_instead_of_crashing() -> None:
    with pytest.raises(MasError) as error:
        lower_source(spec("    answer = solver(nowhere)"))
    assert error.value.diagnostics[0].code == "MAS101"


def test_a_name_bound_before_a_loop_feeds_its_first_iteration() -> None:
    """docs/language.md (loop): the first iteration reads the value from before the loop."""
    ir = lowered(spec("""
    answer = solver(question)
    loop max 2 { answer = alt(question, previous: answer) }
"""))
    first, second = [node for node in nodes_of(ir, "agent_call") if node.agent.name == "alt"]
    [solver] = [node for node in nodes_of(ir, "agent_call") if node.agent.name == "solver"]
    feeds = {node.id: {edge.target_port: edge.source for edge in ir.in_edges(node.id)}
             for node in (first, second)}
    assert feeds[first.id]["previous"] == solver.id
    assert feeds[second.id]["previous"] == first.id


def test_a_condition_on_one_value_branches_on_it_directly() -> None:
    ir = lowered(spec("""
    kind = classify(question)
    answer = solver(question)
    if kind != a { answer = alt(question) }
"""))
    assert nodes_of(ir, "condition") == []
    [branch] = [node for node in ir.nodes() if isinstance(node, BranchNode)]
    [guard] = [edge for edge in ir.out_edges(branch.id) if edge.kind == "guard"]
    assert branch.domain == ("a", "b", "c") and guard.when == ("b", "c")


def test_a_computed_condition_becomes_a_condition_node_tested_for_true() -> None:
    ir = lowered(spec("""
    votes = ensemble(solver, n: 3, question)
    answer = vote(votes)
    if not all_equal(votes) and len(votes) >= 2 { answer = judge(question, votes) }
"""))
    [condition] = nodes_of(ir, "condition")
    assert [port.name for port in condition.inputs] == ["in_votes"]
    assert condition.test.op == "and"  # type: ignore[attr-defined]
    [branch] = [node for node in ir.nodes() if isinstance(node, BranchNode)]
    assert [edge.source for edge in ir.in_edges(branch.id)] == [condition.id]
    [guard] = [edge for edge in ir.out_edges(branch.id) if edge.kind == "guard"]
    assert branch.domain == ("true", "false") and guard.when == ("true",)
    assert ir.node(guard.target).agent.name == "judge"  # type: ignore[union-attr]

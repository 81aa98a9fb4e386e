"""Static analysis: worst-case calls and tokens, critical path, width, skippable agents,
limits; and the worst case equals a brute-force enumeration of executions."""

from __future__ import annotations

import pytest
from compiler_helpers import enumerate_worst_calls, optimised, spec

from compiler.stats import CallSplit, analyze, limit_diagnostics, worst_case_split
from masdsl.spans import NO_SPAN


def test_ensemble_vote_counts_tool_turns_and_retries() -> None:
    # tooly: tools -> 3 tool turns, default 2 retries: (1+3)*(1+2) = 12 calls per run
    ir, _ = optimised(spec("    answer = vote(ensemble(tooly, n: 3, question), "
                           "strategy: majority, tiebreak: judge)"))
    stats = analyze(ir)
    assert stats.llm_calls == 3 * 12 + 1
    assert stats.generated_tokens == (3 * 12 + 1) * 512
    assert stats.critical_path == 12 + 1
    assert stats.parallel_width == 3
    assert stats.skippable_agents == ("judge",)
    # 3 logical tooly calls, 3 × 3 tool turns, 3 × (1 + 3) × 2 format retries, 1 judge call
    assert stats.split == CallSplit(agent_calls=4, tool_turns=9, format_retries=24)


def test_exclusive_arms_count_the_most_expensive_one() -> None:
    ir, _ = optimised(spec(
        "    k = classify(question)\n"
        "    match k { case a { answer = alt(question) }\n"
        "              else { answer = vote(ensemble(solver, n: 3, question)) } }"))
    stats = analyze(ir)
    assert stats.llm_calls == 1 + 3  # classify + max(alt: 2, three solvers: 3)
    assert stats.parallel_width == 3
    assert set(stats.skippable_agents) == {"alt", "solver"}


def test_loops_and_reflection_count_at_their_bounds() -> None:
    ir, _ = optimised(spec(
        "    answer = reflect(alt, critic: critic, rounds: 3, stop: approve, question)\n"
        "    loop max 4 until ok { ok = check(question, answer) }"))
    stats = analyze(ir)
    assert stats.llm_calls == 2 + 3 * (1 + 2) + 0  # the loop's checks never reach the output
    assert stats.critical_path == stats.llm_calls


def test_limits_in_worst_case_terms() -> None:
    ir, _ = optimised(spec("    answer = vote(ensemble(tooly, n: 3, question))"))
    stats = analyze(ir)
    found = limit_diagnostics(stats, NO_SPAN, "x.mas", max_llm_calls=35,
                              max_generated_tokens=1000)
    assert [item.code for item in found] == ["MAS408", "MAS409"]
    assert limit_diagnostics(stats, NO_SPAN, "x.mas", max_llm_calls=36) == []


CASES = [
    "    answer = debate([solver, alt], judge: judge, rounds: 3, question)",
    "    ok = check(question)\n"
    "    if ok { answer = solver(question) } else { answer = reflect(alt, critic: critic, "
    "rounds: 2, stop: approve, question) }",
    "    answer = solver(question)\n"
    "    loop max 3 until v == approve { answer = alt(question, answer)\n"
    "      v = critic(answer) }",
    "    graph max_steps 6 {\n      start s\n      node s = solver(question, r)\n"
    "      node r = critic(question, s)\n      node t = tooly(question, s)\n"
    "      edge s -> r when r == revise\n      edge s -> t\n      edge r -> s when r == revise\n"
    "      edge t -> s\n    }\n    answer = s",
]


@pytest.mark.parametrize("flow", CASES)
def test_worst_case_equals_enumeration(flow: str) -> None:
    ir, _ = optimised(spec(flow))
    enumerated = enumerate_worst_calls(ir)
    assert enumerated is not None
    assert analyze(ir).llm_calls == enumerated
    assert analyze(ir).split.total == enumerated  # the split follows the same worst case


def test_split_of_a_statement_counts_only_its_nodes() -> None:
    text = spec("    drafts = ensemble(tooly, n: 2, question)\n"
                "    answer = alt(question, drafts)")
    ir, _ = optimised(text)
    second = text[:text.index("answer = alt")].count("\n") + 1
    only = worst_case_split(ir, include=lambda node: node.span.line == second)
    assert only == CallSplit(agent_calls=1, tool_turns=0, format_retries=1)  # alt: retries 1
    assert analyze(ir).split == CallSplit(agent_calls=3, tool_turns=6, format_retries=17)

"""Worst-case cost of the list constructs, deterministic steps and flows as ensemble
subjects: equal to enumerating every execution of the IR, `bound × the agent's cost` for a
map, `n × the flow's cost` for an ensemble of a flow, and nothing for the steps that call no
model; the symbolic bound (`compiler.cost`) stays above it."""

from __future__ import annotations

import pytest
from compiler_helpers import enumerate_worst_calls, optimised, spec

from compiler.api import compile as compile_spec
from compiler.api import front_end
from compiler.cost import estimate
from compiler.lower import ir_agents
from compiler.stats import analyze
from masdsl.parser import parse

# solver: retries 0 (1 call per run), alt: retries 1 (2 calls), tooly: tools (1 + 3) × 3 = 12.
CASES = {
    "map over a static list": ("    xs = ensemble(solver, n: 3, question)\n"
                               "    ys = map(alt, xs, question)\n    answer = vote(ys)",
                               3 * 1 + 3 * 2),
    "map with a max": ("    loop max 2 { hist = append(hist, solver(question)) }\n"
                       "    ys = map(tooly, hist, max: 3)\n    answer = vote(ys)",
                       2 + 3 * 12),
    "ensemble of reflections": ("    xs = ensemble(reflect(alt, critic: critic, rounds: 2, "
                                "stop: approve, question), n: 3)\n    answer = vote(xs)",
                                3 * (2 + 2 * (1 + 2))),
    "steps without a model": ("    r = run_tests(question, [\"assert True\"])\n"
                              "    xs = ensemble(solver, n: 2, question)\n"
                              "    answer = solver(question, xs[0], head(xs), len(xs), "
                              "rest(xs), note: r.report)", 2 + 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_worst_case_is_the_bound_times_the_cost_and_equals_enumeration(name: str) -> None:
    flow, expected = CASES[name]
    ir, _ = optimised(spec(flow))
    assert enumerate_worst_calls(ir) == expected
    assert analyze(ir).llm_calls == expected
    assert analyze(ir).split.total == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_symbolic_bound_holds(name: str) -> None:
    source = spec(CASES[name][0])
    program = parse(source)
    analysis = front_end(program)
    agents = ir_agents(analysis)
    cost = estimate(program, {name: agent.worst_case_calls for name, agent in agents.items()})
    assert cost.llm_calls >= compile_spec(source, max_unrolled_nodes=None).stats.llm_calls


def test_a_map_whose_list_is_shorter_skips_the_rest_of_its_calls() -> None:
    ir, _ = optimised(spec("    xs = ensemble(solver, n: 2, question)\n"
                           "    ys = map(tooly, xs, max: 4)\n    answer = vote(ys)"))
    members = [node for node in ir.agent_nodes() if node.agent.name == "tooly"]
    assert len(members) == 2  # the static length (2) bounds the map, below max: 4
    assert all(ir.guard_of(node.id) is not None for node in members)

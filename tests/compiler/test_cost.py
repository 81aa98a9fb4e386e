"""The symbolic worst case (`compiler.cost`): an upper bound on the unrolled IR and on LLM
calls, computed before unrolling, that stops specs whose nested bounds multiply."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from compiler.api import compile as compile_spec
from compiler.api import front_end
from compiler.cost import DEFAULT_MAX_UNROLLED_NODES, cost_diagnostics, estimate
from compiler.lower import ir_agents, lower
from masdsl.diagnostics import MasError
from masdsl.parser import parse
from tests.strategies import programs

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted([*ROOT.glob("examples/*.mas"), *ROOT.glob("tests/fixtures/valid/*.mas"),
                *ROOT.glob("benchmarks/systems/**/*.mas")])


def nested_loops(depth: int, bound: int = 16) -> str:
    body = "answer = solver(question)"
    for _ in range(depth):
        body = f"loop max {bound} {{ {body} }}"
    return ("mas nested {\n  input question: text\n  output answer: text\n"
            '  agent solver { role "Solve." }\n'
            f"  flow {{\n    answer = solver(question)\n    {body}\n  }}\n}}\n")


def assert_bounds_hold(source: str, path: str = "<spec>") -> None:
    program = parse(source, path)
    analysis = front_end(program)
    assert analysis.ok
    compiled = compile_spec(program, max_unrolled_nodes=None)
    agents = ir_agents(analysis)
    cost = estimate(program, {name: agent.worst_case_calls for name, agent in agents.items()})
    assert cost.ir_nodes >= lower(program, analysis).graph.number_of_nodes()
    assert cost.llm_calls >= compiled.stats.llm_calls


@pytest.mark.parametrize("path", SPECS, ids=lambda path: path.name)
def test_the_bounds_hold_for_every_shipped_spec(path: Path) -> None:
    assert_bounds_hold(path.read_text(encoding="utf-8"), str(path))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_the_bounds_hold_for_generated_specs(source: str) -> None:
    assert_bounds_hold(source)


def test_five_nested_loops_are_rejected_before_unrolling() -> None:
    started = time.monotonic()
    with pytest.raises(MasError) as caught:
        compile_spec(nested_loops(5))
    assert time.monotonic() - started < 5.0
    [found] = caught.value.diagnostics
    assert found.code == "MAS410"
    assert "the limit is 20,000" in found.message


def test_thirty_nested_loops_do_not_overflow_or_hang() -> None:
    program = parse(nested_loops(30))
    cost = estimate(program)
    [found] = cost_diagnostics(program, cost)
    assert "more than 10^18" in found.message


def test_max_llm_calls_now_stops_what_the_size_limit_lets_through() -> None:
    with pytest.raises(MasError) as caught:
        compile_spec(nested_loops(2), max_llm_calls=1)
    assert "MAS408" in [item.code for item in caught.value.diagnostics]


def test_the_limit_is_configurable_and_can_be_lifted() -> None:
    program = parse(nested_loops(2))
    assert estimate(program).ir_nodes < DEFAULT_MAX_UNROLLED_NODES
    with pytest.raises(MasError):
        compile_spec(nested_loops(2), max_unrolled_nodes=100)
    assert compile_spec(nested_loops(2), max_unrolled_nodes=None).stats.agent_runs >= 1


def test_the_designer_compile_path_applies_the_default_limit() -> None:
    from runtime.designer import Interface, compile_design

    interface = Interface(inputs=(("question", "text"),), outputs=(("answer", "text"),))
    compiled, diagnostics = compile_design(nested_loops(5), interface)
    assert compiled is None
    assert [item.code for item in diagnostics] == ["MAS410"]


def test_masc_check_reports_it_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from masdsl.cli import main

    spec = tmp_path / "nested.mas"
    spec.write_text(nested_loops(30))
    assert main(["check", "--output-format", "concise", str(spec)]) == 1
    assert "MAS410" in capsys.readouterr().out

"""The scheduler and agent turns on the example specs, with a scripted engine (test double)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from compiler.api import compile as compile_spec
from runtime.budget import Budget
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from runtime.replay import replay
from runtime.trace import TurnRecord
from tests.runtime.scripted_engine import ScriptedEngine, last_user, role_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def compiled(name: str):  # type: ignore[no-untyped-def]
    return compile_spec((EXAMPLES / f"{name}.mas").read_text(), path=f"{name}.mas").ir


def run(ir, engine, inputs, **options):  # type: ignore[no-untyped-def]
    executor = Executor(ir, {"executor": engine}, budget=options.pop("budget", None))
    return asyncio.run(executor.run(inputs, **options))


def test_self_consistency_majority_vote() -> None:
    answers = iter(["ANSWER: 4", "I think ANSWER: 5", "so ANSWER: 4"])
    engine = ScriptedEngine(lambda request: next(answers))
    result = run(compiled("self_consistency"), engine, {"question": "2+2?"})
    assert result.outputs == {"answer": 4}
    assert result.record.status == "ok"
    assert result.record.llm_calls == 3
    # the three samples are independent LLM calls with distinct seeds
    assert len({request.sampling.seed for request in engine.requests}) == 3


def test_samples_are_issued_concurrently_so_the_engine_can_batch() -> None:
    engine = ScriptedEngine(lambda request: "ANSWER: 1", delay_s=0.01)
    ir = compiled("self_consistency")
    executor = Executor(ir, {"executor": engine})
    asyncio.run(executor.run_many([{"question": "q"}] * 4))
    assert len(engine.requests) == 12
    # every request of every execution was in flight at the same time
    assert engine.max_in_flight == 12


def reflect_reply(verdicts: list[str]):  # type: ignore[no-untyped-def]
    verdict_iter = iter(verdicts)

    def reply(request: ChatRequest) -> str:
        if "strict verifier" in role_of(request):
            return f"Checked.\nANSWER: {next(verdict_iter)}"
        return "ANSWER: 7" if "critique" not in last_user(request) else "ANSWER: 8"

    return reply


def test_reflection_stops_early_when_the_critic_approves() -> None:
    engine = ScriptedEngine(reflect_reply(["approve"]))
    result = run(compiled("solver_verifier"), engine, {"question": "q"})
    assert result.outputs == {"answer": 7}
    assert result.record.llm_calls == 2  # answer + one critique, no revision


def test_reflection_revises_with_the_critique_in_view() -> None:
    engine = ScriptedEngine(reflect_reply(["revise", "approve"]))
    result = run(compiled("solver_verifier"), engine, {"question": "q"})
    assert result.outputs == {"answer": 8}
    revise = [r for r in engine.requests if "critique" in last_user(r)]
    assert len(revise) == 1 and "Checked." in last_user(revise[0])
    assert result.record.llm_calls == 4  # answer, critique, revise, critique


def test_router_runs_only_the_selected_arm() -> None:
    def reply(request: ChatRequest) -> str:
        role = role_of(request)
        if "label" in role:
            return "ANSWER: geometry"
        return "ANSWER: 90" if "geometry" in role.lower() or "theorem" in role else "ANSWER: 1"

    engine = ScriptedEngine(reply)
    result = run(compiled("router"), engine, {"question": "angle?"})
    assert result.outputs == {"answer": 90}
    assert result.record.llm_calls == 2


def test_cyclic_graph_loops_until_accepted() -> None:
    verdicts = iter(["retry", "accept"])

    def reply(request: ChatRequest) -> str:
        role = role_of(request)
        if role.startswith("You plan"):
            return "1. add"
        if role.startswith("You check"):
            return "step 2 is wrong"
        if role.startswith("Read the critique"):
            return f"ANSWER: {next(verdicts)}"
        return "ANSWER: 12"

    engine = ScriptedEngine(reply)
    result = run(compiled("cyclic_graph"), engine, {"question": "q"})
    assert result.outputs == {"answer": 12}
    # plan, (attempt, critique, verdict) x 2
    assert result.record.llm_calls == 7


def test_format_retry_then_success_records_every_turn() -> None:
    replies = iter(["no idea", "ANSWER: 3"] + ["ANSWER: 3"] * 4)
    engine = ScriptedEngine(lambda request: next(replies))
    turns: list[TurnRecord] = []
    result = run(compiled("single_agent_tool"), engine, {"question": "q"},
                 on_turn=turns.append)
    assert result.outputs == {"answer": 3}
    assert [turn.turn_index for turn in turns] == [0, 1]
    assert "could not read" in engine.requests[1].messages[-1].content
    assert turns[1].parsed_value == 3 and turns[0].parsed_value is None


def test_exhausted_retries_give_a_typed_failure_not_an_exception() -> None:
    engine = ScriptedEngine(lambda request: "I refuse to give a number")
    result = run(compiled("single_agent_tool"), engine, {"question": "q"})
    assert result.record.status == "failed"
    assert result.outputs == {}
    assert result.record.failures["output:answer"] == "absent"
    assert any(reason.startswith("format:") for reason in result.record.failures.values())


def test_tool_call_runs_in_the_sandbox_and_feeds_the_result_back() -> None:
    def reply(request: ChatRequest) -> str:
        if request.messages[-1].content.startswith("<tool_result"):
            assert "42" in request.messages[-1].content
            return "ANSWER: 42"
        return 'Let me compute. <tool name="python">print(6*7)</tool>'

    engine = ScriptedEngine(reply)
    turns: list[TurnRecord] = []
    result = run(compiled("single_agent_tool"), engine, {"question": "6*7?"},
                 on_turn=turns.append)
    assert result.outputs == {"answer": 42}
    assert turns[0].tool_calls[0].tool == "python"
    assert turns[0].tool_calls[0].result.strip().endswith("42")


def test_engine_errors_are_retried_then_recorded_and_do_not_stop_other_executions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runtime.agent_turn.ENGINE_BACKOFF_S", 0.0)

    def reply(request: ChatRequest) -> str:
        if "poison" in last_user(request):
            raise RuntimeError("engine exploded")
        return "ANSWER: 5"

    engine = ScriptedEngine(reply)
    executor = Executor(compiled("single_agent_tool"), {"executor": engine})
    results = asyncio.run(executor.run_many([{"question": "poison"}, {"question": "fine"}]))
    assert results[0].record.status == "failed"
    assert "engine exploded" in " ".join(results[0].record.failures.values())
    assert results[1].outputs == {"answer": 5}


def test_budget_exceeded_ends_the_execution_cleanly() -> None:
    engine = ScriptedEngine(lambda request: "ANSWER: 1")
    result = run(compiled("self_consistency"), engine, {"question": "q"},
                 budget=Budget(max_llm_calls=2))
    assert result.record.status == "budget_exceeded"
    assert result.record.llm_calls == 2


def test_same_seed_same_requests_and_replay_reproduces_outputs() -> None:
    ir = compiled("ensemble_judge")

    def reply(request: ChatRequest) -> str:
        return f"ANSWER: {request.sampling.seed % 3}"

    first_turns: list[TurnRecord] = []
    first = run(ir, ScriptedEngine(reply), {"question": "q"}, seed=11,
                on_turn=first_turns.append)
    second = run(ir, ScriptedEngine(reply), {"question": "q"}, seed=11)
    assert first.outputs == second.outputs
    replayed = asyncio.run(replay(ir, [*first_turns, first.record], first.record.execution_id))
    assert replayed.outputs == first.outputs
    assert [t.completion_text for t in replayed.turns] == [t.completion_text for t in first_turns]

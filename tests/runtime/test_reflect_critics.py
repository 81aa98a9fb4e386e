"""`reflect(..., critic: [c1, c2])`: every critic reviews each answer, the reviser sees all
critiques, and the reflection stops once every critic says `stop` (scripted engine, a test
double)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from compiler.api import compile as compile_spec
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from tests.runtime.scripted_engine import ScriptedEngine, last_user, role_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "two_critics.mas"


def run(math: list[str], reading: list[str]) -> tuple[dict[str, object], int, list[str]]:
    ir = compile_spec(EXAMPLE.read_text(), path=str(EXAMPLE)).ir
    verdicts = {"You check calculations.": iter(math),
                "You check that the answer": iter(reading)}
    revisions: list[str] = []

    def reply(request: ChatRequest) -> str:
        role = role_of(request)
        for start, answers in verdicts.items():
            if role.startswith(start):
                return f"Reviewed.\nANSWER: {next(answers)}"
        if "critique_math_checker" in last_user(request):
            revisions.append(last_user(request))
            return "ANSWER: 8"
        return "ANSWER: 7"

    engine = ScriptedEngine(reply)
    result = asyncio.run(Executor(ir, {"executor": engine}).run({"question": "q"}))
    return result.outputs, result.record.llm_calls, revisions


def test_one_critic_asking_for_a_revision_is_enough_to_revise() -> None:
    outputs, calls, revisions = run(["approve", "approve"], ["revise", "approve"])
    assert outputs == {"answer": 8}
    assert calls == 6  # answer, 2 critiques, revision, 2 critiques
    [revision] = revisions
    assert "critique_math_checker:\nReviewed.\nANSWER: approve" in revision
    assert "critique_reading_checker:\nReviewed.\nANSWER: revise" in revision


def test_the_reflection_stops_when_every_critic_approves() -> None:
    outputs, calls, revisions = run(["approve"], ["approve"])
    assert outputs == {"answer": 7} and calls == 3 and revisions == []

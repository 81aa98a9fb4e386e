"""`vote(..., show: replies)`: the judge reads every candidate's full reply (scripted engine,
a test double)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from compiler.api import compile as compile_spec
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from tests.runtime.scripted_engine import ScriptedEngine, last_user, role_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consensus_replies.mas"


def test_the_judge_reads_each_solvers_worked_solution() -> None:
    ir = compile_spec(EXAMPLE.read_text(), path=str(EXAMPLE)).ir
    solutions = iter(["6 x 7 = 42.\nANSWER: 42", "6 x 7 = 48?\nANSWER: 48",
                      "no idea, sorry"])  # the last never parses: its reply still shows
    judged: list[str] = []

    def reply(request: ChatRequest) -> str:
        if "head judge" in role_of(request):
            judged.append(last_user(request))
            return "ANSWER: 42"
        return next(solutions, "no idea, sorry")

    engine = ScriptedEngine(reply)
    result = asyncio.run(Executor(ir, {"executor": engine}).run({"question": "6 x 7?"}))
    assert result.outputs == {"answer": 42}
    [prompt] = judged
    assert prompt.startswith("candidates:\n1. 42\n2. 48\n\nreplies:\n1. 6 x 7 = 42.\nANSWER: 42")
    assert "2. 6 x 7 = 48?\nANSWER: 48\n3. no idea, sorry" in prompt
    assert prompt.endswith("question:\n6 x 7?")

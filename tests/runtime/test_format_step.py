"""`format(template, name: value)`: a prompt string built without an LLM call (scripted
engine, a test double)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from compiler.api import compile as compile_spec
from masdsl.types import BOOL, NUMBER, TEXT, List
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from runtime.format import fill_template
from tests.runtime.scripted_engine import ScriptedEngine, last_user, role_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prompt_template.mas"


def test_the_solver_receives_the_formatted_brief() -> None:
    ir = compile_spec(EXAMPLE.read_text(), path=str(EXAMPLE)).ir
    solver_prompts: list[str] = []

    def reply(request: ChatRequest) -> str:
        if "planner" in role_of(request):
            return 'ANSWER: ["add the numbers", "check the sum"]'
        solver_prompts.append(last_user(request))
        return "ANSWER: 4"

    engine = ScriptedEngine(reply)
    result = asyncio.run(Executor(ir, {"executor": engine}).run(
        {"question": "What is 2 + 2?", "max_steps": 3}))
    assert result.outputs == {"answer": 4}
    assert result.record.llm_calls == 2  # planner and solver; format is free
    assert solver_prompts == ["brief:\nProblem: What is 2 + 2?\nUse at most 3 steps. "
                              "Suggested plan:\n1. add the numbers\n2. check the sum"]


def test_fill_template_shows_values_as_agents_see_them() -> None:
    values = {"flag": (True, BOOL), "n": (2.0, NUMBER), "xs": (("a", "b"), List(element=TEXT))}
    assert fill_template("{flag} {n} {{x}} {xs} {gone}.", values) == "yes 2 {x} 1. a\n2. b ."

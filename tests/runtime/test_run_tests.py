"""`run_tests(code, tests)`: the candidate and its tests in the real sandbox, no LLM call
(the coder is a scripted engine, a test double)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from compiler.api import compile as compile_spec
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from runtime.run_tests import read_results, run_tests
from runtime.tools.registry import PythonTool, ToolRegistry
from runtime.tools.sandbox import SandboxLimits
from tests.runtime.scripted_engine import ScriptedEngine, last_user

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "code_with_tests.mas"
TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]
FAST = SandboxLimits(wall_seconds=5.0, cpu_seconds=2)


def test_the_loop_revises_until_the_tests_pass_and_running_them_costs_no_call() -> None:
    ir = compile_spec(EXAMPLE.read_text(), path=str(EXAMPLE)).ir
    programs = iter(["```python\ndef add(a, b):\n    return a - b\n```",
                     "```python\ndef add(a, b):\n    return a + b\n```"])
    prompts: list[str] = []

    def reply(request: ChatRequest) -> str:
        prompts.append(last_user(request))
        return next(programs)

    engine = ScriptedEngine(reply)
    executor = Executor(ir, {"executor": engine}, tools=ToolRegistry([PythonTool(FAST)]))
    result = asyncio.run(executor.run({"problem": "Write add(a, b).", "tests": tuple(TESTS)}))
    assert result.outputs == {"passed": True,
                              "solution": "def add(a, b):\n    return a + b"}
    assert result.record.llm_calls == 2
    assert "report" not in prompts[0]
    assert prompts[1].endswith("report:\n0/2 tests passed\n"
                               "test 1 failed: assert add(1, 2) == 3 -> AssertionError\n"
                               "test 2 failed: assert add(-1, 1) == 0 -> AssertionError")


def test_a_test_that_never_ends_fails_with_the_reason_and_the_others_still_count() -> None:
    passed, count, total, report = asyncio.run(run_tests(
        "def f():\n    return 1\n", ("assert f() == 1", "while True: pass"), FAST))
    assert (passed, count, total) == (False, 1, 2)
    assert "test 2 failed: while True: pass -> did not finish: [stopped:" in report


def test_a_program_that_does_not_load_fails_every_test() -> None:
    passed, count, total, report = asyncio.run(run_tests("def f(:\n", ("assert True",), FAST))
    assert (passed, count, total) == (False, 0, 1)
    assert report.startswith("the program failed to load: SyntaxError")


def test_output_without_the_runs_marker_is_never_read_as_a_result() -> None:
    stdout = ('@@run_tests:guess@@["test", 0, true, ""]\n'
              'M["load", -1, true, ""]\nM["test", 0, false, "x"]')
    assert read_results(stdout, "M", 1) == (True, {0: "x"})
    assert read_results(stdout, "other", 1) == (False, {})

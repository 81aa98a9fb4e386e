"""`append`: a history that grows once per loop iteration, without an LLM call (scripted
engine, a test double)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from compiler.api import compile as compile_spec
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from tests.runtime.scripted_engine import ScriptedEngine, last_user, role_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "draft_history.mas"


def test_the_writer_sees_every_earlier_attempt_and_the_history_is_an_output() -> None:
    ir = compile_spec(EXAMPLE.read_text(), path=str(EXAMPLE)).ir
    drafts = iter(["first try", "second try", "third try"])
    verdicts = iter(["false", "true"])
    writer_prompts: list[str] = []

    def reply(request: ChatRequest) -> str:
        if "strict checker" in role_of(request):
            return f"ANSWER: {next(verdicts)}"
        writer_prompts.append(last_user(request))
        return f"ANSWER: {next(drafts)}"

    engine = ScriptedEngine(reply)
    result = asyncio.run(Executor(ir, {"executor": engine}).run({"task": "Explain X."}))
    assert result.outputs == {"answer": "second try", "history": ["first try", "second try"]}
    assert result.record.llm_calls == 4  # the checker accepted the second draft
    assert "earlier_attempts" not in writer_prompts[0]  # absent on the first iteration
    assert writer_prompts[1].endswith("earlier_attempts:\n1. first try")


GRAPH = """mas graph_log {
  input task: text
  output answer: text
  output log: list[text]
  type Verdict = enum { pass, fail }
  agent writer { role "Write." }
  agent tester -> Verdict { role "Test." }
  flow {
    graph max_steps 6 {
      start write
      node write = writer(task, feedback: review)
      node review = tester(task, write)
      node log = append(log, write)
      edge write -> log
      edge log -> review
      edge review -> end when review == pass
      edge review -> write
    }
    answer = write
  }
}
"""


def test_a_graph_node_appending_to_itself_keeps_every_rounds_value() -> None:
    ir = compile_spec(GRAPH).ir
    drafts, verdicts = iter(["d1", "d2"]), iter(["fail", "pass"])
    engine = ScriptedEngine(lambda request: f"ANSWER: {next(verdicts)}"
                            if role_of(request).startswith("Test.")
                            else f"ANSWER: {next(drafts)}")
    result = asyncio.run(Executor(ir, {"executor": engine}).run({"task": "x"}))
    assert result.outputs == {"answer": "d2", "log": ["d1", "d2"]}

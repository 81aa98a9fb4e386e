"""`masc explain FILE NODE`: the messages printed are the ones the runtime sends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from compiler.api import compile as compile_spec
from masdsl.cli import main
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from tests.runtime.scripted_engine import ScriptedEngine

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_explain_prints_the_system_message_the_runtime_sends(
        capsys: pytest.CaptureFixture[str]) -> None:
    spec = EXAMPLES / "judge_on_split.mas"
    assert main(["explain", str(spec), "judge"]) == 0
    printed = capsys.readouterr().out
    ir = compile_spec(spec.read_text(), path=str(spec)).ir
    drafts = iter(["ANSWER: 1", "ANSWER: 2", "ANSWER: 3"])

    def reply(request: ChatRequest) -> str:
        system = request.messages[0].content
        if "disagree" in system:
            return "ANSWER: 2"
        return "ANSWER: true" if "correct" in system else next(drafts)

    engine = ScriptedEngine(reply)
    asyncio.run(Executor(ir, {"executor": engine}).run({"question": "What is 6 x 7?"}))
    [judge_request] = [request for request in engine.requests
                       if "disagree" in request.messages[0].content]
    system = judge_request.messages[0].content
    assert f"--- system ---\n{system}\n\n--- user ---\n" in printed
    user = judge_request.messages[1].content
    # the same labels in the same order; values are placeholders naming their source
    assert user.startswith("question:\nWhat is 6 x 7?\n\ncandidates:\n1. 1\n2. 2\n3. 3")
    assert "question:\n<text: the system input `question`>\n\ncandidates:\n<list[number]: " \
        in printed
    assert "runs only when" in printed and "when no reply parses, the answer is absent" in printed


def test_explain_selects_by_node_id_label_or_agent(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(EXAMPLES / "solver_verifier.mas")
    assert main(["explain", spec, "verifier"]) == 0
    by_agent = capsys.readouterr().out
    assert by_agent.count("--- system ---") == 2  # both critique rounds
    assert main(["explain", spec, "verifier critique 2"]) == 0
    by_label = capsys.readouterr().out
    assert by_label.count("--- system ---") == 1
    node_id = by_label.split(":", 1)[0]
    assert main(["explain", spec, node_id]) == 0
    assert capsys.readouterr().out == by_label


def test_explain_lists_the_nodes_when_none_matches(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(EXAMPLES / "solver_verifier.mas"), "nobody"]) == 1
    assert "try one of: solver, solver answer" in capsys.readouterr().err


def test_explain_shows_a_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(EXAMPLES / "router_fallback.mas"), "router"]) == 0
    out = capsys.readouterr().out
    assert "the answer is the default 'other'" in out
    assert "question:\n<text: the system input `question`>" in out


def test_explain_shows_memory_turns_and_where_a_reply_comes_from(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "memory.mas"
    spec.write_text("""mas memory {
  input q: text
  output o: text
  agent tutor { role "Tutor." memory 1 }
  flow {
    a = tutor(q)
    o = tutor(q, why: reply(a))
  }
}
""")
    assert main(["explain", str(spec), "n00004.agent_call_tutor"]) == 0
    printed = capsys.readouterr().out
    assert ("--- user (earlier call tutor, n00002.agent_call_tutor) ---\n"
            "<the user message of n00002.agent_call_tutor, when it ran>\n\n"
            "--- assistant ---\n<the last reply of n00002.agent_call_tutor>\n\n"
            "--- user ---\nq:\n") in printed
    assert "why:\n<text: the full reply behind the value given to reply(a)" in printed
    assert "- memory 1: an earlier call that did not run is left out" in printed

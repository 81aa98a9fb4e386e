"""Record outputs: one reply gives several typed fields; `x.f` reads one in the flow and in
conditions (scripted engine, a test double)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from compiler.api import compile as compile_spec
from masdsl.types import NUMBER, TEXT, Enum, List, Record, RecordField
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from runtime.format import format_instructions, render_value
from runtime.values import ParseFailure, from_json, parse_value, to_json
from tests.runtime.scripted_engine import ScriptedEngine, last_user, role_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "review_record.mas"
REVIEW = Record(fields=(RecordField(name="verdict", type=Enum(members=("approve", "revise"))),
                        RecordField(name="critique", type=TEXT)), name="Review")


def test_the_writer_revises_with_the_critique_until_the_reviewer_approves() -> None:
    ir = compile_spec(EXAMPLE.read_text(), path=str(EXAMPLE)).ir
    verdicts = iter([("revise", "Add an example."), ("approve", "Good.")])
    drafts = iter(["draft one", "draft two"])
    writer_inputs: list[str] = []

    def reply(request: ChatRequest) -> str:
        if "strict reviewer" in role_of(request):
            verdict, critique = next(verdicts)
            return "Looks at it.\nANSWER: " + json.dumps({"verdict": verdict,
                                                          "critique": critique})
        writer_inputs.append(last_user(request))
        return f"ANSWER: {next(drafts)}"

    engine = ScriptedEngine(reply)
    result = asyncio.run(Executor(ir, {"executor": engine}).run({"task": "Explain X."}))
    assert result.outputs == {"answer": "draft two"}
    assert result.record.llm_calls == 4  # write, review, revise, review (approved: stop)
    assert "feedback:\nAdd an example." in writer_inputs[1]
    assert "draft:\ndraft one" in writer_inputs[1]


def test_a_record_reply_is_parsed_field_by_field() -> None:
    parsed = parse_value('Thinking.\nANSWER: {"critique": "fine", "verdict": "Approve"}', REVIEW)
    assert not isinstance(parsed, ParseFailure)
    assert parsed.value == ("approve", "fine")
    missing = parse_value('ANSWER: {"verdict": "approve"}', REVIEW)
    assert isinstance(missing, ParseFailure) and "critique" in missing.reason
    assert isinstance(parse_value("ANSWER: approve", REVIEW), ParseFailure)


def test_records_convert_to_json_and_prompt_text() -> None:
    value = ("revise", "needs work")
    assert to_json(value, REVIEW) == {"verdict": "revise", "critique": "needs work"}
    assert from_json({"verdict": "revise", "critique": "needs work"}, REVIEW) == value
    assert render_value(value, REVIEW) == "verdict: revise\ncritique: needs work"
    scored = List(element=Record(fields=(RecordField(name="score", type=NUMBER),)))
    assert to_json(((1,), (2.5,)), scored) == [{"score": 1}, {"score": 2.5}]
    instructions = format_instructions(REVIEW)
    assert 'ANSWER: {"verdict": "approve", "critique": "your text"}' in instructions

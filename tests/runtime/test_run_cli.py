"""`masc run` end to end with a registered scripted engine (test double): outputs, traces,
batches, bad inputs, and Ctrl-C keeping the trace of what finished."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from masdsl.cli import main
from runtime.engines import register_engine
from runtime.engines.base import ChatRequest
from runtime.trace import ExecutionRecord, TurnRecord, read_trace
from tests.runtime.scripted_engine import ScriptedEngine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class InterruptingEngine(ScriptedEngine):
    """Answers `calls_before_interrupt` requests, then raises KeyboardInterrupt as Ctrl-C
    would inside the event loop."""

    def __init__(self, calls_before_interrupt: int) -> None:
        super().__init__(lambda request: "ANSWER: 4")
        self.left = calls_before_interrupt

    async def generate(self, requests: list[ChatRequest]):  # type: ignore[no-untyped-def]
        if self.left <= 0:
            raise KeyboardInterrupt
        self.left -= len(requests)
        return await super().generate(requests)


@pytest.fixture(scope="module", autouse=True)
def engines() -> None:
    register_engine("scripted-four", lambda **_: ScriptedEngine(lambda r: "ANSWER: 4"),
                    replace=True)
    register_engine("scripted-interrupt", lambda **_: InterruptingEngine(3), replace=True)


def test_run_prints_outputs_and_writes_a_trace(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.jsonl"
    code = main(["run", str(EXAMPLES / "self_consistency.mas"), "--engine", "scripted-four",
                 "--input", "question=2+2?", "--trace", str(trace)])
    assert code == 0
    assert capsys.readouterr().out.strip() == "answer: 4"
    records = list(read_trace(trace))
    assert sum(isinstance(r, TurnRecord) for r in records) == 3
    assert [r.outputs for r in records if isinstance(r, ExecutionRecord)] == [{"answer": 4}]


def test_batch_from_jsonl_with_samples_and_json_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"question": "a"}\n\n{"question": "b"}\n')
    code = main(["run", str(EXAMPLES / "single_agent_tool.mas"), "--engine", "scripted-four",
                 "--inputs", str(batch), "--samples", "2", "--json"])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4 and {line["outputs"]["answer"] for line in lines} == {4}


def test_bad_inputs_exit_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(EXAMPLES / "single_agent_tool.mas"), "--engine", "scripted-four",
                 "--input", "questoin=hi"])
    assert code == 2
    error = capsys.readouterr().err
    assert "missing question" in error and "unknown questoin" in error


def test_ctrl_c_exits_130_and_keeps_the_finished_turns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.jsonl"
    code = main(["run", str(EXAMPLES / "self_consistency.mas"), "--engine",
                 "scripted-interrupt", "--input", "question=q", "--samples", "3",
                 "--concurrency", "1", "--trace", str(trace)])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    records = list(read_trace(trace))
    turns = [r for r in records if isinstance(r, TurnRecord)]
    assert len(turns) == 3  # every turn that finished before the interrupt
    assert [r.outputs for r in records if isinstance(r, ExecutionRecord)] == [{"answer": 4}]

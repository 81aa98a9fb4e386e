"""Traces: every LLM call of an execution is one `TurnRecord`.

A trace is JSON Lines: one record per line, written as soon as the turn finishes, so an
interrupted run still keeps every turn that completed. `read_trace` loads it back; the
trainer uses the token ids and logprobs, `runtime.replay` the completion texts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ToolCallRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str
    argument: str
    result: str
    ok: bool


class TurnRecord(BaseModel):
    """One LLM call: who asked (execution, IR node, turn), what was sent, what came back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    execution_id: str
    node_id: str
    turn_index: int
    role: Literal["designer", "executor"] = "executor"
    agent: str
    prompt_text: str
    prompt_token_ids: tuple[int, ...] = ()
    completion_text: str
    completion_token_ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] = ()
    finish_reason: str = "stop"
    tool_calls: tuple[ToolCallRecord, ...] = ()
    parsed_value: Any = None
    failure: str | None = None
    latency_s: float = 0.0
    seed: int | None = None


class ExecutionRecord(BaseModel):
    """The outcome of one execution of a spec on one set of inputs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    execution_id: str
    spec: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = Field(default_factory=dict)
    failures: dict[str, str] = Field(default_factory=dict)
    status: Literal["ok", "failed", "budget_exceeded", "cancelled"] = "ok"
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    seed: int | None = None


class TraceWriter:
    """Appends records to a JSONL file, one flushed line per record."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")

    def write(self, record: BaseModel) -> None:
        if self._file is None:
            raise ValueError("trace writer is closed")
        kind = "turn" if isinstance(record, TurnRecord) else "execution"
        line = {"type": kind, **record.model_dump(mode="json")}
        self._file.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_trace(path: str | Path) -> Iterator[TurnRecord | ExecutionRecord]:
    """Yield the records of a trace file in the order they were written."""
    with Path(path).open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{line_number}: not a trace record: {error}") from None
            kind = data.pop("type", "turn")
            yield TurnRecord(**data) if kind == "turn" else ExecutionRecord(**data)


def turns_of(records: Iterable[TurnRecord | ExecutionRecord],
             execution_id: str) -> list[TurnRecord]:
    """The turns of one execution, in order."""
    return [r for r in records if isinstance(r, TurnRecord) and r.execution_id == execution_id]

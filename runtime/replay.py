"""Replay: re-run an execution from its trace and reproduce its outputs.

`TraceEngine` is a real engine that answers from a trace: each request is matched to the
recorded turn with the same conversation and seed, so a replay makes exactly the calls of the
original run, in any order, and the scheduler reproduces the outputs deterministically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from compiler.ir import IR
from runtime.agent_turn import render_messages
from runtime.engines.base import Capabilities, ChatRequest, Completion
from runtime.executor import ExecutionResult, Executor
from runtime.inputs import coerce_inputs
from runtime.tools.registry import ToolRegistry
from runtime.trace import ExecutionRecord, TurnRecord


class ReplayMismatch(LookupError):
    """A request that the trace holds no answer for: the spec, inputs or seed differ."""


class TraceEngine:
    """Serves completions recorded in a trace, keyed by (conversation, seed)."""

    name = "trace"
    capabilities = Capabilities(batching=True, logprobs=True, grammar=False, token_ids=True,
                                max_context=1 << 30)

    def __init__(self, turns: Iterable[TurnRecord]) -> None:
        self._answers: dict[tuple[str, int | None], TurnRecord] = {
            (turn.prompt_text, turn.seed): turn for turn in turns}

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        completions = []
        for request in requests:
            key = (render_messages(request.messages), request.sampling.seed)
            turn = self._answers.get(key)
            if turn is None:
                raise ReplayMismatch("the trace has no turn for this request (seed "
                                     f"{request.sampling.seed}); was it recorded from this spec?")
            if turn.finish_reason == "error":
                completions.append(Completion.failure(
                    turn.failure or "engine error (replayed)", turn.prompt_text,
                    turn.prompt_token_ids))
                continue
            completions.append(Completion(
                text=turn.completion_text, prompt_token_ids=turn.prompt_token_ids,
                token_ids=turn.completion_token_ids, logprobs=turn.logprobs,
                finish_reason=turn.finish_reason,  # type: ignore[arg-type]
                prompt_text=turn.prompt_text))
        return completions

    async def close(self) -> None:
        return None


async def replay(ir: IR, records: Iterable[TurnRecord | ExecutionRecord], execution_id: str,
                 *, tools: ToolRegistry | None = None) -> ExecutionResult:
    """Re-run execution `execution_id` of a trace on `ir`: same inputs, same seed, every LLM
    call answered from the trace. Tool calls run again (they are deterministic here)."""
    records = list(records)
    execution = next((r for r in records if isinstance(r, ExecutionRecord)
                      and r.execution_id == execution_id), None)
    if execution is None:
        raise ReplayMismatch(f"the trace has no execution {execution_id!r}")
    turns = [r for r in records if isinstance(r, TurnRecord) and r.execution_id == execution_id]
    engine = TraceEngine(turns)
    models = {node.agent.model for node in ir.agent_nodes()} | {"executor"}
    engines: Mapping[str, TraceEngine] = {model: engine for model in models}
    executor = Executor(ir, engines, tools=tools)
    inputs = coerce_inputs(execution.inputs, ir.inputs)
    return await executor.run(inputs, seed=execution.seed or 0,
                              execution_id=execution_id)

"""Throughput of concurrent executions on a real engine, against the engine's raw batch speed.

One example spec (by default `examples/self_consistency.mas`, with its agents' `max_tokens`
lowered so a CPU run stays short) is executed on distinct questions three ways:
- **concurrently**: all executions at once with `Executor.run_many`, so their LLM calls
  reach the engine together and batch;
- **raw**: every chat request those executions made, replayed straight to the engine in one
  `generate` call (no scheduler, no agent turns, no dependencies between requests): the
  engine's batched tokens/s on the same prompts;
- **sequentially**: one execution after another.
Executions and replay use the same seeds, so they generate the same tokens (the engines
sample each sequence with its own seeded generator, whatever the batch holds).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compiler.ir import IR
from runtime.engines.base import Capabilities, ChatRequest, Completion, Engine, Message, Sampling
from runtime.executor import ExecutionResult, Executor

DEFAULT_SPEC = Path(__file__).resolve().parents[1] / "examples" / "self_consistency.mas"

QUESTIONS = tuple(
    f"What is {a} + {b}? Reply with the number." for a, b in
    ((17, 25), (31, 46), (8, 93), (54, 12), (66, 27), (39, 48), (72, 19), (13, 88),
     (45, 45), (91, 6), (23, 59), (38, 71), (84, 15), (7, 62), (50, 33), (29, 94)))


class RecordingEngine:
    """Forwards to an engine and keeps every request it passed on (to replay them raw)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.name: str = engine.name
        self.capabilities: Capabilities = engine.capabilities
        self.requests: list[ChatRequest] = []

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        self.requests.extend(requests)
        return await self.engine.generate(requests)

    async def close(self) -> None:
        return None  # the wrapped engine belongs to the caller


def spec_ir(path: Path = DEFAULT_SPEC, max_tokens: int | None = 64) -> IR:
    """Compile the spec at `path`, with every agent's `max_tokens` set to `max_tokens`
    (when given) so the benchmark's generation length is bounded."""
    from compiler.api import compile as compile_spec

    text = path.read_text(encoding="utf-8")
    if max_tokens is not None:
        text = re.sub(r"\bmax_tokens\s+\d+", f"max_tokens {max_tokens}", text)
        # agents without the field get it too, right after their role
        text = re.sub(r"(agent\s+\w+\s*->\s*[^{]+\{)(?![^}]*max_tokens)",
                      rf"\1 max_tokens {max_tokens}", text)
    return compile_spec(text, path=path.name).ir


async def raw_batched_tokens_per_second(engine: Engine,
                                        requests: Sequence[ChatRequest]) -> tuple[int, float]:
    """(completion tokens, seconds) for all `requests` sent to `engine` in one batch."""
    started = time.perf_counter()
    completions = await engine.generate(list(requests))
    seconds = time.perf_counter() - started
    errors = [c.error for c in completions if c.finish_reason == "error"]
    if errors:
        raise RuntimeError(f"{len(errors)} raw requests failed, first: {errors[0]}")
    return sum(len(c.token_ids) for c in completions), seconds


@dataclass(frozen=True)
class Throughput:
    """What one throughput run measured."""

    executions: int
    llm_calls: int
    concurrent_tokens: int
    concurrent_s: float
    raw_tokens: int
    raw_s: float
    sequential_tokens: int
    sequential_s: float

    @property
    def concurrent_tps(self) -> float:
        return self.concurrent_tokens / self.concurrent_s

    @property
    def raw_tps(self) -> float:
        return self.raw_tokens / self.raw_s

    @property
    def sequential_tps(self) -> float:
        return self.sequential_tokens / self.sequential_s

    @property
    def fraction_of_raw(self) -> float:
        """Concurrent executions' tokens/s over the engine's raw batched tokens/s."""
        return self.concurrent_tps / self.raw_tps

    @property
    def speedup(self) -> float:
        """Sequential wall time over concurrent wall time."""
        return self.sequential_s / self.concurrent_s


def _tokens(results: Sequence[ExecutionResult]) -> int:
    return sum(result.record.completion_tokens for result in results)


async def measure_throughput(engine: Engine, ir: IR, executions: int = 16,
                             seed: int = 0) -> Throughput:
    """Run `executions` executions of `ir` concurrently, replay their requests raw in one
    batch, then run them one after another (same inputs and seeds); see the module doc."""
    inputs = [{"question": QUESTIONS[index % len(QUESTIONS)]} for index in range(executions)]
    warm_up = ChatRequest(messages=(Message("user", "Say hi."),),
                          sampling=Sampling(max_tokens=4, seed=seed))
    await engine.generate([warm_up])  # first-call costs (buffers, threads) stay out
    recorder = RecordingEngine(engine)
    executor = Executor(ir, {"executor": recorder})

    started = time.perf_counter()
    concurrent = await executor.run_many(inputs, seed=seed)
    concurrent_s = time.perf_counter() - started
    _check(concurrent)

    raw_tokens, raw_s = await raw_batched_tokens_per_second(engine, recorder.requests)

    solo = Executor(ir, {"executor": engine})
    sequential = []
    started = time.perf_counter()
    for index, values in enumerate(inputs):
        sequential.append(await solo.run(values, seed=seed + index,
                                         execution_id=f"e{index:05d}"))
    sequential_s = time.perf_counter() - started
    _check(sequential)
    return Throughput(executions, len(recorder.requests), _tokens(concurrent), concurrent_s,
                      raw_tokens, raw_s, _tokens(sequential), sequential_s)


def _check(results: Sequence[ExecutionResult]) -> None:
    """Engine errors would make the numbers meaningless; format failures are fine (the
    model is small) and are part of the work."""
    for result in results:
        for key, failure in result.record.failures.items():
            if failure.startswith("engine error"):
                raise RuntimeError(f"{result.record.execution_id} {key}: {failure}")

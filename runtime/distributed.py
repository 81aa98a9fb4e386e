"""Executions on Ray: worker actors host engines and run many executions each with asyncio.

Per-node Ray tasks would cost more than the nodes themselves (FACTS.md: ~1 ms a call), so the
unit of distribution is a *chunk of executions*: each `ExecutionWorker` actor builds its
engine once and runs a chunk concurrently in its own event loop, where the LLM calls batch.
The driver keeps every worker busy; when a worker dies, it is replaced by a new actor and its
unfinished chunk is resubmitted (executions are deterministic per seed, so a resubmitted
chunk gives the same results). Without `--ray`, `runtime.api.run` does all this in-process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compiler.api import CompiledSpec
from runtime.engines.base import Engine
from runtime.executor import ExecutionResult, Executor
from runtime.trace import ExecutionRecord, TurnRecord
from runtime.values import Value

EngineFactory = Callable[[], Engine]
Job = tuple[int, dict[str, Value]]  # (execution index, typed inputs)


class ExecutionWorker:
    """A Ray actor (see `run_on_ray`): one engine, many concurrent executions."""

    def __init__(self, engine: str | EngineFactory, model: str | None,
                 engine_options: Mapping[str, Any]) -> None:
        from runtime.api import make_engine

        self.engine = engine() if callable(engine) else make_engine(engine, model,
                                                                     **engine_options)

    def run(self, ir_json: str, jobs: Sequence[Job], seed: int,
            concurrency: int) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Execute `jobs`; return (execution record, turn records) as plain data."""
        from compiler.export_json import load

        ir = load(ir_json)
        models = {node.agent.model for node in ir.agent_nodes()} | {"executor"}
        executor = Executor(ir, {name: self.engine for name in models})
        gate_size = max(1, concurrency)

        async def all_jobs() -> list[ExecutionResult]:
            gate = asyncio.Semaphore(gate_size)

            async def one(index: int, inputs: dict[str, Value]) -> ExecutionResult:
                async with gate:
                    return await executor.run(inputs, seed=seed + index,
                                              execution_id=f"e{index:05d}")

            return list(await asyncio.gather(*(one(i, v) for i, v in jobs)))

        results = asyncio.run(all_jobs())
        return [(r.record.model_dump(mode="json"),
                 [t.model_dump(mode="json") for t in r.turns]) for r in results]


@dataclass(frozen=True)
class RayOutcome:
    """The executions in order, and how many times a dead worker was replaced."""

    results: list[ExecutionResult]
    restarts: int


def _chunks(jobs: list[Job], size: int) -> list[list[Job]]:
    return [jobs[start:start + size] for start in range(0, len(jobs), size)]


def run_on_ray(compiled: CompiledSpec, inputs: Sequence[Mapping[str, Value]], *,
               engine: str | EngineFactory = "llamacpp", model: str | None = None,
               engine_options: Mapping[str, Any] | None = None, samples: int = 1,
               seed: int = 0, address: str = "local", workers: int = 2,
               chunk_size: int | None = None, concurrency: int = 64, max_restarts: int = 3,
               on_turn: Callable[[TurnRecord], None] | None = None,
               on_done: Callable[[ExecutionResult], None] | None = None,
               worker_hook: Callable[[list[Any]], None] | None = None,
               ) -> RayOutcome:
    """Run executions on `workers` Ray actors (a new local cluster when `address` is
    "local", else the cluster at `address`). A dead worker is restarted and its chunk
    resubmitted, at most `max_restarts` times in all. `worker_hook` receives the live actor
    list after each submission round (tests use it to kill a worker mid-run). A spec whose
    agents use declared tools is refused (ValueError) before Ray starts: their bindings
    (Python functions, MCP servers) live in this process, not in the workers."""
    declared = sorted(set(compiled.ir.used_tools()) & {tool.name for tool in compiled.ir.tools})
    if declared:
        raise ValueError(f"the spec's declared tools ({', '.join(declared)}) cannot run on "
                         "Ray workers yet; run without --ray")
    import ray
    from ray.exceptions import RayActorError

    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address,
                 include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False)
    jobs: list[Job] = [(index, dict(values)) for index, values in
                       enumerate(v for v in inputs for _ in range(samples))]
    size = chunk_size or max(1, -(-len(jobs) // (workers * 2)))
    queue = _chunks(jobs, size)
    remote_worker = ray.remote(ExecutionWorker)
    options = dict(engine_options or {})

    def new_actor() -> Any:
        return remote_worker.remote(engine, model, options)

    actors = [new_actor() for _ in range(min(workers, max(1, len(queue))))]
    ir_json = compiled.to_json()
    pending: dict[Any, tuple[int, list[Job]]] = {}
    results: dict[int, ExecutionResult] = {}
    restarts = 0

    def submit(slot: int) -> None:
        if queue:
            chunk = queue.pop(0)
            pending[actors[slot].run.remote(ir_json, chunk, seed, concurrency)] = (slot, chunk)

    for slot in range(len(actors)):
        submit(slot)
    if worker_hook is not None:
        worker_hook(actors)
    while pending:
        [ready], _ = ray.wait(list(pending), num_returns=1)
        slot, chunk = pending.pop(ready)
        try:
            payload = ray.get(ready)
        except RayActorError:
            restarts += 1
            if restarts > max_restarts:
                raise RuntimeError(f"Ray workers died {restarts} times; giving up") from None
            actors[slot] = new_actor()
            queue.insert(0, chunk)
            submit(slot)
            continue
        for record_data, turn_data in payload:
            turns = [TurnRecord(**turn) for turn in turn_data]
            result = ExecutionResult(ExecutionRecord(**record_data), turns)
            index = int(result.record.execution_id[1:])
            results[index] = result
            if on_turn is not None:
                for turn in turns:
                    on_turn(turn)
            if on_done is not None:
                on_done(result)
        submit(slot)
    return RayOutcome([results[index] for index in sorted(results)], restarts)

"""Hierarchical rollout: per question, M designs; per compiled design, N executions.

Everything of one training step runs in one event loop: the M designs of every question are
sampled in one batch (typed decoding by default), then every execution of every compiled design
runs concurrently, so the engines batch the executor's LLM calls across designs and
questions. Designs that fail to compile keep their diagnostics and get no executions (the
credit assigns them the compile penalty). Rewards come from the task's verifier.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from trainer.tasks.base import Item, Task, Verdict
from runtime.budget import Budget
from runtime.designer import (
    DESIGN_SAMPLING,
    Decoding,
    Design,
    Interface,
    design_request,
    sample_designs,
)
from runtime.engines.base import Engine, Sampling
from runtime.executor import ExecutionResult, Executor
from runtime.inputs import InputError, coerce_inputs
from runtime.tools.registry import ToolRegistry


@dataclass(frozen=True)
class ExecutionRollout:
    """One execution of a design, and the verifier's judgement of its output."""

    result: ExecutionResult
    verdict: Verdict

    @property
    def reward(self) -> float:
        return self.verdict.reward


@dataclass(frozen=True)
class DesignRollout:
    design: Design
    executions: tuple[ExecutionRollout, ...]

    @property
    def mean_reward(self) -> float | None:
        if not self.executions:
            return None
        return sum(e.reward for e in self.executions) / len(self.executions)


@dataclass(frozen=True)
class QuestionRollout:
    item: Item
    designs: tuple[DesignRollout, ...]


def _question(item: Item) -> str:
    """What the designer is shown: the `question` input, or all inputs."""
    if "question" in item.inputs:
        return item.inputs["question"]
    return "\n".join(f"{name}: {value}" for name, value in item.inputs.items())


def task_interface(task: Task) -> Interface:
    """The interface every design for `task` must declare."""
    return Interface(inputs=tuple((f.name, f.type) for f in task.inputs),
                     outputs=((task.output.name, task.output.type),))


async def _execute(design: Design, item: Item, task: Task, engine: Engine, executions: int,
                   seed: int, budget: Budget | None, tools: ToolRegistry | None,
                   ) -> tuple[ExecutionRollout, ...]:
    assert design.compiled is not None
    ir = design.compiled.ir
    try:
        inputs = coerce_inputs(dict(item.inputs), ir.inputs)
    except InputError as error:  # compile_design already checked the interface
        raise AssertionError(f"design passed the interface check but: {error}") from None
    models = {node.agent.model for node in ir.agent_nodes()} | {"executor"}
    executor = Executor(ir, {model: engine for model in models}, tools=tools, budget=budget)
    results = await executor.run_many([inputs] * executions, seed=seed)
    rollouts = []
    for result in results:
        output = result.outputs.get(task.output.name)
        verdict = (Verdict(reward=0.0, correct=False, details={"failure": "no output"})
                   if output is None else await task.verify_async(item, output))
        rollouts.append(ExecutionRollout(result, verdict))
    return tuple(rollouts)


async def rollout(items: Sequence[Item], task: Task, *, designer: Engine, executor: Engine,
                  designs: int, executions: int, seed: int, decoding: Decoding = "typed",
                  design_sampling: Sampling = DESIGN_SAMPLING,
                  examples: Sequence[str] = (), budget: Budget | None = None,
                  tools: ToolRegistry | None = None) -> list[QuestionRollout]:
    """Sample `designs` designs per item and run each compiled design `executions` times.
    Seeds derive from `seed`, the item's position and the design's index, so a step is
    reproducible for fixed engines."""
    interface = task_interface(task)
    requests = [design_request(_question(item), interface=interface, examples=examples,
                               decoding=decoding,
                               sampling=replace(design_sampling, seed=seed + 1000 * q + d))
                for q, item in enumerate(items) for d in range(designs)]
    sampled = await sample_designs(designer, requests, interface, decoding)
    by_item = [sampled[q * designs:(q + 1) * designs] for q in range(len(items))]

    async def run_design(q: int, d: int, candidate: Design) -> DesignRollout:
        if not candidate.ok:
            return DesignRollout(candidate, ())
        runs = await _execute(candidate, items[q], task, executor, executions,
                              seed + 100_000 * (q + 1) + 1000 * d, budget, tools)
        return DesignRollout(candidate, runs)

    jobs = [run_design(q, d, candidate) for q, group in enumerate(by_item)
            for d, candidate in enumerate(group)]
    finished = await asyncio.gather(*jobs)
    return [QuestionRollout(item, tuple(finished[q * designs:(q + 1) * designs]))
            for q, item in enumerate(items)]

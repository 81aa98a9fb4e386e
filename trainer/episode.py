"""The one episode: design -> compile -> run N times -> verify -> typed records.

Every consumer runs episodes through this module, with one `EpisodeSettings`: the CPU trainer
(`trainer.loop`), the OpenRLHF backend (`trainer.openrlhf.unit`, one design per OpenRLHF
sample) and `masc bench` (`benchmarks.bench`, one design and one execution per item). So
budgets, token caps, sampling per role and few-shot examples cannot drift between them.

Per question, M designs are sampled in one batch (typed decoding by default), or a fixed
hand-written system stands in for them; every execution of every compiled design then runs
concurrently, so the engines batch the executor's LLM calls across designs and questions.
Designs that fail to compile keep their diagnostics and get no executions (the credit gives
them the compile penalty). Rewards come from the task's verifier.

A `DesignRecord` holds everything credit needs, computed once: the design's token ids (in its
completion), the character offsets of its tokens (asserted to index the completion's text,
which the engine contract makes the detokenised ids), its node spans and dead regions (from
the compiler, as data), its diagnostics, and its executions with their turns and rewards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from compiler.api import CompiledSpec
from runtime.budget import Budget
from runtime.designer import (
    DESIGN_SAMPLING,
    Decoding,
    Design,
    Interface,
    design_request,
    sample_designs,
)
from runtime.engines.base import ChatRequest, Completion, ContractError, Engine, Sampling
from runtime.executor import ExecutionResult, Executor
from runtime.inputs import coerce_inputs
from runtime.tools.registry import ToolRegistry
from runtime.trace import TurnRecord
from trainer.credit import CharSpan, DesignSample, ExecutionSample, NodeSpan
from trainer.design_spans import diagnostic_spans, node_spans
from trainer.samples import execution_sample
from trainer.tasks.base import Item, Task, Verdict
from trainer.tokens import Detokenize, token_char_offsets


@dataclass(frozen=True)
class EpisodeSettings:
    """Everything that shapes an episode besides the engines and the question.

    `designer` samples designs (temperature, top_p, token budget of a whole design).
    `executor_temperature` / `executor_top_p`, when set, replace every agent's own setting
    for the executor's calls (the paper samples every rollout call at 1.0 / 0.9); None keeps
    the spec's. `executor_max_tokens` caps every executor call. `examples` are the spec texts
    shown to the designer. Each execution may make `max_calls_per_execution` LLM calls and
    run `max_wall_s` seconds (None: unbounded; training leaves the wall limit off so that
    rollouts do not depend on the machine's speed)."""

    designs: int = 4
    executions: int = 4
    decoding: Decoding = "typed"
    designer: Sampling = DESIGN_SAMPLING
    executor_temperature: float | None = None
    executor_top_p: float | None = None
    executor_max_tokens: int | None = None
    examples: tuple[str, ...] = ()
    max_calls_per_execution: int | None = None
    max_wall_s: float | None = None

    def budget(self) -> Budget:
        """The budget of one execution."""
        return Budget(max_llm_calls=self.max_calls_per_execution, max_tokens=None,
                      max_wall_s=self.max_wall_s)

    @classmethod
    def from_train_config(cls, config: Any) -> EpisodeSettings:
        """The settings of a `trainer.config.TrainConfig` (few-shot example files are read
        here; `ExampleError` names one that cannot be)."""
        sampling, rollout = config.sampling, config.rollout
        return cls(
            designs=rollout.designs_per_question, executions=rollout.executions_per_design,
            decoding=sampling.decoding,
            designer=Sampling(temperature=sampling.designer.temperature,
                              top_p=sampling.designer.top_p,
                              max_tokens=sampling.designer.max_tokens),
            executor_temperature=sampling.executor.temperature,
            executor_top_p=sampling.executor.top_p,
            executor_max_tokens=sampling.executor.max_tokens,
            examples=read_examples(sampling.examples),
            max_calls_per_execution=rollout.max_calls_per_execution, max_wall_s=None)


class ExampleError(ValueError):
    """A few-shot example file that cannot be read; the message names it."""


def read_examples(paths: Sequence[str | Path]) -> tuple[str, ...]:
    """The texts of few-shot example specs (paths to `.mas` files)."""
    texts = []
    for path in paths:
        try:
            texts.append(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise ExampleError(f"few-shot example {str(path)!r}: cannot read: {error}") from None
    return tuple(texts)


class RoleEngine:
    """One role's view of an engine: applies the role's sampling overrides and token cap to
    every request and measures the role's time and tokens (for a step's time split). It does
    not own the engine: `close` leaves it open."""

    def __init__(self, engine: Any, max_tokens: int | None = None, *,
                 temperature: float | None = None, top_p: float | None = None,
                 name: str | None = None) -> None:
        self.engine = engine
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.name = name or engine.name
        self.capabilities = engine.capabilities
        self.first_call: float | None = None
        self.last_return: float | None = None
        self.tokens = 0
        self.calls = 0

    def reset(self) -> None:
        """Forget the recorded times and counts (before a new rollout)."""
        self.first_call = self.last_return = None
        self.tokens = self.calls = 0

    def _view(self, request: ChatRequest) -> ChatRequest:
        sampling = request.sampling
        if self.max_tokens is not None and sampling.max_tokens > self.max_tokens:
            sampling = replace(sampling, max_tokens=self.max_tokens)
        if self.temperature is not None:
            sampling = replace(sampling, temperature=self.temperature)
        if self.top_p is not None:
            sampling = replace(sampling, top_p=self.top_p)
        return request if sampling is request.sampling else replace(request, sampling=sampling)

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        import time

        if self.first_call is None:
            self.first_call = time.perf_counter()
        completions: list[Completion] = await self.engine.generate(
            [self._view(request) for request in requests])
        self.last_return = time.perf_counter()
        self.calls += len(requests)
        self.tokens += sum(len(c.token_ids) for c in completions)
        return completions

    async def close(self) -> None:
        """The engine belongs to whoever made it: nothing to release here."""


@dataclass(frozen=True)
class ExecutionRollout:
    """One execution of a design, and the verifier's judgement of its output."""

    result: ExecutionResult
    verdict: Verdict

    @property
    def reward(self) -> float:
        return self.verdict.reward


@dataclass(frozen=True)
class DesignRecord:
    """One design of a question and its executions, with what credit needs computed once
    (see the module docstring). For a fixed system the completion is empty."""

    question_id: Hashable
    design_id: Hashable
    design: Design
    token_offsets: tuple[CharSpan, ...]
    executions: tuple[ExecutionRollout, ...] = ()
    nodes: tuple[NodeSpan, ...] = field(default=())

    @property
    def completion(self) -> Completion:
        return self.design.completion

    @property
    def mean_reward(self) -> float | None:
        if not self.executions:
            return None
        return sum(e.reward for e in self.executions) / len(self.executions)

    @property
    def turns(self) -> tuple[tuple[TurnRecord, ...], ...]:
        """Each execution's turns, in order."""
        return tuple(tuple(run.result.turns) for run in self.executions)

    def design_sample(self) -> DesignSample:
        """The design as `trainer.credit` sees it."""
        design = self.design
        if len(self.token_offsets) != len(design.completion.token_ids):
            raise ValueError(f"design {self.design_id} was recorded without token offsets "
                             "(no detokenizer): it cannot be credited")
        return DesignSample(question_id=self.question_id, design_id=self.design_id,
                            text=design.completion.text, token_offsets=self.token_offsets,
                            compile_ok=design.compiled is not None,
                            diagnostics=diagnostic_spans(design.diagnostics),
                            nodes=self.nodes, spec_offset=design.offset)

    def execution_samples(self) -> tuple[ExecutionSample, ...]:
        """Each execution as `trainer.credit` sees it (reachability from the IR)."""
        if self.design.compiled is None:
            return ()
        ir = self.design.compiled.ir
        return tuple(execution_sample(self.design_id, run.reward, run.result.turns, ir)
                     for run in self.executions)


def design_record(question_id: Hashable, design_id: Hashable, design: Design,
                  executions: Sequence[ExecutionRollout],
                  detokenize: Detokenize | None) -> DesignRecord:
    """Build a `DesignRecord`, computing the token offsets once and checking that they index
    the completion's text and the spec inside it (a `ContractError` otherwise: an engine
    broke the completion contract, and credit would land on the wrong tokens). Without a
    `detokenize` (evaluation only) there are no offsets and no credit."""
    completion = design.completion
    nodes = node_spans(design.compiled) if design.compiled is not None else ()
    if detokenize is None:
        return DesignRecord(question_id, design_id, design, (), tuple(executions), nodes)
    text, offsets = token_char_offsets(detokenize, completion.token_ids)
    if text != completion.text:
        raise ContractError(f"design {design_id}: the completion's text is not its detokenised "
                            f"token ids ({completion.text[:60]!r} vs {text[:60]!r})")
    if completion.token_ids and text[design.offset:design.offset + len(design.text)] \
            != design.text:
        raise ContractError(f"design {design_id}: the spec is not at offset {design.offset} "
                            "of its completion")
    nodes = node_spans(design.compiled) if design.compiled is not None else ()
    return DesignRecord(question_id, design_id, design, tuple(offsets), tuple(executions),
                        nodes)


@dataclass(frozen=True)
class QuestionEpisode:
    """One question's episode: its item and its designs (each with its executions)."""

    item: Item
    designs: tuple[DesignRecord, ...]


def question_text(item: Item) -> str:
    """What the designer is shown: the `question` input, or all inputs."""
    if "question" in item.inputs:
        return item.inputs["question"]
    return "\n".join(f"{name}: {value}" for name, value in item.inputs.items())


def task_interface(task: Task) -> Interface:
    """The interface every design for `task` must declare."""
    return Interface(inputs=tuple((f.name, f.type) for f in task.inputs),
                     outputs=((task.output.name, task.output.type),))


def fixed_design(system: CompiledSpec) -> Design:
    """A hand-written system in the place of a sampled design (no designer tokens)."""
    empty = Completion(text="", prompt_token_ids=(), token_ids=(), logprobs=(),
                       finish_reason="stop")
    return Design(text="", completion=empty, compiled=system,
                  diagnostics=tuple(system.diagnostics))


async def execute_design(design: Design, item: Item, task: Task, engine: Engine,
                         executions: int, seed: int, budget: Budget | None,
                         tools: ToolRegistry | None = None) -> tuple[ExecutionRollout, ...]:
    """Run a compiled design `executions` times on `item` and verify each output; raises
    `runtime.inputs.InputError` when the item's inputs do not fit the design's."""
    assert design.compiled is not None
    ir = design.compiled.ir
    inputs = coerce_inputs(dict(item.inputs), ir.inputs)  # InputError: the item does not fit
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


async def run_episodes(items: Sequence[Item], task: Task, *, designer: Engine | None,
                       executor: Engine, settings: EpisodeSettings, seed: int,
                       detokenize: Detokenize | None, tools: ToolRegistry | None = None,
                       system: CompiledSpec | None = None,
                       question_ids: Sequence[Hashable] | None = None,
                       ) -> list[QuestionEpisode]:
    """Run one episode per item: `settings.designs` designs (or the fixed `system`), each
    compiled design run `settings.executions` times. Seeds derive from `seed`, the item's
    position and the design's index, so an episode is reproducible for fixed engines.
    `detokenize` is the designer engine's (token ids -> text, special tokens left out); None
    when the episodes are only scored, never credited."""
    ids = list(question_ids) if question_ids is not None else list(range(len(items)))
    executor_view = RoleEngine(executor, settings.executor_max_tokens,
                               temperature=settings.executor_temperature,
                               top_p=settings.executor_top_p)
    budget = settings.budget()
    interface = task_interface(task)
    if system is None and designer is None:
        raise ValueError("an episode needs a designer engine or a fixed system")

    async def candidate(q: int, d: int) -> Design:
        if system is not None:
            return fixed_design(system)
        assert designer is not None
        request = design_request(question_text(items[q]), interface=interface,
                                 examples=settings.examples, decoding=settings.decoding,
                                 sampling=replace(settings.designer, seed=seed + 1000 * q + d))
        (sampled,) = await sample_designs(designer, [request], interface, settings.decoding)
        return sampled

    async def run_design(q: int, d: int) -> DesignRecord:
        # each design runs as soon as it is written, so executions fill the engine's batch
        # while other designs are still being sampled
        design = await candidate(q, d)
        runs: tuple[ExecutionRollout, ...] = ()
        if design.ok:
            runs = await execute_design(design, items[q], task, executor_view,
                                        settings.executions,
                                        seed + 100_000 * (q + 1) + 1000 * d, budget, tools)
        return design_record(ids[q], d, design, runs, detokenize)

    jobs = [run_design(q, d) for q in range(len(items)) for d in range(settings.designs)]
    finished = await asyncio.gather(*jobs)
    per = settings.designs
    return [QuestionEpisode(item, tuple(finished[q * per:(q + 1) * per]))
            for q, item in enumerate(items)]

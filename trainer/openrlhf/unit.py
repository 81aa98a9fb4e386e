"""One hierarchical rollout unit, run inside OpenRLHF's rollout actor.

A unit is what one OpenRLHF sample stands for: one design for a question (sampled with our
grammar as vLLM structured output), compiled, and run N times. It runs through the one episode
layer, `trainer.episode.run_episodes` (one question, one design, N executions, the settings of
the CPU trainer: `EpisodeSettings.from_train_config`), against `OpenRLHFEngine`. The M samples
OpenRLHF draws per prompt are the M designs of the question.

The unit returns OpenRLHF's sample dict for the designer completion (tokens, `action_ranges`,
rollout logprobs, the design's return as `reward`) plus a `UnitRecord` under `masdsl_unit`:
everything our credit needs (the `DesignSample`, the `ExecutionSample`s) and every executor
turn's tokens. Advantages need all M units of a question (GRPO over designs, executions
normalised over the question), so they are computed where the M units meet, on the trainer
side (`trainer.openrlhf.credit_layout`, through `trainer.assign.question_samples`, as on the
CPU), not here.
"""

from __future__ import annotations

import itertools
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from runtime.engines.base import Completion
from runtime.engines.prompt import hf_detokenizer
from runtime.trace import TurnRecord
from trainer.config import TrainConfig
from trainer.credit import DesignSample, ExecutionSample
from trainer.episode import DesignRecord, EpisodeSettings, run_episodes
from trainer.openrlhf.engine_adapter import OpenRLHFEngine, ParamsFactory, vllm_params
from trainer.openrlhf.labels import item_from_label
from trainer.tasks.base import Task


@dataclass(frozen=True)
class UnitRecord:
    """What the trainer side needs of one unit (plain data: it crosses Ray by pickle); a
    `trainer.assign.CreditUnit` like the CPU loop's `DesignRecord`.

    `designer` is the designer's completion (prompt ids, token ids, logprobs);
    `executions[i].turns[j]` and `turns[i][j]` describe the same executor turn."""

    group: str
    design: DesignSample
    designer: Completion
    design_return: float
    executions: tuple[ExecutionSample, ...]
    turns: tuple[tuple[TurnRecord, ...], ...]

    @property
    def completion(self) -> Completion:
        return self.designer

    def design_sample(self) -> DesignSample:
        return self.design

    def execution_samples(self) -> tuple[ExecutionSample, ...]:
        return self.executions


def unit_record(group: str, record: DesignRecord, compile_penalty: float) -> UnitRecord:
    """The plain-data projection of a finished `DesignRecord` for the trainer side."""
    sample = replace(record.design_sample(), question_id=group)
    mean = record.mean_reward
    return UnitRecord(group=group, design=sample, designer=record.completion,
                      design_return=compile_penalty if mean is None else mean,
                      executions=record.execution_samples(), turns=record.turns)


def openrlhf_sample(prompt: str, label: str, record: UnitRecord,
                    truncated: bool) -> dict[str, Any]:
    """OpenRLHF's sample dict for the designer completion of a unit, carrying the record."""
    designer = record.designer
    start = len(designer.prompt_token_ids)
    end = start + len(designer.token_ids)
    turns = sum(len(t) for t in record.turns)
    mean_execution = (sum(e.reward for e in record.executions) / len(record.executions)
                      if record.executions else 0.0)
    return {
        "prompt": prompt, "label": label, "images": None, "mm_train_inputs": None,
        "observation_tokens": [*designer.prompt_token_ids, *designer.token_ids],
        "action_ranges": [(start, end)] if end > start else [],
        "rollout_log_probs": [0.0] * start + list(designer.logprobs),
        "reward": record.design_return, "scores": record.design_return,
        "truncated": truncated,
        "extra_logs": {"masdsl/compile_ok": float(record.design.compile_ok),
                       "masdsl/execution_reward": mean_execution,
                       "masdsl/executor_turns": float(turns)},
        "masdsl_unit": record,
    }


class UnitRunner:
    """Runs units for one rollout actor; keeps the tasks it has loaded and a unit counter
    (each unit gets its own design id and seed)."""

    def __init__(self, train: TrainConfig, *, make_params: ParamsFactory = vllm_params,
                 tasks: Mapping[str, Task] | None = None) -> None:
        self.train = train
        self._make_params = make_params
        self._tasks: dict[str, Task] = dict(tasks or {})
        self._counter = itertools.count()
        # One unit is one design: OpenRLHF's n_samples_per_prompt draws the M designs.
        self.settings = replace(EpisodeSettings.from_train_config(train), designs=1)

    def task(self, name: str) -> Task:
        if name not in self._tasks:
            from trainer.tasks.registry import get_task

            self._tasks[name] = get_task(name)
        return self._tasks[name]

    async def run(self, prompt: str, label: str, max_length: int, tokenizer: Any,
                  llm_engine: Any) -> dict[str, Any]:
        """Run one unit for the question in `label` and return OpenRLHF's sample dict."""
        name, item = item_from_label(label)
        task = self.task(name)
        number = next(self._counter)
        seed = self.train.seed + 7919 * number + zlib.crc32(label.encode()) % 100_003
        engine = OpenRLHFEngine(llm_engine, tokenizer, max_length,
                                make_params=self._make_params)
        (question,) = await run_episodes([item], task, designer=engine, executor=engine,
                                         settings=self.settings, seed=seed,
                                         detokenize=hf_detokenizer(tokenizer),
                                         question_ids=[label])
        (done,) = question.designs
        # Unique across rollout actors: two actors may run units of the same question.
        done = replace(done, design_id=f"{number}-{uuid.uuid4().hex}")
        record = unit_record(label, done, self.train.credit.compile_penalty)
        truncated = done.completion.finish_reason == "length"
        return openrlhf_sample(prompt, label, record, truncated)

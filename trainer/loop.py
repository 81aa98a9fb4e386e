"""The training loop: `train(config)` runs hierarchical GRPO on the policy's live weights.

One step: draw `questions_per_step` questions (a deterministic shuffled order; the position is
checkpointed) -> `trainer.rollout.rollout` (M typed-decoded designs per question, N
executions of each compiled design, verifier rewards), sampled from a `TransformersEngine`
around the policy's own model under `torch.no_grad`, so the rollout's logprobs are the "old"
logprobs of the ratio -> `assign_credit` per question -> token samples of the roles the
schedule trains at this step (an inactive role's tokens carry no loss: they are not even
forwarded; samples whose advantages are all zero carry no gradient and are dropped too) ->
`update_policy` per policy -> metrics (JSONL + TensorBoard) -> an atomic checkpoint every
`checkpoint_interval` steps. Held-out evaluation runs before training, every `eval_interval`
steps and at the end: one design and one execution per held-out question, with fixed seeds.

Every random choice is seeded from the config's seed, the step and the question/design
index, and the global RNG states are checkpointed, so `train(config, resume=run_dir)`
continues exactly as if the run had never stopped.
"""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trainer.tasks.base import Item, Output, Task, Verdict
from trainer.tasks.registry import get_task
from runtime.budget import Budget
from runtime.engines.base import Sampling
from trainer.assign import assign_credit
from trainer.batch import TokenSample
from trainer.checkpoint import (
    TrainerState,
    load_newest_intact,
    remove_partial,
    resume_candidates,
    save_checkpoint,
)
from trainer.config import TaskRef, TrainConfig
from trainer.design_spans import design_sample
from trainer.engine_view import RoleEngine
from trainer.metrics import MetricsLog, Progress, design_records, rollout_metrics
from trainer.rollout import QuestionRollout, rollout
from trainer.samples import designer_token_sample, execution_sample, executor_token_samples
from trainer.schedule import Role, Schedule
from trainer.tokens import token_char_offsets

CONFIG_FILE = "config.json"
EVAL_SEED_OFFSET = 7_919_000_000


class TrainError(RuntimeError):
    """A run that cannot start or resume; the message is ready for the user."""


@dataclass(frozen=True)
class RunSummary:
    """What a finished `train` call did: the run directory, steps completed, the last step's
    metrics and every evaluation record of the run."""

    run_dir: Path
    steps: int
    last: dict[str, Any]
    evals: tuple[dict[str, Any], ...] = ()


class _Timer:
    """Sums the wall time of calls of a function (thread-safe: verifiers run in threads)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._lock = threading.Lock()

    def wrap(self, function: Callable[[Item, Output], Verdict]) -> Callable[[Item, Output],
                                                                             Verdict]:
        def timed(item: Item, output: Output) -> Verdict:
            began = time.perf_counter()
            try:
                return function(item, output)
            finally:
                with self._lock:
                    self.total += time.perf_counter() - began
        return timed


@dataclass
class _Run:
    """Everything a running training loop holds."""

    config: TrainConfig
    run_dir: Path
    policies: Any
    designer: RoleEngine
    executor: RoleEngine
    train_tasks: list[Task]
    train_items: list[list[Item]]
    eval_tasks: list[tuple[TaskRef, Task, list[Item]]]
    reward_timer: _Timer
    examples: tuple[str, ...] = ()
    reference: Any = None
    cursors: list[int] = field(default_factory=list)


def step_seed(seed: int, step: int) -> int:
    """The rollout seed of 0-based `step` (rollout derives per-question/design seeds)."""
    return (seed * 100_003 + step + 1) * 10_000_000


def _load_items(task: Task, ref: TaskRef, seed: int) -> list[Item]:
    items = task.load(ref.split, ref.limit, seed)  # type: ignore[arg-type]
    if not items:
        raise TrainError(f"task {ref.name!r} split {ref.split!r} has no items")
    return items


def draw(items: Sequence[Item], cursor: int, count: int, seed: int) -> list[Item]:
    """`count` items from position `cursor` of an endless sequence of shuffled epochs (each
    epoch a permutation of `items` seeded by `seed` and the epoch number)."""
    drawn = []
    for position in range(cursor, cursor + count):
        epoch, index = divmod(position, len(items))
        order = list(range(len(items)))
        random.Random(seed * 1_000_003 + epoch).shuffle(order)
        drawn.append(items[order[index]])
    return drawn


def _design_sampling(config: TrainConfig) -> Sampling:
    designer = config.sampling.designer
    return Sampling(temperature=designer.temperature, top_p=designer.top_p,
                    max_tokens=designer.max_tokens)


def _budget(config: TrainConfig) -> Budget:
    # no wall-time limit: it would make rollouts depend on the machine's speed
    return Budget(max_llm_calls=config.rollout.max_calls_per_execution, max_tokens=None,
                  max_wall_s=None)


def _rollout(run: _Run, items: Sequence[Item], task: Task, designs: int, executions: int,
             seed: int) -> list[QuestionRollout]:
    import torch

    timed = replace(task, verifier=run.reward_timer.wrap(task.verifier))
    with torch.no_grad():
        return asyncio.run(rollout(items, timed, designer=run.designer,
                                   executor=run.executor, designs=designs,
                                   executions=executions, seed=seed,
                                   decoding=run.config.sampling.decoding,
                                   design_sampling=_design_sampling(run.config),
                                   examples=run.examples,
                                   budget=_budget(run.config)))


def question_samples(question: QuestionRollout, question_id: int, tokenizer: Any,
                     config: TrainConfig) -> list[TokenSample]:
    """Credit one question's rollout and return the token samples of both roles (designer
    samples first, then each execution's turns)."""
    designs = []
    for index, rolled in enumerate(question.designs):
        completion = rolled.design.completion
        text, offsets = token_char_offsets(tokenizer, completion.token_ids)
        designs.append(design_sample(question_id, index, text, offsets, rolled.design.offset,
                                     rolled.design.compiled, rolled.design.diagnostics))
    executions, turn_lists = [], []
    for index, rolled in enumerate(question.designs):
        if rolled.design.compiled is None:
            continue
        for execution in rolled.executions:
            executions.append(execution_sample(index, execution.reward,
                                               execution.result.turns,
                                               rolled.design.compiled.ir))
            turn_lists.append(execution.result.turns)
    credit = assign_credit(designs, executions, config.credit)
    samples = [designer_token_sample(rolled.design.completion, advantages)
               for rolled, advantages in zip(question.designs, credit.designer_tokens,
                                             strict=True)
               if rolled.design.completion.token_ids]
    for turns, advantages in zip(turn_lists, credit.executor_turns, strict=True):
        samples.extend(executor_token_samples(turns, advantages))
    return samples


def _update(run: _Run, samples: Sequence[TokenSample], roles: frozenset[Role]
            ) -> dict[str, float]:
    from trainer.update import update_policy

    tokenizer = run.policies.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    live = [s for s in samples if s.role in roles and any(a != 0.0 for a in s.advantages)]
    metrics: dict[str, float] = {"trained_samples": float(len(live))}
    for policy in run.policies.distinct():
        mine = [s for s in live if run.policies.for_role(s.role) is policy]
        prefix = "" if run.policies.shared else \
            ("designer_" if policy is run.policies.designer else "executor_")
        if not mine:
            metrics[prefix + "updated"] = 0.0
            continue
        stats = update_policy(policy, mine, int(pad_id), run.config.loss,
                              reference=run.reference)
        metrics[prefix + "updated"] = 1.0
        for key, value in stats.items():
            metrics[prefix + ("trained_tokens" if key == "tokens" else key)] = value
    return metrics


def train_step(run: _Run, step: int, schedule: Schedule,
               log: MetricsLog | None = None) -> dict[str, Any]:
    """Run 0-based step `step` and return its metrics record (the step's designs go to
    `log`'s `designs.jsonl`)."""
    config = run.config
    began = time.perf_counter()
    index = step % len(run.train_tasks)
    task = run.train_tasks[index]
    items = draw(run.train_items[index], run.cursors[index], config.rollout.questions_per_step,
                 config.seed + index)
    run.cursors[index] += len(items)
    roles = schedule.active_roles(step)
    run.designer.reset()
    run.executor.reset()
    run.reward_timer.total = 0.0
    rollouts = _rollout(run, items, task, config.rollout.designs_per_question,
                        config.rollout.executions_per_design, step_seed(config.seed, step))
    rolled = time.perf_counter()
    if log is not None:
        log.write_designs(design_records(step + 1, rollouts))
    samples: list[TokenSample] = []
    for question_id, question in enumerate(rollouts):
        samples.extend(question_samples(question, question_id, run.policies.tokenizer, config))
    credited = time.perf_counter()
    update = _update(run, samples, roles)
    updated = time.perf_counter()
    designed = (run.designer.last_return or began) - began
    record: dict[str, Any] = {
        "kind": "train", "step": step + 1, "task": task.name,
        "roles": ",".join(sorted(roles)),
        **rollout_metrics(rollouts, config.credit.compile_penalty),
        **update,
        "time/design": designed,
        "time/execute": rolled - began - designed - run.reward_timer.total,
        "time/reward": run.reward_timer.total,
        "time/credit": credited - rolled,
        "time/update": updated - credited,
        "time/step": updated - began,
        "rollout_tokens_per_s": (run.designer.tokens + run.executor.tokens)
        / max(rolled - began, 1e-9),
    }
    return record


def evaluate(run: _Run, step: int) -> list[dict[str, Any]]:
    """Held-out evaluation after `step` steps: one design and one execution per question,
    seeded identically at every evaluation so before/after compare like with like."""
    records = []
    for ref, task, items in run.eval_tasks:
        began = time.perf_counter()
        rollouts = _rollout(run, items, task, 1, 1, run.config.seed + EVAL_SEED_OFFSET)
        metrics = rollout_metrics(rollouts, run.config.credit.compile_penalty)
        records.append({"kind": "eval", "step": step, "task": task.name, "split": ref.split,
                        "questions": len(items), **metrics,
                        "time/eval": time.perf_counter() - began})
    return records


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _prepare(config: TrainConfig, run_dir: Path) -> _Run:
    from runtime.designer import library
    from runtime.engines.transformers_engine import TransformersEngine
    from trainer.policy import Policy, build_policies, load_model_and_tokenizer

    policies = build_policies(config.policy, config.loss, seed=config.seed)
    reference = None
    if config.loss.kl_coef > 0:
        model, _ = load_model_and_tokenizer(config.policy.model, config.policy.dtype,
                                            config.policy.cache_dir)
        model.requires_grad_(False)
        reference = Policy(model=model, optimizer=None)
    designer_engine = TransformersEngine(policies.designer.model, policies.tokenizer,
                                         name="designer")
    executor_engine = designer_engine if policies.shared else TransformersEngine(
        policies.executor.model, policies.tokenizer, name="executor")
    train_tasks = [get_task(ref.name) for ref in config.tasks.train]
    train_items = [_load_items(task, ref, config.seed)
                   for task, ref in zip(train_tasks, config.tasks.train, strict=True)]
    examples = tuple(library(config.sampling.examples)) if config.sampling.examples else ()
    if len(examples) != len(config.sampling.examples):
        raise TrainError(f"sampling.examples: unknown systems in {config.sampling.examples}")
    eval_tasks = []
    for ref in config.tasks.eval:
        task = get_task(ref.name)
        eval_tasks.append((ref, task, _load_items(task, ref, config.seed)))
    return _Run(config=config, run_dir=run_dir, policies=policies,
                designer=RoleEngine(designer_engine, config.sampling.designer.max_tokens),
                executor=RoleEngine(executor_engine, config.sampling.executor.max_tokens),
                train_tasks=train_tasks, train_items=train_items, eval_tasks=eval_tasks,
                reward_timer=_Timer(), reference=reference, examples=examples,
                cursors=[0] * len(train_tasks))


def _phase(schedule: Schedule, step: int) -> str:
    return ",".join(sorted(schedule.active_roles(step)))


def load_run_config(run_dir: Path) -> TrainConfig:
    """The configuration a run was started with (saved in its directory)."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise TrainError(f"{run_dir}: not a training run (no {CONFIG_FILE})")
    return TrainConfig.model_validate_json(path.read_text(encoding="utf-8"))


def train(config: TrainConfig, resume: Path | None = None, *, progress: bool = True,
          designer_engine: Callable[[Any], Any] | None = None) -> RunSummary:
    """Train for `config.steps` steps into `config.output_dir`. With `resume` (a run
    directory or one of its checkpoints), continue from its newest (or that) checkpoint: the
    weights, optimisers, RNG states, step, phase and data position are restored, so the run
    continues exactly; `config.steps` may be raised to train longer. `designer_engine`, when
    given, maps the designer policy's engine to the engine designs are sampled from (tests
    script designs with it); by default designs are sampled from the policy itself."""
    from trainer.checkpoint import checkpoint_dirs
    from trainer.preflight import ConfigProblem, check_config

    try:
        check_config(config)  # before any model is loaded or any folder made
    except ConfigProblem as problem:
        raise TrainError(str(problem)) from None
    run_dir = Path(config.output_dir)
    checkpoint: Path | None = None
    if resume is not None:
        resume = Path(resume)
        try:
            candidates = resume_candidates(resume)
        except ValueError as error:
            raise TrainError(str(error)) from None
        checkpoint = candidates[0]
        run_dir = checkpoint.parent.parent
    elif checkpoint_dirs(run_dir):
        raise TrainError(f"{run_dir} already holds checkpoints: resume it with "
                         f"`masc train --resume {run_dir}` or choose another output_dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_partial(run_dir)
    _seed_everything(config.seed)
    run = _prepare(config, run_dir)
    if designer_engine is not None:
        run.designer = RoleEngine(designer_engine(run.designer.engine), run.designer.max_tokens)
    schedule = Schedule(config.schedule.kind, config.schedule.switch_every)
    start = 0
    if checkpoint is not None:
        try:
            checkpoint, state, skipped = load_newest_intact(candidates, run.policies)
        except ValueError as error:
            raise TrainError(str(error)) from None
        for reason in skipped:
            print(f"masc: skipped a damaged checkpoint: {reason}", file=sys.stderr)
        start, run.cursors = state.step, list(state.cursors)
        if len(run.cursors) != len(run.train_tasks):
            raise TrainError(f"{checkpoint}: the checkpoint has {len(run.cursors)} data "
                             f"positions but the config {len(run.train_tasks)} train tasks")
    else:
        (run_dir / CONFIG_FILE).write_text(config.model_dump_json(indent=2) + "\n",
                                           encoding="utf-8")
    log = MetricsLog(run_dir, resume_step=start if checkpoint is not None else None)
    bar = Progress(config.steps, start) if progress else None
    evals: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    try:
        if checkpoint is None and config.eval_interval > 0:
            for record in evaluate(run, 0):
                log.write(record)
                evals.append(record)
        for step in range(start, config.steps):
            last = train_step(run, step, schedule, log)
            log.write(last)
            done = step + 1
            if config.eval_interval > 0 and (done % config.eval_interval == 0
                                             or done == config.steps):
                for record in evaluate(run, done):
                    log.write(record)
                    evals.append(record)
            if done % config.checkpoint_interval == 0 or done == config.steps:
                save_checkpoint(run_dir, run.policies,
                                TrainerState(done, tuple(run.cursors),
                                             _phase(schedule, min(done, config.steps - 1))),
                                keep=config.keep_checkpoints)
            if bar is not None:
                bar.update(done, [("R_design", last["designer_reward"]),
                                  ("R_exec", last["executor_reward"]),
                                  ("compile", last["compile_rate"]),
                                  ("loss", float(last.get("loss", 0.0)))])
    finally:
        log.close()
    return RunSummary(run_dir=run_dir, steps=max(start, config.steps), last=last,
                      evals=tuple(evals))

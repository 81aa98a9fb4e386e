"""The `[openrlhf]` section of a training config: where the model is and how the GPUs are used.

It lives in the same TOML file as the `TrainConfig` (`trainer.config`) and is validated here,
separately, so the CPU trainer's schema stays unchanged: `load_gpu_config` splits the file into
the two models. Errors name the file and the key path, like `trainer.config.ConfigError`.

`batch_problems` checks what depends on both models: OpenRLHF's batch invariants (every actor
GPU must run the same whole number of micro-batches per step) and its start-up assertions,
so a config that OpenRLHF would reject, or that would hang its collectives, fails here with
a message that says what to change.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trainer.config import ConfigError, TrainConfig

CreditKind = Literal["masdsl", "scalar"]


class OpenRLHFConfig(BaseModel):
    """How `masc train CONFIG --backend openrlhf` runs: model, cluster shape, memory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(description="Local Hugging Face model directory of the policy (e.g. a "
                                   "Qwen3-4B checkout). Nothing is downloaded.")
    credit: CreditKind = Field(
        default="masdsl", description="`masdsl`: our per-token credit (per DSL node, per "
                                      "executor turn); `scalar`: OpenRLHF's built-in "
                                      "group-normalised scalar reward on the designer "
                                      "completion (the baseline).")
    nodes: int = Field(default=1, ge=1, description="Ray nodes for the actor (policy).")
    gpus_per_node: int = Field(default=1, ge=1, description="GPUs per node for the actor.")
    vllm_engines: int = Field(default=1, ge=1, description="vLLM rollout engines.")
    tensor_parallel: int = Field(default=1, ge=1,
                                 description="GPUs per vLLM engine (tensor parallelism).")
    colocate: bool = Field(default=True,
                           description="Actor and vLLM engines share GPUs (sleep mode); "
                                       "needs nodes x gpus_per_node == vllm_engines x "
                                       "tensor_parallel.")
    gpu_memory_utilization: float = Field(default=0.5, gt=0, le=1,
                                          description="Fraction of GPU memory vLLM may take.")
    max_len: int = Field(default=4096, ge=256,
                         description="Longest prompt + completion in tokens (`--data.max_len`).")
    zero_stage: Literal[0, 1, 2, 3] = Field(default=2, description="DeepSpeed ZeRO stage.")
    micro_batch_size: int = Field(default=4, ge=1,
                                  description="Sequences per forward pass (train and rollout).")
    train_batch_size: int | None = Field(
        default=None, ge=1, description="Sequences per optimiser step (default: questions "
                                        "per step x designs per question).")
    gradient_checkpointing: bool = Field(default=True,
                                         description="Recompute activations to save memory.")
    ray_address: str = Field(default="http://127.0.0.1:8265",
                             description="Ray dashboard address given to `ray job submit`.")
    start_step: int = Field(default=0, ge=0,
                            description="Step the stagewise schedule starts at (set it when "
                                        "resuming from a checkpoint).")

    @model_validator(mode="after")
    def _colocation_fits(self) -> OpenRLHFConfig:
        actor = self.nodes * self.gpus_per_node
        rollout = self.vllm_engines * self.tensor_parallel
        if self.colocate and actor != rollout:
            raise ValueError(
                f"colocate = true needs nodes x gpus_per_node ({actor}) == vllm_engines x "
                f"tensor_parallel ({rollout}); change vllm_engines or set colocate = false")
        return self

    def gpus_needed(self, reference_model: bool) -> int:
        """GPUs the job reserves: shared when colocated, else actor + engines (+ reference)."""
        actor = self.nodes * self.gpus_per_node
        if self.colocate:
            return actor
        return actor + self.vllm_engines * self.tensor_parallel + (actor if reference_model
                                                                   else 0)


def train_batch_size(train: TrainConfig, gpu: OpenRLHFConfig) -> int:
    """Rows per optimiser step (`--train.batch_size`): the config's, or one row per design
    of a step (questions per step x designs per question)."""
    rollout = train.rollout
    return gpu.train_batch_size or rollout.questions_per_step * rollout.designs_per_question


def batch_problems(train: TrainConfig, gpu: OpenRLHFConfig) -> list[str]:
    """What OpenRLHF 0.11 would reject at start-up, or deadlock or silently drop rows on,
    one message per problem naming the keys to change.

    With A actor GPUs and micro batch b, each GPU runs `train batch / (b x A)` micro-batches
    per optimiser step (DeepSpeed's gradient accumulation, 0 when the batch is smaller), and
    a step's rows are split into chunks of b spread evenly over the GPUs only when the train
    batch is a multiple of b x A. Our credit pads every step to whole train batches
    (`trainer.openrlhf.credit_layout.pad_to_multiple`); the scalar baseline trains exactly
    one row per design, so its train batch must divide those rows."""
    rollout = train.rollout
    gpus = gpu.nodes * gpu.gpus_per_node
    micro = gpu.micro_batch_size
    batch = train_batch_size(train, gpu)
    designs = rollout.questions_per_step * rollout.designs_per_question
    problems = []
    if batch % (micro * gpus):
        fits = micro * gpus
        problems.append(
            f"openrlhf: the train batch ({batch}: "
            + ("openrlhf.train_batch_size" if gpu.train_batch_size else
               "rollout.questions_per_step x rollout.designs_per_question")
            + f") must be a multiple of openrlhf.micro_batch_size ({micro}) x the actor GPUs "
            f"(nodes x gpus_per_node = {gpus}) = {fits}, so every GPU runs the same whole "
            f"number of micro-batches; set openrlhf.train_batch_size to "
            f"{max(fits, batch // fits * fits)} or lower micro_batch_size")
    if designs // micro < gpus:
        problems.append(
            f"openrlhf: rollout.questions_per_step x rollout.designs_per_question ({designs}) "
            f"/ openrlhf.micro_batch_size ({micro}) gives {designs // micro} rollout "
            f"micro-batches, fewer than the {gpus} actor GPUs (OpenRLHF refuses to start); "
            "raise questions_per_step or lower micro_batch_size")
    if gpu.credit == "scalar":
        if rollout.designs_per_question < 2:
            problems.append(
                "openrlhf: credit = \"scalar\" normalises rewards within each question's "
                "designs (OpenRLHF's group_norm), which needs rollout.designs_per_question "
                "of at least 2")
        if designs % batch:
            problems.append(
                f"openrlhf: credit = \"scalar\" trains one row per design ({designs} per "
                f"step), which the train batch ({batch}) must divide, or OpenRLHF drops the "
                "rest; set openrlhf.train_batch_size to a divisor of it")
    return problems


def _problems(error: ValidationError, prefix: str) -> list[str]:
    lines = []
    for problem in error.errors():
        path = ".".join([prefix, *(str(part) for part in problem["loc"])]).strip(".")
        message = "unknown key" if problem["type"] == "extra_forbidden" else problem["msg"]
        lines.append(f"{path or '(top level)'}: {message}")
    return lines


def parse_gpu_config(text: str, source: str = "<config>") -> tuple[TrainConfig, OpenRLHFConfig]:
    """Validate TOML text holding a training config and an `[openrlhf]` table."""
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: invalid TOML: {error}") from None
    section = raw.pop("openrlhf", None)
    if section is None:
        raise ConfigError(f"{source}: the openrlhf backend needs an [openrlhf] table with at "
                          "least `model = \"/path/to/hf-model\"`")
    problems: list[str] = []
    train: TrainConfig | None = None
    gpu: OpenRLHFConfig | None = None
    try:
        train = TrainConfig.model_validate(raw)
    except ValidationError as error:
        problems += _problems(error, "")
    try:
        gpu = OpenRLHFConfig.model_validate(section)
    except ValidationError as error:
        problems += _problems(error, "openrlhf")
    if train is not None and gpu is not None:
        problems += batch_problems(train, gpu)
    if train is not None and train.schedule.executor_weights == "start":
        problems.append("schedule.executor_weights = \"start\" is for the CPU trainer: the "
                        "OpenRLHF backend samples every call from the one vLLM policy; "
                        "remove the key")
    if problems or train is None or gpu is None:
        raise ConfigError("\n".join(f"{source}: {line}" for line in problems))
    return train, gpu


def load_gpu_config(path: str | Path) -> tuple[TrainConfig, OpenRLHFConfig]:
    """Read a training config file for the OpenRLHF backend; `ConfigError` on any problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    return parse_gpu_config(text, str(path))


SETTINGS_VARIABLE = "MASDSL_OPENRLHF_SETTINGS"
"""Environment variable carrying both configs (JSON) to every Ray worker of the job."""


def settings_json(train: TrainConfig, gpu: OpenRLHFConfig) -> str:
    """Both configs as one JSON string (Ray's runtime env passes it to every worker, so no
    shared file system is needed)."""
    return json.dumps({"train": train.model_dump(mode="json"),
                       "openrlhf": gpu.model_dump(mode="json")}, sort_keys=True)


def settings_from_json(text: str) -> tuple[TrainConfig, OpenRLHFConfig]:
    """The inverse of `settings_json`."""
    data = json.loads(text)
    return (TrainConfig.model_validate(data["train"]),
            OpenRLHFConfig.model_validate(data["openrlhf"]))

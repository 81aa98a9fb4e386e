"""Our TOML config -> the OpenRLHF job: `ray job submit ... -- python -m
openrlhf.cli.train_ppo_ray ...` with OpenRLHF 0.10+ flag names (`--actor.*`, `--vllm.*`,
`--rollout.*`, `--train.*`, `--algo.*`, `--ds.*`, `--data.*`, `--ckpt.*`).

How our settings map:
- one OpenRLHF prompt = one question; `--rollout.n_samples_per_prompt` = M designs; each
  sample is one hierarchical unit (a design and its N executions) run by our `AgentExecutor`;
- `--rollout.batch_size` = questions per step; the prompt file holds `steps x questions`
  prompts and one episode is run, so OpenRLHF takes exactly `steps` steps;
- designer sampling -> `--rollout.top_p/max_new_tokens` (OpenRLHF's own sampling parameters,
  which our agent does not use: every request gets its own); `--rollout.temperature` is always
  1.0, because OpenRLHF divides the *training* logits of every row by it, and our rows hold
  executor turns as well as designs, whose logprobs are trained at temperature 1 as on the
  CPU trainer (a designer temperature of 0 would divide by zero);
- loss -> `--actor.*` with a constant learning rate (`--actor.lr_scheduler constant`, as the
  CPU trainer's AdamW): an executor phase takes many optimiser steps per step, so OpenRLHF's
  default cosine schedule, sized for designer rows only, would decay early and climb back;
  `loss.kl_coef = 0` -> no reference model (`--algo.kl.init_coef 0`);
- `checkpoint_interval` / `keep_checkpoints` -> `--ckpt.save_steps` / `--ckpt.max_num`; a
  resumed job adds `--ckpt.load_enable` (OpenRLHF restores the step, the data position and
  the optimiser; our hook moves the stagewise schedule to that step);
- `credit = "masdsl"`: our experience maker replaces the advantages (the estimator named is
  `reinforce`, which needs no critic and no group); `credit = "scalar"`: OpenRLHF's
  `group_norm` over the M designs' scalar rewards (the baseline);
- LoRA settings -> `--ds.lora.*`; colocation -> `--train.colocate_all` with vLLM and
  DeepSpeed sleep modes (one GPU holds both).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from trainer.config import TrainConfig
from trainer.openrlhf.config import (
    SETTINGS_VARIABLE,
    OpenRLHFConfig,
    settings_json,
    train_batch_size,
)

SETUP_HOOK = "trainer.openrlhf.install.setup_worker"
"""Ray `worker_process_setup_hook` that patches OpenRLHF in every worker of the job: our
credit (with `credit = "masdsl"`), merged LoRA weight sync (with LoRA), resume, and the
start-up line naming the trainer actor's classes."""

ROLLOUT_TEMPERATURE = 1.0
"""`--rollout.temperature`: OpenRLHF divides the training logits by it (see above)."""


@dataclass(frozen=True)
class JobPaths:
    """Files the job reads: the prompt data set and the agent file (`agent_func.py`)."""

    prompts: Path
    agent_file: Path
    output_dir: Path


@dataclass(frozen=True)
class JobCommand:
    """The submission, as arguments (never a shell string: nothing is re-parsed)."""

    ray_address: str
    runtime_env: dict[str, object]
    train_arguments: tuple[str, ...]

    def argv(self) -> list[str]:
        """`ray job submit --address A --runtime-env-json J -- python -m
        openrlhf.cli.train_ppo_ray ARGS`."""
        return ["ray", "job", "submit", "--address", self.ray_address,
                "--runtime-env-json", json.dumps(self.runtime_env, sort_keys=True), "--",
                "python", "-m", "openrlhf.cli.train_ppo_ray", *self.train_arguments]

    def render(self) -> str:
        """The command as one shell line, one flag per line, ready to copy."""
        words = [shlex.quote(word) for word in self.argv()]
        split = words.index("--")
        head = " ".join(words[: split + 1])
        lines = [head + " python -m openrlhf.cli.train_ppo_ray"]
        body = words[split + 4:]
        index = 0
        while index < len(body):
            flag = body[index]
            values = []
            index += 1
            while index < len(body) and not body[index].startswith("--"):
                values.append(body[index])
                index += 1
            lines.append("  " + " ".join([flag, *values]))
        return " \\\n".join(lines)


def train_arguments(train: TrainConfig, gpu: OpenRLHFConfig, paths: JobPaths,
                    resume: bool = False) -> list[str]:
    """The `openrlhf.cli.train_ppo_ray` arguments for a config (see the module docstring);
    `resume` continues from the newest checkpoint under `output_dir/openrlhf/checkpoints`."""
    rollout, loss = train.rollout, train.loss
    designer = train.sampling.designer
    questions = rollout.questions_per_step
    designs = rollout.designs_per_question
    batch = train_batch_size(train, gpu)
    out = paths.output_dir / "openrlhf"
    arguments = [
        "--actor.model_name_or_path", gpu.model,
        "--actor.num_nodes", str(gpu.nodes),
        "--actor.num_gpus_per_node", str(gpu.gpus_per_node),
        "--ref.num_nodes", str(gpu.nodes),
        "--ref.num_gpus_per_node", str(gpu.gpus_per_node),
        "--vllm.num_engines", str(gpu.vllm_engines),
        "--vllm.tensor_parallel_size", str(gpu.tensor_parallel),
        "--vllm.gpu_memory_utilization", str(gpu.gpu_memory_utilization),
        "--vllm.enable_prefix_caching",
        "--train.agent_func_path", str(paths.agent_file),
        "--data.prompt_dataset", str(paths.prompts),
        "--data.input_key", "input",
        "--data.label_key", "label",
        "--data.max_len", str(gpu.max_len),
        "--rollout.n_samples_per_prompt", str(designs),
        "--rollout.batch_size", str(questions),
        "--rollout.micro_batch_size", str(gpu.micro_batch_size),
        "--rollout.max_new_tokens", str(designer.max_tokens),
        "--rollout.temperature", str(ROLLOUT_TEMPERATURE),
        "--rollout.top_p", str(designer.top_p),
        "--train.batch_size", str(batch),
        "--train.micro_batch_size", str(gpu.micro_batch_size),
        "--train.num_episodes", "1",
        "--train.max_epochs", "1",
        "--train.seed", str(train.seed),
        "--algo.advantage.estimator", "reinforce" if gpu.credit == "masdsl" else "group_norm",
        "--algo.kl.init_coef", str(loss.kl_coef),
        "--actor.eps_clip", str(loss.clip),
        "--actor.adam.lr", str(loss.learning_rate),
        "--actor.lr_scheduler", "constant",
        "--actor.adam.weight_decay", str(loss.weight_decay),
        "--actor.max_norm", str(loss.max_grad_norm),
        "--ds.zero_stage", str(gpu.zero_stage),
        "--ds.param_dtype", "bf16",
        "--ckpt.output_dir", str(out / "model"),
        "--ckpt.path", str(out / "checkpoints"),
        "--ckpt.save_steps", str(train.checkpoint_interval),
        "--ckpt.max_num", str(train.keep_checkpoints),
        "--logger.tensorboard_dir", str(out / "tensorboard"),
    ]
    if loss.kl_coef > 0:
        arguments += ["--algo.kl.use_loss", "--algo.kl.estimator", "k3"]
    if gpu.credit == "masdsl":
        # Our advantages are final (group-normalised by our credit): no batch whitening.
        arguments += ["--algo.advantage.no_std_norm"]
    if gpu.colocate:
        arguments += ["--train.colocate_all", "--vllm.enable_sleep", "--ds.enable_sleep"]
    if resume:
        arguments += ["--ckpt.load_enable"]
    if gpu.gradient_checkpointing:
        arguments += ["--actor.gradient_checkpointing_enable"]
    if train.policy.finetune == "lora":
        arguments += ["--ds.lora.rank", str(train.policy.lora_rank),
                      "--ds.lora.alpha", str(train.policy.lora_alpha),
                      "--ds.lora.dropout", str(train.policy.lora_dropout),
                      "--ds.lora.target_modules", *train.policy.lora_target_modules]
    return arguments


def job_command(train: TrainConfig, gpu: OpenRLHFConfig, paths: JobPaths,
                resume: bool = False) -> JobCommand:
    """The whole submission. The runtime env carries both configs to every worker and the
    setup hook that patches OpenRLHF there (`trainer.openrlhf.install`)."""
    runtime_env: dict[str, object] = {"env_vars": {SETTINGS_VARIABLE: settings_json(train, gpu)},
                                      "worker_process_setup_hook": SETUP_HOOK}
    return JobCommand(ray_address=gpu.ray_address, runtime_env=runtime_env,
                      train_arguments=tuple(train_arguments(train, gpu, paths, resume)))

"""The OpenRLHF backend: train the designer/executor policy on GPUs with Ray, vLLM and OpenRLHF.

Nothing here is home-made distributed training: OpenRLHF (0.11.x) runs PPO/GRPO on Ray with
vLLM rollout engines; this package plugs masdsl into it.

- `config`: the `[openrlhf]` section (cluster shape, model path) read next to a `TrainConfig`.
- `versions`: the pinned GPU stack and a check that names what to change.
- `command`: the TOML config -> `ray job submit -- python -m openrlhf.cli.train_ppo_ray ...`.
- `preflight`: bad input (missing model, too few GPUs, wrong versions) fails before GPU work.
- `launcher`: writes the prompt data set and prints (`--dry-run`) or submits the job.
- `labels`: a prompt's label carries its task name and the whole item (for the verifier).
- `engine_adapter`: OpenRLHF's vLLM actor as a `runtime.engines.base.Engine`.
- `unit`: one hierarchical rollout unit (a design + N executions) through `trainer.episode`.
- `agent_func`: the file given to `--train.agent_func_path` (OpenRLHF's `AgentExecutor`).
- `credit_layout`: per-token advantages of a step (`trainer.assign.assign_credit`) laid out
  as OpenRLHF `Experience` rows, padded to whole train batches.
- `weight_sync`: with LoRA, merged weights sent to vLLM under the base model's names.
- `install`: the Ray worker setup hook that patches OpenRLHF where it defines its classes:
  our samples generator and experience maker in the trainer actor, the merged weight sync in
  the policy actors, the stagewise step on resume, and a start-up line naming the classes.
"""

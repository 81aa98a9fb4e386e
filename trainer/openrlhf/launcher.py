"""`masc train CONFIG --backend openrlhf`: check, write the prompt file, submit the Ray job.

The prompt file is JSON Lines, one OpenRLHF prompt per question: `input` is the question text
(what OpenRLHF logs) and `label` is JSON naming the task and carrying the whole item (inputs,
reference, verifier data), so a rollout worker verifies without reloading the data set.
It holds `steps x questions_per_step` questions (the task's items, repeated in order when
there are fewer), so one OpenRLHF episode is exactly `steps` steps.

`resume` continues a job from its newest checkpoint (OpenRLHF's `--ckpt.load_enable`; the
checkpoints are under `output_dir/openrlhf/checkpoints`, written every
`checkpoint_interval` steps, the newest `keep_checkpoints` kept).

Run it as `python -m trainer.openrlhf.launcher CONFIG [--dry-run] [--resume]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from trainer.config import ConfigError, TrainConfig
from trainer.openrlhf.command import JobCommand, JobPaths, job_command
from trainer.openrlhf.config import OpenRLHFConfig, load_gpu_config
from trainer.openrlhf.labels import item_label
from trainer.openrlhf.preflight import PreflightError, preflight, ray_cluster_gpus
from trainer.openrlhf.versions import version_problems
from trainer.tasks.base import Item, TaskError

EXIT_OK, EXIT_ERROR = 0, 2


def prompt_records(train: TrainConfig) -> list[dict[str, str]]:
    """`steps x questions_per_step` prompt records drawn from the training tasks (round
    robin over the tasks, each task's items in its seeded order, repeated when short)."""
    from trainer.episode import question_text
    from trainer.tasks.registry import get_task

    pools: list[tuple[str, list[Item]]] = []
    for index, ref in enumerate(train.tasks.train):
        items = get_task(ref.name).load(ref.split, ref.limit, train.seed + index)  # type: ignore[arg-type]
        if not items:
            raise TaskError(f"task {ref.name!r} split {ref.split!r} has no items")
        pools.append((ref.name, items))
    wanted = train.steps * train.rollout.questions_per_step
    records = []
    for number in range(wanted):
        name, items = pools[number % len(pools)]
        item = items[(number // len(pools)) % len(items)]
        records.append({"input": question_text(item), "label": item_label(name, item)})
    return records


def job_paths(train: TrainConfig) -> JobPaths:
    """Where the job's files go (under `output_dir/openrlhf`) and the installed agent file."""
    spec = importlib.util.find_spec("trainer.openrlhf.agent_func")
    if spec is None or spec.origin is None:  # pragma: no cover - the package is installed
        raise FileNotFoundError("trainer/openrlhf/agent_func.py is missing")
    output = train.output_dir.resolve()
    return JobPaths(prompts=output / "openrlhf" / "prompts.jsonl",
                    agent_file=Path(spec.origin).resolve(), output_dir=output)


def prepare(config_path: str | Path,
            resume: bool = False) -> tuple[TrainConfig, OpenRLHFConfig, JobCommand]:
    """Load the config and build the job command (writes nothing)."""
    train, gpu = load_gpu_config(config_path)
    return train, gpu, job_command(train, gpu, job_paths(train), resume)


def checkpoint_directory(train: TrainConfig) -> Path:
    """Where OpenRLHF keeps the actor's checkpoints (`--ckpt.path` + `_actor`)."""
    return job_paths(train).output_dir / "openrlhf" / "checkpoints" / "_actor"


def resume_problems(train: TrainConfig, run_dir: Path | None = None) -> list[str]:
    """A resumed job needs a checkpoint to resume from (OpenRLHF would silently start over);
    `run_dir`, when given (`masc train CONFIG --backend openrlhf --resume DIR`), must be the
    config's `output_dir`."""
    directory = checkpoint_directory(train)
    if run_dir is not None and run_dir.resolve() != job_paths(train).output_dir:
        return [f"--resume {run_dir}: this config writes its run to {train.output_dir}; "
                "resume that directory (OpenRLHF resumes from output_dir/openrlhf)"]
    if not directory.is_dir():
        return [f"--resume: no OpenRLHF checkpoint in {directory}; the run writes one every "
                "checkpoint_interval steps (start without --resume to begin a new run)"]
    return []


def launch(config_path: str | Path, *, dry_run: bool = False, resume: bool = False,
           run_dir: Path | None = None, out: IO[str] = sys.stdout, err: IO[str] = sys.stderr,
           cluster_gpus: Callable[[str], float] = ray_cluster_gpus,
           versions: Callable[[], list[str]] = version_problems,
           submit: Callable[[list[str]], int] | None = None) -> int:
    """Check the config and the cluster, write the prompt file, and submit the job (or, with
    `dry_run`, only print the command); `resume` continues from the newest checkpoint (of
    `run_dir`, which must then be the config's `output_dir`). Returns the exit code; problems
    go to `err`."""
    try:
        train, gpu, command = prepare(config_path, resume)
    except ConfigError as error:
        print(error, file=err)
        return EXIT_ERROR
    if dry_run:
        print(command.render(), file=out)
        return EXIT_OK
    try:
        if resume and (problems := resume_problems(train, run_dir)):
            raise PreflightError(problems)
        preflight(gpu, reference_model=train.loss.kl_coef > 0, cluster_gpus=cluster_gpus,
                  versions=versions)
        records = prompt_records(train)
    except (PreflightError, TaskError) as error:
        print(f"{config_path}: cannot start the OpenRLHF job:\n{error}", file=err)
        return EXIT_ERROR
    paths = job_paths(train)
    paths.prompts.parent.mkdir(parents=True, exist_ok=True)
    with paths.prompts.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(command.render(), file=out)
    run = submit or (lambda argv: subprocess.run(argv, check=False).returncode)
    try:
        return run(command.argv())
    except OSError as error:  # no `ray` executable on PATH
        print(f"cannot run `ray job submit` ({error}); pip install 'masdsl[gpu]'", file=err)
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m trainer.openrlhf.launcher CONFIG [--dry-run] [--resume]`."""
    parser = argparse.ArgumentParser(prog="masc train --backend openrlhf",
                                     description="Train on GPUs with OpenRLHF on Ray.")
    parser.add_argument("config", help="training config (TOML) with an [openrlhf] table")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the ray job submit command and write nothing")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest checkpoint under output_dir/openrlhf")
    args = parser.parse_args(argv)
    return launch(args.config, dry_run=args.dry_run, resume=args.resume)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

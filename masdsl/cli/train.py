"""`masc train CONFIG [--resume DIR] [--steps N]`, `masc train report RUN` and
`masc train compare RUN RUN ... [--out DIR]`.

`masc train CONFIG --backend openrlhf [--dry-run] [--resume OUTPUT_DIR]` submits the run to
OpenRLHF on Ray instead (see `docs/gpu.md`).

`masc train CONFIG` trains as the TOML config says (see `docs/training.md`), writing
checkpoints, `metrics.jsonl` and TensorBoard events under its `output_dir`, with a progress
bar and ETA on stderr. `--resume DIR` continues a run from its newest checkpoint (CONFIG may
then be left out: the run's saved config is used); `--steps N` overrides the number of
steps. `masc train report RUN` (also `plot`) writes PNG curves into `RUN/plots/` and a
Markdown table of the metrics into `RUN/summary-metrics.md`. `masc train compare RUN RUN ...`
prints the runs side by side (held-out accuracy per evaluated step with intervals, the
difference from the first run, train means); `--out DIR` also writes it as
`DIR/comparison.md` with overlaid plots. torch is imported only when a
run starts. Exit 0 on success, 2 for configuration, usage and I/O errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR = 0, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train", help="train the designer/executor policy with RL (or plot a run)",
        description="Train with hierarchical GRPO as CONFIG says, resume a run, or "
        "`masc train report RUN` to write its plots and summary, or `masc train compare "
        "RUN RUN ...` to put runs side by side.")
    parser.add_argument("target", nargs="*", metavar="CONFIG | report RUN | compare RUN ...",
                        help="a training config (.toml), `report` and a run directory, or "
                        "`compare` and run directories (the first is the reference)")
    parser.add_argument("--resume", metavar="DIR", type=Path,
                        help="continue the run in DIR (or from the checkpoint DIR)")
    parser.add_argument("--steps", type=int, metavar="N",
                        help="train until N steps in total (overrides the config)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--backend", choices=("torch", "openrlhf"), default="torch",
                        help="torch: train here (CPU or one GPU); openrlhf: submit an OpenRLHF "
                        "job to Ray (the config needs an [openrlhf] table; see docs/gpu.md)")
    parser.add_argument("--out", metavar="DIR", type=Path,
                        help="with compare: also write DIR/comparison.md and its plots")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --backend openrlhf: print the ray job command, submit nothing")
    parser.set_defaults(run=run)


def _fail(message: str) -> int:
    print(f"masc train: {message}", file=sys.stderr)
    return EXIT_ERROR


def _plot(run_dir: str) -> int:
    """`masc train report RUN` (and its old name `plot`): plots and the metrics summary."""
    from trainer.plot import plot_run, summarise_run

    try:
        written = plot_run(Path(run_dir))
        summary = Path(run_dir) / "summary-metrics.md"
        summary.write_text(summarise_run(Path(run_dir)), encoding="utf-8")
        written.append(summary)
    except (FileNotFoundError, OSError) as error:
        return _fail(str(error))
    for path in written:
        print(path)
    return EXIT_OK


def _compare(run_dirs: list[str], out: Path | None) -> int:
    """`masc train compare RUN RUN ... [--out DIR]`: the runs side by side."""
    from trainer.compare import compare_markdown, load_runs, plot_comparison

    try:
        runs = load_runs([Path(run_dir) for run_dir in run_dirs])
        text = compare_markdown(runs)
        written: list[Path] = []
        if out is not None:
            written = plot_comparison(runs, out)
            (out / "comparison.md").write_text(text, encoding="utf-8")
            written.append(out / "comparison.md")
    except (FileNotFoundError, OSError) as error:
        return _fail(str(error))
    print(text, end="")
    for path in written:
        print(path)
    return EXIT_OK


def _run_directory(resume: Path) -> Path:
    """The run directory of `--resume PATH` (a run, its `checkpoints/` or one checkpoint);
    errors name PATH as the user gave it."""
    if (resume / "config.json").is_file():
        return resume
    if resume.name == "checkpoints" and (resume.parent / "config.json").is_file():
        return resume.parent
    if (resume / "state.json").is_file() and (resume.parent.parent / "config.json").is_file():
        return resume.parent.parent
    if not resume.exists():
        raise FileNotFoundError(f"--resume {resume}: no such run directory or checkpoint")
    raise FileNotFoundError(f"--resume {resume}: not a training run, its checkpoints/ folder "
                            "or one of its checkpoints (no config.json found)")


def run(args: argparse.Namespace) -> int:
    from trainer.config import ConfigError, TrainConfig, load_config

    target: list[str] = args.target
    if target[:1] in (["report"], ["plot"]):
        if len(target) != 2 or args.resume or args.steps:
            return _fail(f"usage: masc train {target[0]} RUN")
        return _plot(target[1])
    if target[:1] == ["compare"]:
        if len(target) < 2 or args.resume or args.steps:
            return _fail("usage: masc train compare RUN [RUN ...] [--out DIR]")
        return _compare(target[1:], args.out)
    if args.out is not None:
        return _fail("--out is for `masc train compare`")
    if len(target) > 1:
        return _fail(f"expected one config file, got {len(target)} arguments")
    if args.steps is not None and args.steps < 1:
        return _fail("--steps must be at least 1")
    if args.backend == "openrlhf":
        if len(target) != 1 or args.steps:
            return _fail("usage: masc train CONFIG --backend openrlhf [--dry-run] "
                         "[--resume OUTPUT_DIR]")
        from trainer.openrlhf.launcher import launch

        return launch(target[0], dry_run=args.dry_run, resume=args.resume is not None,
                      run_dir=args.resume, out=sys.stdout, err=sys.stderr)
    if args.dry_run:
        return _fail("--dry-run needs --backend openrlhf")
    from trainer.loop import TrainError, load_run_config, train

    try:
        config: TrainConfig
        if target:
            config = load_config(target[0])
        elif args.resume is not None:
            config = load_run_config(_run_directory(args.resume))
        else:
            return _fail("give a CONFIG file, or --resume DIR")
        if args.steps is not None:
            config = config.model_copy(update={"steps": args.steps})
        summary = train(config, resume=args.resume, progress=not args.quiet)
    except (ConfigError, TrainError, ValueError, FileNotFoundError) as error:
        return _fail(str(error))
    print(f"trained {summary.steps} steps; run directory: {summary.run_dir}")
    for record in summary.evals[-1:]:
        print(f"held-out accuracy after step {record['step']}: {record['accuracy']:.3f} "
              f"(compile rate {record['compile_rate']:.3f})")
    return EXIT_OK

"""`masc bench TASK --system SPEC | --designer MODEL`: accuracy and cost of a system on a task.

Runs the task's items (`--limit`, `--seed`, `--samples`) through a hand-written system or
through the designer (one design per item, typed decoding unless `--decoding grammar|free`;
`--design-only` records compile success without executing), verifies each output, and writes
`<out>/<run>.json`, `<run>.md` and a progress log that `--resume` continues from.
`masc bench report` renders every result in the folder as one markdown table and a PNG plot
of accuracy against cost. Exit 0 when the run finished (whatever its accuracy), 2 for usage,
I/O and engine errors (an unknown task lists the known ones).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from masdsl.cli.compile import EXIT_ERROR, EXIT_OK

DEFAULT_OUT = "benchmarks/results"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure a system's (or the designer's) accuracy and cost on a task",
        description="Run a benchmark task through a system or the designer; `masc bench "
        "report` renders all results.")
    parser.add_argument("task", metavar="TASK",
                        help="a task name (gsm8k, humaneval, arithmetic@1, ...) or `report`")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--system", metavar="SPEC", help="the .mas system to run")
    chosen.add_argument("--designer", metavar="MODEL",
                        help="let the designer (MODEL; `embedded` = the engine's default "
                        "model) write one system per item")
    parser.add_argument("--decoding", choices=("typed", "grammar", "free"), default=None,
                        help="designer mode: typed (staged grammars, every design "
                        "type-checks; the default), grammar (the shipped grammar alone) or "
                        "free (unconstrained)")
    parser.add_argument("--design-only", action="store_true",
                        help="designer mode: record compile success only, run nothing")
    parser.add_argument("--limit", type=int, metavar="N", help="items to run (default all)")
    parser.add_argument("--split", default="test", choices=("test", "train"))
    parser.add_argument("--engine", default="llamacpp", help="engine name (default llamacpp)")
    parser.add_argument("--model", help="the executor's model path or name")
    parser.add_argument("--samples", type=int, default=1, metavar="N",
                        help="executions per item (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument("--max-tokens", type=int, metavar="N",
                        help="cap every LLM call's generated tokens at N")
    parser.add_argument("--design-max-tokens", type=int, default=384, metavar="N",
                        help="designer mode: tokens per design (default 384)")
    parser.add_argument("--concurrency", type=int, default=16, metavar="N",
                        help="items in flight at once (default 16)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="llama.cpp CPU threads (default all cores; 1 is faster on a "
                        "machine other jobs keep busy)")
    parser.add_argument("--name", help="the run's name (default from task, system, engine)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run, keeping its finished items")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"results folder (default {DEFAULT_OUT})")
    parser.set_defaults(run=run)


class _Progress:
    """A progress bar on a terminal; otherwise a line every tenth of the run."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.correct = 0
        self.tty = sys.stderr.isatty()

    def __call__(self, outcome: Any, done: int, total: int) -> None:
        self.correct += bool(outcome.correct)
        elapsed = time.monotonic() - self.started
        line = (f"{done}/{total} correct {self.correct} {elapsed:6.1f}s")
        if self.tty:
            filled = int(30 * done / max(total, 1))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {line}")
            if done == total:
                sys.stderr.write("\n")
        elif done == total or done % max(1, total // 10) == 0:
            sys.stderr.write(f"bench: {line}\n")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmarks.bench import BenchConfig, BenchError, run_bench

    if args.task == "report":
        return _report(Path(args.out))
    if args.system is None and args.designer is None:
        print("masc: give --system SPEC or --designer MODEL", file=sys.stderr)
        return EXIT_ERROR
    if (args.decoding or args.design_only) and args.designer is None:
        print("masc: --decoding and --design-only need --designer",
              file=sys.stderr)
        return EXIT_ERROR
    config = BenchConfig(
        task=args.task, system=args.system, designer=args.designer,
        decoding=args.decoding or "typed", design_only=args.design_only,
        split=args.split,
        limit=args.limit, engine=args.engine, model=args.model, samples=args.samples,
        seed=args.seed, max_tokens=args.max_tokens, design_max_tokens=args.design_max_tokens,
        concurrency=args.concurrency, name=args.name, threads=args.threads)
    from runtime.engines.base import EngineError

    try:
        result = run_bench(config, Path(args.out), resume=args.resume, on_outcome=_Progress())
    except (BenchError, EngineError, FileNotFoundError, ValueError) as error:
        print(f"masc: {error}", file=sys.stderr)
        return EXIT_ERROR
    summary = result["summary"]
    rate = summary["compile_rate"]
    print(f"{result['run']}: {summary['executions']} execution(s) on {summary['items']} "
          f"item(s), accuracy {100 * summary['accuracy']:.1f}%"
          + ("" if rate is None else f", parse rate {100 * summary['parse_rate']:.1f}%, "
             f"compile rate {100 * rate:.1f}%")
          + f", {summary['mean_llm_calls']:.2f} LLM calls and "
          f"{summary['mean_completion_tokens']:.0f} generated tokens per execution, "
          f"{result['wall_s']:.0f} s -> {Path(args.out) / (result['run'] + '.json')}")
    return EXIT_OK


def _report(out: Any) -> int:
    from benchmarks.report import ReportError, write_report

    try:
        table, plot = write_report(out)
    except ReportError as error:
        print(f"masc: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(f"wrote {table} and {plot}")
    return EXIT_OK

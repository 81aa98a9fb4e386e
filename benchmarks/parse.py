"""Front-end speed on the example specs: `python -m benchmarks.parse [--json] [--repeat N]`.

Measured side by side in one run, per spec: the two parses are timed alternately (so a
busy machine slows both alike) and the best of `--repeat` samples is kept, after a warm-up:

- lark: the raw LALR parse, `grammar.parser().parse(text)`;
- front end: `masdsl.parser.parse` (Lark + AST + comments) followed by the checker;
- ratio: front end / lark (goal: at most 1.5);
- `masc check` start-up to exit on one file, in a fresh subprocess (goal: under 0.5 s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
RATIO_GOAL = 1.5
STARTUP_GOAL_S = 0.5


def _best_seconds(actions: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best-of-`repeat` seconds of each action, sampled in turn."""
    for action in actions:
        action()  # warm-up: builds the cached parser, imports the checker
    best = [float("inf")] * len(actions)
    for _ in range(repeat):
        for index, action in enumerate(actions):
            started = time.perf_counter()
            action()
            best[index] = min(best[index], time.perf_counter() - started)
    return best


def measure_specs(paths: list[Path], repeat: int) -> list[dict[str, Any]]:
    """Per spec: lines, raw Lark seconds, front-end (parse + check) seconds and their ratio."""
    import grammar
    from masdsl.checker import check
    from masdsl.parser import parse

    lark = grammar.parser()
    rows = []
    for path in paths:
        text = path.read_text(encoding="utf-8")

        def front_end(text: str = text) -> object:
            return check(parse(text))

        def raw_parse(text: str = text) -> object:
            return lark.parse(text)

        raw, full = _best_seconds([raw_parse, front_end], repeat)
        rows.append({"spec": path.name, "lines": text.count("\n"), "lark_ms": raw * 1e3,
                     "front_end_ms": full * 1e3, "ratio": full / raw})
    return rows


def measure_startup(path: Path, repeat: int) -> float:
    """Median wall seconds of `python -m masdsl.cli check PATH` in a fresh process."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "masdsl.cli", "check", str(path)],
                                cwd=ROOT, capture_output=True, text=True, check=False)
        samples.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise RuntimeError(f"masc check failed on {path}: {result.stdout}{result.stderr}")
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    options.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options.add_argument("--repeat", type=int, default=30, help="timed runs per spec")
    args = options.parse_args(argv)
    paths = sorted(EXAMPLES.glob("*.mas"))
    rows = measure_specs(paths, args.repeat)
    startup = measure_startup(paths[0], max(3, args.repeat // 6))
    total_raw = sum(row["lark_ms"] for row in rows)
    total_full = sum(row["front_end_ms"] for row in rows)
    summary = {"specs": rows,
               "total_lark_ms": total_raw, "total_front_end_ms": total_full,
               "ratio": total_full / total_raw, "ratio_goal": RATIO_GOAL,
               "masc_check_startup_s": startup, "startup_goal_s": STARTUP_GOAL_S}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{'spec':<24}{'lines':>6}{'lark ms':>10}{'front end ms':>14}{'ratio':>8}")
    for row in rows:
        print(f"{row['spec']:<24}{row['lines']:>6}{row['lark_ms']:>10.3f}"
              f"{row['front_end_ms']:>14.3f}{row['ratio']:>8.2f}")
    print(f"{'total':<24}{'':>6}{total_raw:>10.3f}{total_full:>14.3f}{summary['ratio']:>8.2f}")
    print(f"front end = masdsl.parser.parse + masdsl.checker.check; ratio goal <= {RATIO_GOAL}")
    print(f"masc check start-up to exit ({paths[0].name}): {startup:.3f} s "
          f"(goal < {STARTUP_GOAL_S} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

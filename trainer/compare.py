"""Training runs side by side: `masc train compare RUN RUN ... [--out DIR]`.

An ablation is read by comparing runs at equal steps. `compare_markdown` tabulates every
run's held-out accuracy at each evaluated step with its Wilson 95% interval, the difference
from the first run (the reference) with Newcombe's interval for a difference of two
proportions (and, where both runs logged their held-out designs, the exact McNemar test over
the questions they share), and train means over the first and last steps; `plot_comparison`
overlays the
held-out accuracy bands and the per-role rewards. Runs are read from their `metrics.jsonl`
only, so a run still in progress can be compared too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.metrics import DESIGNS_FILE, METRICS_FILE, read_metrics
from trainer.plot import band_figure, by_task, figure, series

TRAIN_KEYS = ("designer_reward", "executor_reward", "accuracy", "compile_rate",
              "llm_calls_per_design", "entropy", "kl_to_start", "time/step")


@dataclass(frozen=True)
class RunRecords:
    """One run's metrics, split into train steps and held-out evaluations."""

    label: str
    train: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    outcomes: dict[tuple[str, int], dict[str, float]]
    """Per held-out evaluation `(task, step)`: each question's item id -> share correct
    (from `designs.jsonl`; empty for runs that did not log held-out designs)."""


def load_runs(run_dirs: Sequence[Path]) -> list[RunRecords]:
    """Every run's records, labelled by its directory name (made unique with its parent's
    name where two runs share one); `FileNotFoundError` for a run without metrics."""
    names = [path.name for path in run_dirs]
    runs = []
    for path, name in zip(run_dirs, names, strict=True):
        records = read_metrics(path / METRICS_FILE)
        if not records:
            raise FileNotFoundError(f"{path}: no {METRICS_FILE} records to compare")
        label = f"{path.parent.name}/{name}" if names.count(name) > 1 else name
        outcomes: dict[tuple[str, int], dict[str, float]] = {}
        for design in read_metrics(path / DESIGNS_FILE):
            if design.get("kind") == "eval" and "correct" in design:
                key = (str(design.get("task", "")), int(design["step"]))
                outcomes.setdefault(key, {})[str(design["item"])] = float(design["correct"])
        runs.append(RunRecords(label, [r for r in records if r.get("kind") == "train"],
                               [r for r in records if r.get("kind") == "eval"], outcomes))
    return runs


def mcnemar(first: dict[str, float], second: dict[str, float]) -> tuple[int, int, int, float]:
    """The paired comparison over the questions both runs answered: (questions, `second`
    right where `first` was wrong, the reverse, the exact two-sided McNemar p-value)."""
    shared = first.keys() & second.keys()
    gained = sum(1 for item in shared if second[item] >= 0.5 > first[item])
    lost = sum(1 for item in shared if first[item] >= 0.5 > second[item])
    discordant = gained + lost
    tail = sum(math.comb(discordant, k) for k in range(min(gained, lost) + 1))
    p_value = min(1.0, 2 * tail / 2 ** discordant) if discordant else 1.0
    return len(shared), gained, lost, p_value


def difference_interval(first: dict[str, Any], second: dict[str, Any]) -> tuple[float, float]:
    """Newcombe's 95% interval for `second`'s accuracy minus `first`'s, from each record's
    Wilson interval (method 10; it treats the two as independent samples, which is
    conservative when both ran the same fixed questions)."""
    p1, low1, high1 = (float(first[k]) for k in
                       ("accuracy", "accuracy_ci95_low", "accuracy_ci95_high"))
    p2, low2, high2 = (float(second[k]) for k in
                       ("accuracy", "accuracy_ci95_low", "accuracy_ci95_high"))
    difference = p2 - p1
    return (difference - math.hypot(p2 - low2, high1 - p1),
            difference + math.hypot(high2 - p2, p1 - low1))


def _eval_at(run: RunRecords, task: str, step: int) -> dict[str, Any] | None:
    for record in run.evals:
        if str(record.get("task", "")) == task and int(record["step"]) == step:
            return record
    return None


def _cell(record: dict[str, Any] | None) -> str:
    if record is None:
        return "—"
    if "accuracy_ci95_low" not in record:
        return f"{float(record['accuracy']):.2f}"
    return (f"{float(record['accuracy']):.2f} ({float(record['accuracy_ci95_low']):.2f}–"
            f"{float(record['accuracy_ci95_high']):.2f})")


def _mean(records: Sequence[dict[str, Any]], key: str) -> str:
    values = [float(r[key]) for r in records if key in r]
    return f"{sum(values) / len(values):.3f}" if values else "—"


def compare_markdown(runs: Sequence[RunRecords], window: int = 5) -> str:
    """The comparison as Markdown: held-out accuracy per evaluated step and task, the last
    common evaluation's difference from the first run, and train means over the first and
    last `window` steps."""
    lines = ["# Training runs compared", "",
             "Reference: `" + runs[0].label + "`. Held-out accuracy with its Wilson 95% "
             "interval; differences with Newcombe's 95% interval.", ""]
    tasks = list(dict.fromkeys(str(r.get("task", "")) for run in runs for r in run.evals))
    for task in tasks:
        steps = sorted({int(r["step"]) for run in runs for r in run.evals
                        if str(r.get("task", "")) == task})
        lines += [f"## Held-out: {task or 'all tasks'}", "",
                  "| run | " + " | ".join(f"after step {s}" for s in steps) + " |",
                  "|---" * (len(steps) + 1) + "|"]
        for run in runs:
            lines.append(f"| {run.label} | "
                         + " | ".join(_cell(_eval_at(run, task, s)) for s in steps) + " |")
        common = [s for s in steps if all(_eval_at(run, task, s) for run in runs)]
        if len(runs) > 1 and common:
            last = common[-1]
            reference = _eval_at(runs[0], task, last)
            assert reference is not None
            lines += ["", f"After step {last}, against `{runs[0].label}`:", ""]
            for run in runs[1:]:
                record = _eval_at(run, task, last)
                assert record is not None
                if "accuracy_ci95_low" not in record or "accuracy_ci95_low" not in reference:
                    continue
                low, high = difference_interval(reference, record)
                difference = float(record["accuracy"]) - float(reference["accuracy"])
                verdict = ("higher" if low > 0 else "lower" if high < 0
                           else "not distinguishable")
                paired = ""
                mine, theirs = (runs[0].outcomes.get((task, last)),
                                run.outcomes.get((task, last)))
                if mine and theirs:
                    shared, gained, lost, p_value = mcnemar(mine, theirs)
                    paired = (f"; paired over {shared} questions: right where the reference "
                              f"was wrong {gained}, the reverse {lost}, McNemar p = "
                              f"{p_value:.3g}")
                lines.append(f"- `{run.label}`: {difference:+.2f} ({low:+.2f} to {high:+.2f}), "
                             f"{verdict}{paired}")
        lines.append("")
    lines += ["## Train metrics", "",
              f"Means over the first and the last {window} steps.", "",
              "| metric | " + " | ".join(f"{run.label} first | {run.label} last"
                                         for run in runs) + " |",
              "|---" * (2 * len(runs) + 1) + "|"]
    for key in TRAIN_KEYS:
        lines.append(f"| {key} | " + " | ".join(
            f"{_mean(run.train[:window], key)} | {_mean(run.train[-window:], key)}"
            for run in runs) + " |")
    lines.append("| steps | " + " | ".join(f"{len(run.train)} | " for run in runs) + " |")
    return "\n".join(lines) + "\n"


def plot_comparison(runs: Sequence[RunRecords], out: Path) -> list[Path]:
    """`heldout.png` (every run's held-out accuracy with its band) and `rewards.png` (each
    role's reward per step, per run) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    held_out = [(f"{run.label}" + (f" ({task})" if len(by_task(run.evals)) > 1 else ""),
                 records) for run in runs for task, records in by_task(run.evals)]
    return [
        band_figure(out / "heldout.png", held_out,
                    "Held-out accuracy by run (95% Wilson interval)"),
        figure(out / "rewards.png", "Reward per role (train), by run",
               [(f"{run.label}: {role}", *series(run.train, f"{role}_reward"))
                for run in runs for role in ("designer", "executor")], "reward"),
    ]

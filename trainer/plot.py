"""The report of a training run from its `metrics.jsonl` (matplotlib, imported lazily).

`plot_run(run_dir)` writes into `<run>/plots/`: `rewards.png` (designer and executor reward
per step), `heldout.png` (held-out accuracy with its 95% confidence band), `compile.png`
(compile-success rate and LLM calls per design), `constructs.png` (share of compiled designs
using each construct), `time.png` (the step-time split), `diagnostics.png` (entropy, KL to the
starting policy, clip fraction, zero-advantage shares) and `loss.png`. `summarise_run` writes
the Markdown summary. `masc train report RUN` does both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer.metrics import CONSTRUCTS, METRICS_FILE, read_metrics


def series(records: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """The (steps, values) of `key` over the records that have it."""
    points = [(int(r["step"]), float(r[key])) for r in records if key in r]
    return [p[0] for p in points], [p[1] for p in points]


def figure(path: Path, title: str, curves: Sequence[tuple[str, list[int], list[float]]],
           ylabel: str) -> Path:
    """One line chart over steps, a line per labelled curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    canvas, axes = plt.subplots(figsize=(7, 4))
    for label, steps, values in curves:
        if steps:
            axes.plot(steps, values, marker="o" if len(steps) < 40 else None, markersize=3,
                      label=label)
    axes.set_title(title)
    axes.set_xlabel("step")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if any(steps for _, steps, _ in curves):
        axes.legend(fontsize=8)
    canvas.tight_layout()
    canvas.savefig(path, dpi=100)
    plt.close(canvas)
    return path


def band_figure(path: Path, lines: Sequence[tuple[str, Sequence[dict[str, Any]]]],
                title: str = "Held-out accuracy (95% Wilson interval)") -> Path:
    """Held-out accuracy per evaluation with its Wilson 95% band, one line per labelled
    series of evaluation records (a task of one run, or a run of a comparison)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    canvas, axes = plt.subplots(figsize=(7, 4))
    for label, records in lines:
        steps = [int(r["step"]) for r in records]
        axes.plot(steps, [float(r["accuracy"]) for r in records], marker="o", label=label)
        if all("accuracy_ci95_low" in r for r in records):
            axes.fill_between(steps, [float(r["accuracy_ci95_low"]) for r in records],
                              [float(r["accuracy_ci95_high"]) for r in records], alpha=0.2)
    axes.set_title(title)
    axes.set_xlabel("step")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1)
    axes.grid(alpha=0.3)
    if lines:
        axes.legend(fontsize=8)
    canvas.tight_layout()
    canvas.savefig(path, dpi=100)
    plt.close(canvas)
    return path


def by_task(evals: Sequence[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Evaluation records grouped by task, in first-seen order."""
    tasks = dict.fromkeys(str(r.get("task", "")) for r in evals)
    return [(task, [r for r in evals if str(r.get("task", "")) == task]) for task in tasks]


TIME_KEYS = ("time/design", "time/execute", "time/reward", "time/credit", "time/update")
DIAGNOSTICS = ("entropy", "kl_to_start", "clip_fraction", "logprob_gap_mean",
               "designer_zero_advantage_share", "executor_zero_advantage_share")


def plot_run(run_dir: Path) -> list[Path]:
    """Write the run's PNG curves; `FileNotFoundError` when it has no metrics."""
    records = read_metrics(run_dir / METRICS_FILE)
    if not records:
        raise FileNotFoundError(f"{run_dir}: no {METRICS_FILE} records to plot")
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    out = run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    return [
        figure(out / "rewards.png", "Reward per role (train)",
                [("designer reward (design return)", *series(train, "designer_reward")),
                 ("executor reward", *series(train, "executor_reward")),
                 ("train accuracy", *series(train, "accuracy"))], "reward"),
        band_figure(out / "heldout.png", by_task(evals)),
        figure(out / "compile.png", "Compile-success rate and LLM calls per design",
                [("compile rate (train)", *series(train, "compile_rate")),
                 ("compile rate (held-out)", *series(evals, "compile_rate")),
                 ("LLM calls per design", *series(train, "llm_calls_per_design"))], "value"),
        figure(out / "constructs.png", "Share of compiled designs using each construct",
                [(name, *series(train, f"construct/{name}")) for name in CONSTRUCTS],
                "share"),
        figure(out / "time.png", "Where a step's time goes (seconds)",
                [(key.split("/")[1], *series(train, key)) for key in TIME_KEYS], "seconds"),
        figure(out / "diagnostics.png", "Is it learning? Entropy, KL, clipping, dead groups",
                [(key, *series(train, key)) for key in DIAGNOSTICS], "value"),
        figure(out / "loss.png", "Loss, KL and gradient norm",
                [(key, *series(train, key)) for key in ("loss", "policy_loss", "kl",
                                                          "grad_norm")], "value"),
    ]


def _window_mean(records: Sequence[dict[str, Any]], key: str) -> str:
    values = [float(r[key]) for r in records if key in r]
    return f"{sum(values) / len(values):.3f}" if values else "n/a"


def summarise_run(run_dir: Path, window: int = 5) -> str:
    """A Markdown summary of a run: train metrics averaged over the first and the last
    `window` steps, and the first and last held-out evaluation."""
    records = read_metrics(run_dir / METRICS_FILE)
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    first, last = train[:window], train[-window:]
    lines = [f"# Training run `{run_dir.name}`", "",
             f"{len(train)} steps; train metrics are means over the first and the last "
             f"{min(window, len(train))} steps.", "",
             "| metric | first steps | last steps |", "|---|---|---|"]
    keys = ["designer_reward", "executor_reward", "accuracy", "compile_rate",
            "llm_calls_per_design", "loss", "grad_norm", *DIAGNOSTICS, "time/step",
            *TIME_KEYS] + [f"construct/{c}" for c in CONSTRUCTS]
    for key in keys:
        lines.append(f"| {key} | {_window_mean(first, key)} | {_window_mean(last, key)} |")
    if evals:
        lines += ["", "| held-out | " + " | ".join(f"after step {r['step']}" for r in evals)
                  + " |", "|---" * (len(evals) + 1) + "|"]
        lines.append("| task | " + " | ".join(f"{r.get('task', '')} ({r.get('questions', '?')} "
                                               "questions)" for r in evals) + " |")
        for key in ("accuracy", "compile_rate", "designer_reward", "executor_reward"):
            lines.append(f"| {key} | " + " | ".join(
                f"{float(r[key]):.3f}" if key in r else "—" for r in evals) + " |")
        if all("accuracy_ci95_low" in r for r in evals):
            lines.append("| accuracy 95% CI | " + " | ".join(
                f"{float(r['accuracy_ci95_low']):.3f}–{float(r['accuracy_ci95_high']):.3f}"
                for r in evals) + " |")
    return "\n".join(lines) + "\n"

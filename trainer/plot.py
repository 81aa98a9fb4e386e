"""PNG curves of a training run from its `metrics.jsonl` (matplotlib, imported lazily).

`plot_run(run_dir)` writes into `<run>/plots/`: `rewards.png` (designer and executor reward
per step, and held-out accuracy), `compile.png` (compile-success rate and LLM calls per
design), `constructs.png` (share of compiled designs using each construct) and `loss.png`
(loss, KL and gradient norm). Returns the files written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer.metrics import CONSTRUCTS, METRICS_FILE, read_metrics


def _series(records: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    points = [(int(r["step"]), float(r[key])) for r in records if key in r]
    return [p[0] for p in points], [p[1] for p in points]


def _figure(path: Path, title: str, curves: Sequence[tuple[str, list[int], list[float]]],
            ylabel: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
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
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


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
        _figure(out / "rewards.png", "Reward per role (train) and held-out accuracy",
                [("designer reward (design return)", *_series(train, "designer_reward")),
                 ("executor reward", *_series(train, "executor_reward")),
                 ("held-out accuracy", *_series(evals, "accuracy"))], "reward"),
        _figure(out / "compile.png", "Compile-success rate and LLM calls per design",
                [("compile rate (train)", *_series(train, "compile_rate")),
                 ("compile rate (held-out)", *_series(evals, "compile_rate")),
                 ("LLM calls per design", *_series(train, "llm_calls_per_design"))], "value"),
        _figure(out / "constructs.png", "Share of compiled designs using each construct",
                [(name, *_series(train, f"construct/{name}")) for name in CONSTRUCTS],
                "share"),
        _figure(out / "loss.png", "Loss, KL and gradient norm",
                [(key, *_series(train, key)) for key in ("loss", "policy_loss", "kl",
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
    keys = ["designer_reward", "executor_reward", "compile_rate", "llm_calls_per_design",
            "loss", "grad_norm", "time/step"] + [f"construct/{c}" for c in CONSTRUCTS]
    for key in keys:
        lines.append(f"| {key} | {_window_mean(first, key)} | {_window_mean(last, key)} |")
    if evals:
        lines += ["", "| held-out | " + " | ".join(f"after step {r['step']}" for r in evals)
                  + " |", "|---" * (len(evals) + 1) + "|"]
        for key in ("accuracy", "compile_rate", "designer_reward", "executor_reward"):
            lines.append(f"| {key} | " + " | ".join(f"{float(r[key]):.3f}" for r in evals)
                         + " |")
    return "\n".join(lines) + "\n"

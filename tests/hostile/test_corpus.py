"""The hostile corpus (`tests/hostile/corpus/`, written by `make_corpus.py`): every input gets
its expected located diagnostics, within a time bound, with no crash and no formatter loss.
`python -m benchmarks.hostile` runs the same inputs and prints the slowest."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.hostile import corpus_files, problems, run_pipeline
from tests.hostile.make_corpus import files

# Generous for a loaded 2-core CI machine; the benchmark reports the real times.
BOUND_S = 20.0


def test_the_committed_corpus_is_what_the_generator_writes() -> None:
    committed = {path.name: path.read_bytes() for path in corpus_files()}
    assert committed == files(), "run `python -m tests.hostile.make_corpus` and commit"


@pytest.mark.parametrize("path", corpus_files(), ids=lambda path: path.name)
def test_hostile_input_gets_a_clear_answer_in_time(path: Path) -> None:
    outcome = run_pipeline(path.read_bytes(), path.name, BOUND_S)
    assert problems(path, outcome, BOUND_S) == []

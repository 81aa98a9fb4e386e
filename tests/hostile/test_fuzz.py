"""A small fuzz run in CI (`benchmarks/fuzz.py` runs at least 10,000 for the record): mutated
and grammar-generated specs never crash, hang or lose anything in the formatter."""

from __future__ import annotations

import pytest

from benchmarks.fuzz import fuzz, mutate, seed_specs


def test_a_small_fuzz_run_is_clean() -> None:
    report = fuzz(count=60, seed=13, bound_s=20.0)
    assert report.total == 60
    assert report.crashes == [] and report.hangs == [] and report.losses == []


def test_mutations_are_deterministic_and_change_the_spec() -> None:
    import random

    seeds = seed_specs()
    assert len(seeds) >= 8
    _, data = seeds[0]
    others = [spec for _, spec in seeds]
    first = mutate(data, others, random.Random(1))
    assert first == mutate(data, others, random.Random(1))
    assert any(mutate(data, others, random.Random(seed)) != data for seed in range(5))


@pytest.mark.slow
def test_a_larger_fuzz_run_is_clean() -> None:
    report = fuzz(count=1000, seed=7, bound_s=20.0)
    assert not report.failed, report.render()

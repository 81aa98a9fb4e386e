"""Procedural tasks: deterministic per seed, disjoint splits, difficulty knob, rg scorers."""

from __future__ import annotations

import re
import sys

import pytest

from trainer.tasks import MissingDataPackage, TaskError, get_task
from trainer.tasks.procedural import levels_of, procedural_names

pytest.importorskip("reasoning_gym")


@pytest.mark.parametrize("name", procedural_names())
def test_gold_answers_verify_and_wrong_ones_fail(name: str) -> None:
    for difficulty in range(1, levels_of(name) + 1):
        task = get_task(name, difficulty=difficulty)
        items = task.load("train", limit=30, seed=1)
        assert len(items) == 30
        for item in items:
            assert task.verify(item, f"Step by step... The answer is {item.reference}.").correct
            wrong = task.verify(item, str(int(item.reference) + 1))
            assert not wrong.correct and wrong.reward < 1.0
        assert task.verify(items[0], "I do not know").reward == 0.0


@pytest.mark.parametrize("name", procedural_names())
def test_deterministic_per_seed_and_split(name: str) -> None:
    task = get_task(name)
    first = task.load("train", limit=20, seed=7)
    assert first == task.load("train", limit=20, seed=7)
    assert [i.inputs for i in first] != [i.inputs for i in task.load("test", limit=20, seed=7)]
    assert [i.inputs for i in first] != [i.inputs for i in task.load("train", limit=20, seed=8)]
    assert first[3].id == f"{name}/d1/train/s7/3"


def test_lowest_difficulty_is_one_digit_addition() -> None:
    items = get_task("arithmetic").load("test", limit=50, seed=0)
    for item in items:
        assert re.fullmatch(r"Calculate \d+ \+ \d+\.", item.inputs["question"]), item.inputs
        left, right = map(int, re.findall(r"\d+", item.inputs["question"]))
        assert int(item.reference) == left + right


def test_difficulty_knob_and_its_errors() -> None:
    assert get_task("chain_sum@3").name == "chain_sum@3"
    assert get_task("chain_sum@3").load("test", 5, 0) == get_task("chain_sum", difficulty=3).load(
        "test", 5, 0)
    with pytest.raises(TaskError, match=r"difficulty must be 1\.\.5"):
        get_task("chain_sum", difficulty=9)
    with pytest.raises(TaskError, match="no difficulty levels"):
        get_task("gsm8k", difficulty=2)
    with pytest.raises(TaskError, match="no split"):
        get_task("gsm8k").load("train")


def test_missing_reasoning_gym_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "reasoning_gym", None)  # makes `import` fail
    with pytest.raises(MissingDataPackage, match=r"pip install reasoning-gym==0\.1\.25"):
        get_task("chain_sum").load("test", limit=1)


def test_a_wrong_number_containing_the_right_one_earns_nothing() -> None:
    task = get_task("chain_sum")
    item = next(i for i in task.load("test", limit=20, seed=0) if len(i.reference) == 1)
    wrong = f"ANSWER: 1{item.reference}"
    verdict = task.verify(item, wrong)
    assert verdict.reward == 0.0 and not verdict.correct
    assert task.verify(item, f"ANSWER: {item.reference}").reward == 1.0

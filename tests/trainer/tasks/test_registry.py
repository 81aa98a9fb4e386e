"""The registry: names, interfaces, and clear errors."""

from __future__ import annotations

import asyncio

import pytest

from trainer.tasks import TaskError, get_task, task_names


def test_names_and_interfaces() -> None:
    assert task_names() == ("gsm8k", "math500", "aime25", "humaneval", "mbpp", "arithmetic",
                            "chain_sum", "simple_equation")
    outputs = {name: get_task(name).output.type for name in task_names()}
    assert outputs == {"gsm8k": "number", "math500": "text", "aime25": "number",
                       "humaneval": "code", "mbpp": "code", "arithmetic": "number",
                       "chain_sum": "number", "simple_equation": "number"}
    for name in task_names():
        task = get_task(name)
        assert [(f.name, f.type) for f in task.inputs] == [("question", "text")]
        assert task.source and task.description


def test_unknown_task_lists_the_known_ones() -> None:
    with pytest.raises(TaskError, match="unknown task 'gsm9k'; known tasks: gsm8k, math500"):
        get_task("gsm9k")
    with pytest.raises(TaskError, match="must be a number"):
        get_task("chain_sum@hard")
    with pytest.raises(TaskError, match="limit must be >= 0"):
        get_task("gsm8k").load("test", limit=-1)


def test_verify_async_matches_verify() -> None:
    task = get_task("gsm8k")
    item = task.load("test", limit=1)[0]
    verdict = asyncio.run(task.verify_async(item, "The answer is 18."))
    assert verdict == task.verify(item, "The answer is 18.") and verdict.correct

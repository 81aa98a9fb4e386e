"""Find tasks by name: `get_task("gsm8k")`, `get_task("chain_sum", difficulty=2)` or, the same,
`get_task("chain_sum@2")` (the form used in configs and task names)."""

from __future__ import annotations

from trainer.tasks.base import Task, TaskError
from trainer.tasks.code_tasks import CodeLimits, code_tasks
from trainer.tasks.math_tasks import math_tasks
from trainer.tasks.procedural import procedural_names, procedural_task

FIXED_NAMES = ("gsm8k", "math500", "aime25", "humaneval", "mbpp")


def task_names() -> tuple[str, ...]:
    """Every task name; procedural tasks also accept `name@difficulty`."""
    return FIXED_NAMES + procedural_names()


def get_task(name: str, *, difficulty: int | None = None,
             code_limits: CodeLimits | None = None) -> Task:
    """The task called `name` (see `task_names()`); `TaskError` naming the known tasks when
    there is none. `difficulty` applies to procedural tasks only (default 1)."""
    base, _, level = name.partition("@")
    if level:
        if difficulty is not None:
            raise TaskError(f"task {name!r}: give the difficulty once, not in both places")
        if not level.isdigit():
            raise TaskError(f"task {name!r}: the difficulty after '@' must be a number")
        difficulty = int(level)
    if base in procedural_names():
        return procedural_task(base, 1 if difficulty is None else difficulty)
    if difficulty is not None:
        raise TaskError(f"task {base!r} has no difficulty levels")
    for task in math_tasks() + code_tasks(code_limits or CodeLimits()):
        if task.name == base:
            return task
    raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}")

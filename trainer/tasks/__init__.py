"""Benchmark tasks: loaders of items from installed data packages, and their verifiers.

Public API: `get_task(name)`, `task_names()`, and the models `Task`, `Item`, `Verdict`,
`TaskField`, `summarize`. See docs/tasks.md for the list of tasks.
"""

from trainer.tasks.base import (
    Item,
    MissingDataPackage,
    Summary,
    Task,
    TaskError,
    TaskField,
    Verdict,
    summarize,
)
from trainer.tasks.code_tasks import CodeLimits
from trainer.tasks.registry import get_task, task_names

__all__ = [
    "CodeLimits",
    "Item",
    "MissingDataPackage",
    "Summary",
    "Task",
    "TaskError",
    "TaskField",
    "Verdict",
    "get_task",
    "summarize",
    "task_names",
]

"""Check a training configuration before any heavy work (model loading, torch, engines).

`check_config(config)` resolves every task of `tasks.train` and `tasks.eval` (names,
difficulty suffixes, installed data packages, non-empty splits) and every few-shot example of
`sampling.examples` (and, when a task's answers are code, that the python sandbox can isolate
on this machine), and raises one `ConfigProblem` listing everything wrong, so `masc train`
reports a typo in seconds instead of after loading a model, and never as an internal error.
"""

from __future__ import annotations

from trainer.config import TrainConfig
from trainer.tasks.base import TaskError
from trainer.tasks.registry import get_task


class ConfigProblem(ValueError):
    """What is wrong with a training configuration, one line per problem."""


def check_config(config: TrainConfig) -> None:
    """Raise `ConfigProblem` naming every unknown task, unloadable split, unreadable
    few-shot example file or fixed system."""
    from trainer.episode import ExampleError, read_examples

    problems: list[str] = []
    runs_code = False
    for section, refs in (("tasks.train", config.tasks.train), ("tasks.eval", config.tasks.eval)):
        for ref in refs:
            try:
                task = get_task(ref.name)
                runs_code = runs_code or task.output.type == "code"
                if not task.load(ref.split, 1, config.seed):  # type: ignore[arg-type]
                    problems.append(f"{section}: task {ref.name!r} split {ref.split!r} has "
                                    "no items")
            except TaskError as error:
                problems.append(f"{section}: {error}")
    for path in dict.fromkeys(config.sampling.examples):
        try:
            read_examples([path])
        except ExampleError as error:
            problems.append(f"sampling.examples: {error}")
    system = config.rollout.system
    if system is not None and not system.is_file():
        problems.append(f"rollout.system: no file {str(system)!r}")
    if runs_code:
        problems += _sandbox_problems()
    if problems:
        raise ConfigProblem("\n".join(problems))


def _sandbox_problems() -> list[str]:
    """Code tasks are verified in the python sandbox: it must be able to isolate here."""
    from runtime.tools.sandbox import SandboxLimits, SandboxUnavailable, run_python

    try:
        result = run_python("print(6 * 7)", limits=SandboxLimits(wall_seconds=30.0))
    except SandboxUnavailable as error:
        return [f"tasks: code tasks are verified in the python sandbox, which cannot run "
                f"here: {error}"]
    if result.stdout != "42\n":
        return [f"tasks: the python sandbox does not work here: {result.stderr.strip()[:300]}"]
    return []

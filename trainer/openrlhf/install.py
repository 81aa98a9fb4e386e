"""Put our credit into OpenRLHF's trainer actor.

OpenRLHF's `PPOTrainer` is a Ray actor that builds a `SamplesGenerator` and a
`RemoteExperienceMaker` from names in `openrlhf.trainer.ppo_trainer`. The job's runtime env
names `install_masdsl_credit` as Ray's `worker_process_setup_hook`, so it runs first in every
worker process of the job. It does not import OpenRLHF (most workers are vLLM or DeepSpeed
processes that never need it); it registers an import hook that, when
`openrlhf.trainer.ppo_trainer` is imported, replaces those two names with subclasses:

- `SamplesGenerator` keeps each rollout's `UnitRecord` on its experience, and turns a step's
  units into rows with per-token advantages (`trainer.openrlhf.credit_layout`) for the roles
  the stagewise schedule trains at that step (one generated batch = one OpenRLHF step);
- `RemoteExperienceMaker.compute_advantages_and_returns` keeps those advantages
  (`finalize_advantages`) instead of spreading one scalar reward.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from trainer.config import TrainConfig
from trainer.openrlhf.config import SETTINGS_VARIABLE, OpenRLHFConfig, settings_from_json
from trainer.openrlhf.credit_layout import build_experience, finalize_advantages, step_samples
from trainer.schedule import Schedule

TRAINER_MODULE = "openrlhf.trainer.ppo_trainer"
UNIT_KEY = "masdsl_unit"


def generator_class(base: type[Any], train: TrainConfig, gpu: OpenRLHFConfig) -> type[Any]:
    """A subclass of OpenRLHF's `SamplesGenerator` that emits our rows."""
    schedule = Schedule(train.schedule.kind, train.schedule.switch_every)

    class MasdslSamplesGenerator(base):  # type: ignore[misc]
        masdsl_step = gpu.start_step

        def _process_response_into_experience(self, response: dict[str, Any],
                                              **generate_kwargs: Any) -> Any:
            experience = super()._process_response_into_experience(response,
                                                                   **generate_kwargs)
            experience.masdsl_unit = response.get(UNIT_KEY)
            return experience

        def generate_samples(self, **generate_kwargs: Any) -> tuple[Any, ...]:
            samples, pass_rate, consumed, exhausted = super().generate_samples(**generate_kwargs)
            if not samples:
                return samples, pass_rate, consumed, exhausted
            units: list[Any] = [getattr(sample, "masdsl_unit", None) for sample in samples]
            if any(unit is None for unit in units):
                raise RuntimeError("a rollout came back without a masdsl unit: is "
                                   "--train.agent_func_path trainer/openrlhf/agent_func.py?")
            roles = schedule.active_roles(self.masdsl_step)
            self.masdsl_step += 1
            max_len = int(generate_kwargs.get("max_len", gpu.max_len))
            rows = step_samples(units, train.credit, roles)
            return ([build_experience(row, max_len) for row in rows], pass_rate, consumed,
                    exhausted)

    return MasdslSamplesGenerator


def experience_maker_class(base: type[Any]) -> type[Any]:
    """A subclass of OpenRLHF's `RemoteExperienceMaker` that keeps our advantages."""

    class MasdslExperienceMaker(base):  # type: ignore[misc]
        def compute_advantages_and_returns(self, experiences: list[Any]) -> list[Any]:
            return finalize_advantages(experiences)

    return MasdslExperienceMaker


def patch_trainer_module(module: ModuleType, train: TrainConfig, gpu: OpenRLHFConfig) -> None:
    """Replace the two names in an imported `openrlhf.trainer.ppo_trainer`."""
    module.SamplesGenerator = generator_class(module.SamplesGenerator, train, gpu)  # type: ignore[attr-defined]
    module.RemoteExperienceMaker = experience_maker_class(module.RemoteExperienceMaker)  # type: ignore[attr-defined]


class PatchAfterImport(importlib.abc.MetaPathFinder):
    """Import hook: once module `name` has executed, call `patch(module)`."""

    def __init__(self, name: str, patch: Callable[[ModuleType], None]) -> None:
        self.name = name
        self.patch = patch

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, self.patch)
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, patch: Callable[[ModuleType], None]) -> None:
        self.loader = loader
        self.patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        self.patch(module)


def install_masdsl_credit() -> None:
    """Ray `worker_process_setup_hook`: patch OpenRLHF's trainer module when (if) this
    worker imports it. Does nothing without the job's settings variable."""
    text = os.environ.get(SETTINGS_VARIABLE)
    if not text:
        return
    train, gpu = settings_from_json(text)

    def patch(module: ModuleType) -> None:
        patch_trainer_module(module, train, gpu)

    if TRAINER_MODULE in sys.modules:  # already imported: patch it now
        patch(sys.modules[TRAINER_MODULE])
        return
    sys.meta_path.insert(0, PatchAfterImport(TRAINER_MODULE, patch))

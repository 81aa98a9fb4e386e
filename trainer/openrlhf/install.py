"""Put masdsl into OpenRLHF's Ray workers: our credit, merged-LoRA weight sync, resume.

The job's runtime env names `setup_worker` as Ray's `worker_process_setup_hook`, so it runs
first in every worker process of the job. It does not import OpenRLHF (most workers are vLLM
or DeepSpeed processes that never need all of it); it registers an import hook that patches
OpenRLHF's modules as they are imported:

- with `credit = "masdsl"`, the classes are replaced **where they are defined**:
  `openrlhf.trainer.ppo_utils.samples_generator.SamplesGenerator` and
  `openrlhf.trainer.ppo_utils.experience_maker.RemoteExperienceMaker`. `PPOTrainer` is a
  `@ray.remote` class that Ray pickles *by value* in the job driver, where this hook never
  ran; the functions of a class pickled by value carry the globals they use, and those name
  `SamplesGenerator` by reference to its defining module. Patching the defining modules is
  what the trainer actor resolves when it unpickles the class; patching only
  `openrlhf.trainer.ppo_trainer` (as before) left the stock generator in place.
  - our `SamplesGenerator` keeps each rollout's `UnitRecord`, turns a step's units into rows
    with per-token advantages (`trainer.openrlhf.credit_layout`) for the roles the stagewise
    schedule trains at that step, and pads the rows to a multiple of the train batch;
  - our `RemoteExperienceMaker.compute_advantages_and_returns` keeps those advantages.
- `BasePPOTrainer.init_checkpoint_states` (patched in place; `BasePPOTrainer` is pickled by
  reference) logs the classes the trainer actor really uses (one line that
  `benchmarks/gpu_smoke.sh` looks for) and, on resume, moves the stagewise schedule to the
  restored global step.
- with `finetune = "lora"`, `ActorPPOTrainer.broadcast_to_vllm` (patched in place) sends vLLM
  merged weights under the base model's names (`trainer.openrlhf.weight_sync`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from trainer.config import TrainConfig
from trainer.openrlhf.config import SETTINGS_VARIABLE, OpenRLHFConfig, settings_from_json
from trainer.openrlhf.credit_layout import (
    build_experience,
    finalize_advantages,
    pad_to_multiple,
    step_samples,
)

SAMPLES_GENERATOR_MODULE = "openrlhf.trainer.ppo_utils.samples_generator"
EXPERIENCE_MAKER_MODULE = "openrlhf.trainer.ppo_utils.experience_maker"
TRAINER_MODULE = "openrlhf.trainer.ppo_trainer"
ACTOR_MODULE = "openrlhf.trainer.ray.ppo_actor"
UNIT_KEY = "masdsl_unit"
STARTUP_MARK = "masdsl trainer actor:"
"""Start of the line logged when the trainer actor starts fitting (see `startup_line`)."""

PATCHED = "_masdsl_patched"
"""Attribute set on a patched module or function, so a second patch is a no-op."""

logger = logging.getLogger(__name__)


MARK = "masdsl_class"
"""Class attribute of our subclasses: a base that has it is ours already (never stack two)."""


def generator_class(base: type[Any], train: TrainConfig, gpu: OpenRLHFConfig) -> type[Any]:
    """A subclass of OpenRLHF's `SamplesGenerator` that emits our rows."""
    if getattr(base, MARK, False):
        return base
    schedule = train.schedule.build()

    class MasdslSamplesGenerator(base):  # type: ignore[misc]
        masdsl_class = True
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
            rows = [build_experience(row, max_len)
                    for row in step_samples(units, train.credit, roles)]
            # Every actor rank must get the same whole number of optimiser steps (else the
            # collectives of the ranks with more micro-batches wait forever); zero-mask rows
            # fill the last train batch without changing the loss.
            return (pad_to_multiple(rows, int(self.args.train.batch_size)), pass_rate,
                    consumed, exhausted)

    return MasdslSamplesGenerator


def experience_maker_class(base: type[Any]) -> type[Any]:
    """A subclass of OpenRLHF's `RemoteExperienceMaker` that keeps our advantages."""
    if getattr(base, MARK, False):
        return base

    class MasdslExperienceMaker(base):  # type: ignore[misc]
        masdsl_class = True

        def compute_advantages_and_returns(self, experiences: list[Any]) -> list[Any]:
            return finalize_advantages(experiences)

    return MasdslExperienceMaker


def startup_line(trainer: Any) -> str:
    """The one line naming the classes a trainer actor uses (the proof that our credit is
    in place, or not, on a real run)."""
    generator = type(getattr(trainer, "samples_generator", None))
    maker = type(getattr(trainer, "experience_maker", None))
    return (f"{STARTUP_MARK} samples generator = {generator.__module__}.{generator.__qualname__}"
            f", experience maker = {maker.__module__}.{maker.__qualname__}")


def patch_samples_generator_module(module: ModuleType, train: TrainConfig,
                                   gpu: OpenRLHFConfig) -> None:
    """Replace `SamplesGenerator` in its defining module."""
    if not getattr(module, PATCHED, False):
        module.SamplesGenerator = generator_class(module.SamplesGenerator, train, gpu)  # type: ignore[attr-defined]
        setattr(module, PATCHED, True)
    _rebind_in_trainer("SamplesGenerator", module)


def patch_experience_maker_module(module: ModuleType) -> None:
    """Replace `RemoteExperienceMaker` in its defining module."""
    if not getattr(module, PATCHED, False):
        module.RemoteExperienceMaker = experience_maker_class(module.RemoteExperienceMaker)  # type: ignore[attr-defined]
        setattr(module, PATCHED, True)
    _rebind_in_trainer("RemoteExperienceMaker", module)


def _rebind_in_trainer(name: str, defining: ModuleType) -> None:
    """When `openrlhf.trainer.ppo_trainer` was imported before the patch (a hook that ran
    late), its global still names the stock class: point it at ours too."""
    trainer = sys.modules.get(TRAINER_MODULE)
    if trainer is not None and hasattr(trainer, name):
        setattr(trainer, name, getattr(defining, name))


def patch_trainer_module(module: ModuleType, gpu: OpenRLHFConfig) -> None:
    """Wrap `BasePPOTrainer.init_checkpoint_states` (called first thing in `fit`): log the
    classes in use and, when OpenRLHF resumes from a checkpoint, continue the stagewise
    schedule at the restored step."""
    base = module.BasePPOTrainer
    original = base.init_checkpoint_states
    if getattr(original, PATCHED, False):
        return

    def init_checkpoint_states(self: Any) -> dict[str, Any]:
        states: dict[str, Any] = original(self)
        print(startup_line(self), flush=True)
        generator = getattr(self, "samples_generator", None)
        restored = int(states.get("global_step", 0) or 0)
        if restored and hasattr(generator, "masdsl_step"):
            generator.masdsl_step = gpu.start_step + restored  # type: ignore[union-attr]
            print(f"masdsl: resuming the stagewise schedule at step {gpu.start_step + restored}",
                  flush=True)
        return states

    setattr(init_checkpoint_states, PATCHED, True)
    base.init_checkpoint_states = init_checkpoint_states


def patch_actor_module(module: ModuleType) -> None:
    """Send vLLM merged LoRA weights under the base model's names."""
    from trainer.openrlhf.weight_sync import broadcast_merged_to_vllm

    trainer = module.ActorPPOTrainer
    if not getattr(trainer.broadcast_to_vllm, PATCHED, False):
        setattr(broadcast_merged_to_vllm, PATCHED, True)
        trainer.broadcast_to_vllm = broadcast_merged_to_vllm


def module_patches(train: TrainConfig,
                   gpu: OpenRLHFConfig) -> dict[str, Callable[[ModuleType], None]]:
    """Which OpenRLHF module gets which patch, for a job's configs."""
    patches: dict[str, Callable[[ModuleType], None]] = {
        TRAINER_MODULE: lambda module: patch_trainer_module(module, gpu)}
    if gpu.credit == "masdsl":
        patches[SAMPLES_GENERATOR_MODULE] = (
            lambda module: patch_samples_generator_module(module, train, gpu))
        patches[EXPERIENCE_MAKER_MODULE] = patch_experience_maker_module
    if train.policy.finetune == "lora":
        patches[ACTOR_MODULE] = patch_actor_module
    return patches


class PatchAfterImport(importlib.abc.MetaPathFinder):
    """Import hook: once a module named in `patches` has executed, call its patch."""

    def __init__(self, patches: Mapping[str, Callable[[ModuleType], None]]) -> None:
        self.patches = dict(patches)

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        patch = self.patches.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, patch)
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


def install_patches(patches: Mapping[str, Callable[[ModuleType], None]]) -> None:
    """Patch the modules already imported now, and the others when they are imported."""
    pending = {}
    for name, patch in patches.items():
        if name in sys.modules:
            patch(sys.modules[name])
        else:
            pending[name] = patch
    if pending:
        sys.meta_path.insert(0, PatchAfterImport(pending))


def setup_worker() -> None:
    """Ray `worker_process_setup_hook` of a masdsl job: install the patches its configs
    need. Does nothing outside such a job (no settings variable)."""
    text = os.environ.get(SETTINGS_VARIABLE)
    if not text:
        return
    train, gpu = settings_from_json(text)
    install_patches(module_patches(train, gpu))

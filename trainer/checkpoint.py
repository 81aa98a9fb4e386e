"""Atomic training checkpoints: everything a resumed run needs to continue exactly.

A checkpoint is a directory `checkpoints/step-NNNNNN/` under the run directory holding the
trainable weights and optimiser state of each policy (`policy-<role>.pt`, or `policy.pt`
when both roles share one), the RNG states of torch, numpy and Python (`rng.pt`) and
`state.json` (steps done, stagewise phase, data position). It is written into a hidden
temporary directory next to it, every file and the directory are fsync'ed, and only then is
it renamed into place (and the parent fsync'ed): a process killed at any moment leaves either
the complete checkpoint or none, never a half-written one. `state.json` is written last, so a
directory without it is never taken for a checkpoint. Only the newest `keep` are kept.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.policy import Policies, load_policy_state, save_policy_state

PREFIX = "step-"
STATE_FILE = "state.json"
# Only `step-<digits>` is a checkpoint; a stray `step-12.bak` or `step-x` is ignored.
CHECKPOINT_NAME = re.compile(r"step-(\d+)")


@dataclass(frozen=True)
class TrainerState:
    """Where training stands after `step` completed steps."""

    step: int
    cursors: tuple[int, ...]
    phase: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "cursors": list(self.cursors), "phase": self.phase}

    @staticmethod
    def from_json(data: dict[str, Any]) -> TrainerState:
        return TrainerState(step=int(data["step"]),
                            cursors=tuple(int(c) for c in data["cursors"]),
                            phase=str(data["phase"]))


def _fsync_path(path: Path) -> None:
    """Flush a file or a directory to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _policy_files(policies: Policies) -> dict[str, Any]:
    if policies.shared:
        return {"policy.pt": policies.designer}
    return {"policy-designer.pt": policies.designer, "policy-executor.pt": policies.executor}


def rng_state() -> dict[str, Any]:
    """The global RNG states of torch, numpy and Python, as plain tensors/lists/ints (loadable
    with `torch.load(weights_only=True)`)."""
    import numpy as np
    import torch

    version, python_state, gauss = random.getstate()
    numpy_state: Any = np.random.get_state(legacy=True)
    kind, keys, position, has_gauss, cached = numpy_state
    return {"torch": torch.get_rng_state(),
            "python": [version, list(python_state), gauss],
            "numpy": [kind, keys.tolist(), int(position), int(has_gauss), float(cached)]}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    version, python_state, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in python_state), gauss))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), int(position), int(has_gauss),
                         float(cached)))


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """The complete checkpoints of a run, oldest first."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir()
             if CHECKPOINT_NAME.fullmatch(path.name) and (path / STATE_FILE).is_file()]
    return sorted(found, key=lambda path: int(path.name[len(PREFIX):]))


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    found = checkpoint_dirs(run_dir)
    return found[-1] if found else None


def save_checkpoint(run_dir: Path, policies: Policies, state: TrainerState,
                    keep: int = 3) -> Path:
    """Write a checkpoint for `state` atomically and prune all but the newest `keep`."""
    import torch

    folder = run_dir / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{state.step:06d}"
    staging = folder / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name, policy in _policy_files(policies).items():
            save_policy_state(policy, staging / name)
        torch.save(rng_state(), staging / "rng.pt")
        (staging / STATE_FILE).write_text(json.dumps(state.to_json(), indent=2) + "\n",
                                          encoding="utf-8")
        for path in staging.iterdir():
            _fsync_path(path)
        _fsync_path(staging)
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
        _fsync_path(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for old in checkpoint_dirs(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_partial(run_dir: Path) -> None:
    """Delete temporary directories left by a process killed while checkpointing."""
    folder = run_dir / "checkpoints"
    if folder.is_dir():
        for path in folder.iterdir():
            if path.name.startswith(".tmp-"):
                shutil.rmtree(path, ignore_errors=True)


def load_checkpoint(checkpoint: Path, policies: Policies) -> TrainerState:
    """Restore weights, optimisers and RNG states from `checkpoint` into `policies` (built
    from the same configuration) and return the trainer state. `ValueError` naming the file
    when the directory is not a complete checkpoint, does not match the policies, or a file
    in it is damaged (truncated, not a torch file, bad JSON)."""
    import torch

    state_file = checkpoint / STATE_FILE
    if not state_file.is_file():
        raise ValueError(f"{checkpoint}: not a complete checkpoint (no {STATE_FILE})")
    for name in _policy_files(policies):
        if not (checkpoint / name).is_file():
            raise ValueError(f"{checkpoint}: no {name} (was the run trained with another "
                             "policy.sharing?)")
    current = state_file
    try:
        state = TrainerState.from_json(json.loads(state_file.read_text(encoding="utf-8")))
        for name, policy in _policy_files(policies).items():
            current = checkpoint / name
            load_policy_state(policy, current)
        current = checkpoint / "rng.pt"
        set_rng_state(torch.load(current, weights_only=True))
    except Exception as error:  # torch, pickle, zip and JSON errors all mean "damaged"
        raise ValueError(f"{current}: damaged checkpoint file ({type(error).__name__}: "
                         f"{error})") from error
    return state


def resume_candidates(resume: Path) -> list[Path]:
    """The checkpoints to try, newest first, for `--resume PATH`: PATH itself when it is a
    checkpoint, else the checkpoints of the run directory PATH (or of the run whose
    `checkpoints/` folder PATH is). `ValueError` naming PATH when there is none."""
    if (resume / STATE_FILE).is_file():
        return [resume]
    run_dir = resume.parent if resume.name == "checkpoints" else resume
    if not resume.exists():
        raise ValueError(f"{resume}: no such run directory or checkpoint")
    found = checkpoint_dirs(run_dir)
    if not found:
        raise ValueError(f"{resume}: no complete checkpoint to resume from (looked for "
                         f"{run_dir / 'checkpoints'}/{PREFIX}N/{STATE_FILE})")
    return found[::-1]


def load_newest_intact(candidates: list[Path], policies: Policies
                       ) -> tuple[Path, TrainerState, list[str]]:
    """Load the first checkpoint of `candidates` (newest first) that loads, and say which
    ones were skipped and why. `ValueError` listing every failure when none loads."""
    skipped: list[str] = []
    for checkpoint in candidates:
        try:
            return checkpoint, load_checkpoint(checkpoint, policies), skipped
        except ValueError as error:
            skipped.append(str(error))
    raise ValueError("no checkpoint could be loaded:\n  " + "\n  ".join(skipped))

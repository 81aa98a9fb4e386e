"""Our credit reaches OpenRLHF's trainer actor the way Ray ships it: the real `PPOTrainer`
actor class is pickled in one process (the job driver, where our hook never runs) and built
in another where the hook ran first (the actor's worker), with OpenRLHF's own `__init__`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.trainer.openrlhf.openrlhf_cpu import missing_for_harness
from tests.trainer.openrlhf.test_command import ONE_GPU, write
from trainer.openrlhf.config import SETTINGS_VARIABLE
from trainer.openrlhf.install import STARTUP_MARK
from trainer.openrlhf.launcher import prepare

ROOT = Path(__file__).resolve().parents[3]
CHILD = "tests.trainer.openrlhf.trainer_actor_child"


def child(arguments: list[str], settings: str | None) -> str:
    env = {key: value for key, value in os.environ.items() if key != SETTINGS_VARIABLE}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    if settings is not None:
        env[SETTINGS_VARIABLE] = settings
    done = subprocess.run([sys.executable, "-m", CHILD, *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def classes(output: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return loaded


@pytest.mark.slow
def test_the_trainer_actor_ray_builds_uses_both_of_our_classes(tmp_path: Path) -> None:
    if reason := missing_for_harness():
        pytest.skip(reason)
    _, _, command = prepare(write(tmp_path, ONE_GPU))
    env_vars = command.runtime_env["env_vars"]
    assert isinstance(env_vars, dict)
    settings = env_vars[SETTINGS_VARIABLE]
    blob = tmp_path / "ppo_trainer.pkl"
    child(["dump", str(blob)], settings=None)  # the driver: no hook
    arguments = json.dumps(list(command.train_arguments))

    ours = classes(child(["load", str(blob), arguments], settings))
    assert ours["generator"][0] == "MasdslSamplesGenerator"
    assert "SamplesGenerator" in ours["generator"][1]  # on OpenRLHF's real class
    assert ours["maker"][0] == "MasdslExperienceMaker"
    assert "RemoteExperienceMaker" in ours["maker"][1]
    assert ours["line"].startswith(STARTUP_MARK)
    assert "MasdslSamplesGenerator" in ours["line"] and "MasdslExperienceMaker" in ours["line"]

    # The former hook (names replaced in openrlhf.trainer.ppo_trainer only) left the stock
    # generator in the trainer, whose experiences then reached our experience maker.
    former = classes(child(["load", str(blob), arguments, "old"], settings))
    assert former["generator"][0] == "SamplesGenerator"
    assert former["maker"][0] == "MasdslExperienceMaker"

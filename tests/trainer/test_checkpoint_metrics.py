"""Checkpoints (atomic, pruned, RNG-exact), metrics files, data order and the CLI's errors,
on a tiny torch model (fast: no language model)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from masdsl.cli import main
from trainer.config import LossConfig
from trainer.loop import draw, step_seed
from trainer.metrics import MetricsLog, Progress, read_metrics, truncate_metrics

torch = pytest.importorskip("torch")

from trainer.checkpoint import (  # noqa: E402
    TrainerState,
    checkpoint_dirs,
    latest_checkpoint,
    load_checkpoint,
    remove_partial,
    save_checkpoint,
)
from trainer.policy import Policies, make_policy  # noqa: E402


def _policies(seed: int) -> Policies:
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 3)
    policy = make_policy(model, LossConfig(learning_rate=0.1))
    return Policies(designer=policy, executor=policy, tokenizer=None)


def _train_once(policies: Policies) -> None:
    policy = policies.designer
    loss = policy.model(torch.ones(2, 4)).pow(2).sum()
    loss.backward()
    policy.optimizer.step()
    policy.optimizer.zero_grad()


def test_checkpoint_restores_weights_optimiser_rng_and_state(tmp_path: Path) -> None:
    saved = _policies(0)
    _train_once(saved)
    random.seed(5)
    torch.manual_seed(6)
    state = TrainerState(step=1, cursors=(7,), phase="executor")
    path = save_checkpoint(tmp_path, saved, state)
    expected_random, expected_torch = random.random(), torch.rand(3)
    _train_once(saved)

    restored = _policies(1)  # different init: everything must come from the checkpoint
    assert load_checkpoint(path, restored) == state
    assert random.random() == expected_random
    assert torch.equal(torch.rand(3), expected_torch)
    reference = _policies(0)
    _train_once(reference)
    _train_once(reference)
    _train_once(restored)
    for mine, theirs in zip(restored.designer.model.parameters(),
                            reference.designer.model.parameters(), strict=True):
        assert torch.equal(mine, theirs)


def test_checkpoints_are_pruned_and_partial_ones_ignored(tmp_path: Path) -> None:
    policies = _policies(0)
    for step in range(1, 5):
        save_checkpoint(tmp_path, policies, TrainerState(step, (step,), "designer"), keep=2)
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step-000003", "step-000004"]
    # a process killed mid-write leaves a hidden temporary directory and no state.json
    partial = tmp_path / "checkpoints" / ".tmp-step-000005-123"
    partial.mkdir()
    (partial / "policy.pt").write_bytes(b"torn")
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step-000004"
    remove_partial(tmp_path)
    assert not partial.exists()


def test_checkpoint_of_other_sharing_is_a_clear_error(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path, _policies(0), TrainerState(1, (0,), "executor"))
    one, two = _policies(0), _policies(1)
    separate = Policies(designer=one.designer, executor=two.designer, tokenizer=None)
    with pytest.raises(ValueError, match=r"policy-designer\.pt"):
        load_checkpoint(path, separate)
    with pytest.raises(ValueError, match="not a complete checkpoint"):
        load_checkpoint(tmp_path, separate)


def test_metrics_log_appends_and_truncates_on_resume(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path)
    for step in (1, 2, 3):
        log.write({"kind": "train", "step": step, "loss": 0.5 * step})
    log.close()
    with (tmp_path / "metrics.jsonl").open("a") as handle:
        handle.write('{"kind": "train", "st')  # torn by a kill
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2, 3]
    truncate_metrics(tmp_path / "metrics.jsonl", 2)
    assert [r["step"] for r in read_metrics(tmp_path / "metrics.jsonl")] == [1, 2]
    assert (tmp_path / "designs.jsonl").is_file()


def test_data_order_is_a_deterministic_shuffle_of_epochs() -> None:
    items = list(range(5))
    first = draw(items, 0, 5, seed=3)  # type: ignore[arg-type]
    assert sorted(first) == items
    assert draw(items, 2, 4, seed=3) == first[2:] + draw(items, 5, 1, seed=3)  # type: ignore[arg-type]
    assert draw(items, 0, 5, seed=4) != first or draw(items, 5, 5, seed=3) != first  # type: ignore[arg-type]
    assert step_seed(0, 0) != step_seed(0, 1) != step_seed(1, 0)


def test_progress_line_shows_rate_and_eta() -> None:
    bar = Progress(total=10, start=0)
    bar.began -= 20.0  # 20 s for 2 steps
    line = bar.line(2, [("R", 0.25)])
    assert "2/10" in line and "ETA 01:20" in line and "R=0.25" in line


def test_cli_errors_are_located_not_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = 0\noutput_dir = 'x'\neval_interval = 0\n[[tasks.train]]\n"
                   "name = 'arithmetic'\n")
    assert main(["train", str(bad)]) == 2
    assert "bad.toml:1: steps" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a training run" in capsys.readouterr().err
    assert main(["train", "plot", str(tmp_path)]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err
    (tmp_path / "metrics.jsonl").write_text(json.dumps(
        {"kind": "train", "step": 1, "designer_reward": -1.0, "executor_reward": 0.5,
         "compile_rate": 0.5, "construct/single": 1.0, "loss": 0.1}) + "\n")
    assert main(["train", "plot", str(tmp_path)]) == 0
    assert (tmp_path / "plots" / "rewards.png").stat().st_size > 1000
    assert "| designer_reward | -1.000 | -1.000 |" in (tmp_path / "summary-metrics.md").read_text()

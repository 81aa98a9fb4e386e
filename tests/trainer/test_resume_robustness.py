"""Resume survives what a crashed or tinkered-with run leaves behind (issue 13): damaged
checkpoints are skipped with a message naming the file, stray folders are ignored, metrics
lines are never silently dropped, and a bad `--resume` path is named as given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.metrics import truncate_metrics

torch = pytest.importorskip("torch")

from tests.trainer.test_checkpoint_metrics import _policies, _train_once  # noqa: E402
from trainer.checkpoint import (  # noqa: E402
    TrainerState,
    checkpoint_dirs,
    load_checkpoint,
    load_newest_intact,
    resume_candidates,
    save_checkpoint,
)


def _two_checkpoints(run: Path) -> tuple[Path, Path]:
    policies = _policies(0)
    first = save_checkpoint(run, policies, TrainerState(step=1, cursors=(1,), phase="executor"))
    _train_once(policies)
    second = save_checkpoint(run, policies, TrainerState(step=2, cursors=(2,), phase="executor"))
    return first, second


def test_a_damaged_checkpoint_names_its_file(tmp_path: Path) -> None:
    _, second = _two_checkpoints(tmp_path)
    (second / "policy.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"policy\.pt: damaged checkpoint file"):
        load_checkpoint(second, _policies(1))


@pytest.mark.parametrize("damage", ["policy.pt", "rng.pt", "state.json"])
def test_resume_falls_back_to_the_newest_intact_checkpoint(tmp_path: Path, damage: str) -> None:
    first, second = _two_checkpoints(tmp_path)
    (second / damage).write_bytes((second / damage).read_bytes()[:10])
    candidates = resume_candidates(tmp_path)
    assert candidates == [second, first]
    loaded, state, skipped = load_newest_intact(candidates, _policies(1))
    assert loaded == first and state.step == 1
    assert len(skipped) == 1 and str(second / damage) in skipped[0]


def test_when_nothing_loads_every_failure_is_listed(tmp_path: Path) -> None:
    first, second = _two_checkpoints(tmp_path)
    for checkpoint in (first, second):
        (checkpoint / "rng.pt").write_bytes(b"")
    with pytest.raises(ValueError) as caught:
        load_newest_intact(resume_candidates(tmp_path), _policies(1))
    assert str(first / "rng.pt") in str(caught.value)
    assert str(second / "rng.pt") in str(caught.value)


def test_a_stray_backup_folder_is_ignored(tmp_path: Path) -> None:
    first, second = _two_checkpoints(tmp_path)
    backup = second.with_name(second.name + ".bak")
    backup.mkdir()
    (backup / "state.json").write_text(json.dumps({"step": 9, "cursors": [0], "phase": "x"}))
    (second.parent / "step-x").mkdir()
    assert checkpoint_dirs(tmp_path) == [first, second]


def test_resume_paths_are_named_as_given(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-run"
    with pytest.raises(ValueError, match=f"^{missing}: no such run"):
        resume_candidates(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=f"^{empty}: no complete checkpoint"):
        resume_candidates(empty)
    first, second = _two_checkpoints(tmp_path / "run")
    assert resume_candidates(tmp_path / "run" / "checkpoints") == [second, first]
    assert resume_candidates(first) == [first]


def test_resume_keeps_undecodable_metrics_lines_and_drops_only_a_torn_last_line(
        tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"step": 1}\n'
                     b'garbage that is not json\n'
                     b'{"step": 2}\n'
                     b'{"step": 3}\n'
                     b'{"step": 4, "tor')
    truncate_metrics(path, 2)
    assert path.read_bytes() == b'{"step": 1}\ngarbage that is not json\n{"step": 2}\n'


def test_masc_train_reports_unknown_tasks_and_examples_before_loading_a_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from masdsl.cli import main

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded before the config was checked")

    monkeypatch.setattr("trainer.policy.build_policies", no_model)
    config = tmp_path / "typo.toml"
    output = tmp_path / "run"
    config.write_text(f"steps = 1\noutput_dir = '{output}'\neval_interval = 0\n"
                      "[sampling]\nexamples = ['benchmarks/systems/single_agent.mas', "
                      "'no_such_system.mas']\n"
                      "[[tasks.train]]\nname = 'arithmetik'\n"
                      "[[tasks.eval]]\nname = 'arithmetic@x'\n")
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err
    assert "tasks.train: " in err and "arithmetik" in err
    assert "tasks.eval: " in err and "arithmetic@x" in err
    assert "sampling.examples: few-shot example 'no_such_system.mas': cannot read" in err
    assert "single_agent" not in err
    assert "internal error" not in err
    assert not output.exists()


def test_masc_train_resume_names_the_path_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from masdsl.cli import main

    missing = tmp_path / "nope" / "checkpoints" / "step-000001"
    assert main(["train", "--resume", str(missing)]) == 2
    assert f"--resume {missing}: no such run directory or checkpoint" in capsys.readouterr().err

"""`masc train compare`: runs side by side, with intervals that decide what differs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from masdsl.cli import main
from trainer.compare import compare_markdown, difference_interval, load_runs
from trainer.metrics import wilson_interval


def _eval(step: int, correct: int, questions: int = 100) -> dict[str, object]:
    low, high = wilson_interval(correct, questions)
    return {"kind": "eval", "step": step, "task": "arithmetic@1", "questions": questions,
            "accuracy": correct / questions, "accuracy_ci95_low": low,
            "accuracy_ci95_high": high, "compile_rate": 1.0}


def _train(step: int, reward: float) -> dict[str, object]:
    return {"kind": "train", "step": step, "designer_reward": reward,
            "executor_reward": reward / 2, "time/step": 100.0 + step}


def _run(root: Path, name: str, records: list[dict[str, object]]) -> Path:
    run = root / name
    run.mkdir()
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return run


def test_difference_interval_matches_newcombes_worked_example() -> None:
    # Newcombe (1998), method 10: 56/70 against 48/80 gives +0.0524 to +0.3339.
    first, second = _eval(0, 48, 80), _eval(0, 56, 70)
    low, high = difference_interval(first, second)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_compare_tabulates_each_step_and_judges_the_last_common_one(tmp_path: Path) -> None:
    reference = _run(tmp_path, "stagewise",
                     [_eval(0, 20), *(_train(s, 0.2 + s / 20) for s in range(1, 11)),
                      _eval(5, 40), _eval(10, 60)])
    ablation = _run(tmp_path, "coupled",
                    [*(_train(s, 0.2) for s in range(1, 11)), _eval(10, 30)])
    close = _run(tmp_path, "sequence", [_eval(10, 55)])
    text = compare_markdown(load_runs([reference, ablation, close]))
    assert "| stagewise | 0.20 (0.13–0.29) | 0.40 (0.31–0.50) | 0.60 (0.50–0.69) |" in text
    assert "| coupled | — | — | 0.30 (0.22–0.40) |" in text
    assert "After step 10, against `stagewise`:" in text
    assert "- `coupled`: -0.30 (" in text and text.split("- `coupled`")[1].split("\n")[0] \
        .endswith("lower")
    assert text.split("- `sequence`")[1].split("\n")[0].endswith("not distinguishable")
    # train means: first five steps 0.25..0.45 -> 0.350, last five 0.50..0.70 -> 0.600
    assert "| designer_reward | 0.350 | 0.600 | 0.200 | 0.200 | — | — |" in text


def test_masc_train_compare_writes_table_and_plots(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    first = _run(tmp_path, "a", [_eval(0, 20), _train(1, 0.3), _eval(1, 35)])
    second = _run(tmp_path, "b", [_eval(0, 20), _train(1, 0.1), _eval(1, 21)])
    out = tmp_path / "cmp"
    assert main(["train", "compare", str(first), str(second), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "- `b`: -0.14" in printed
    assert (out / "comparison.md").read_text(encoding="utf-8") in printed
    for name in ("heldout.png", "rewards.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_masc_train_compare_reports_a_run_without_metrics(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _run(tmp_path, "a", [_eval(0, 20)])
    assert main(["train", "compare", str(good), str(tmp_path / "absent")]) == 2
    assert "absent: no metrics.jsonl records to compare" in capsys.readouterr().err
    assert main(["train", "compare"]) == 2
    assert main(["train", "configs/cpu-demo.toml", "--out", str(tmp_path)]) == 2
    assert "--out is for `masc train compare`" in capsys.readouterr().err


def test_masc_train_report_writes_plots_and_summary(tmp_path: Path) -> None:
    run = _run(tmp_path, "run", [_eval(0, 20), _train(1, 0.3), _train(2, 0.5), _eval(2, 35)])
    assert main(["train", "report", str(run)]) == 0
    summary = (run / "summary-metrics.md").read_text(encoding="utf-8")
    assert "| designer_reward | 0.400 | 0.400 |" in summary
    assert "| accuracy 95% CI | 0.133–0.289 | 0.264–0.447 |" in summary
    for name in ("rewards.png", "heldout.png", "time.png", "diagnostics.png"):
        assert (run / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mcnemar_counts_discordant_questions_and_gives_the_exact_p_value() -> None:
    from trainer.compare import mcnemar

    first = {f"q{i}": 1.0 if i < 2 else 0.0 for i in range(20)}     # right on q0, q1
    second = {f"q{i}": 1.0 if 1 <= i < 10 else 0.0 for i in range(20)}  # right on q1..q9
    # gained q2..q9 (8), lost q0 (1): p = 2 * (C(9,0) + C(9,1)) / 2^9
    assert mcnemar(first, second) == (20, 8, 1, 2 * 10 / 512)
    assert mcnemar(first, first) == (20, 0, 0, 1.0)


def test_compare_adds_the_paired_test_when_runs_logged_held_out_designs(
        tmp_path: Path) -> None:
    runs = []
    for name, right in (("ref", range(2)), ("new", range(1, 10))):
        run = _run(tmp_path, name, [_eval(3, len(right), 20)])
        (run / "designs.jsonl").write_text("".join(
            json.dumps({"kind": "eval", "task": "arithmetic@1", "step": 3, "item": f"q{i}",
                        "correct": 1.0 if i in right else 0.0}) + "\n" for i in range(20)),
            encoding="utf-8")
        runs.append(run)
    text = compare_markdown(load_runs(runs))
    assert ("paired over 20 questions: right where the reference was wrong 8, the reverse 1, "
            "McNemar p = 0.0391") in text

"""`python -m benchmarks.train`'s report: the step split and the rollout against the raw rate."""

from __future__ import annotations

import pytest

from benchmarks.train import report


def _record(**extra: float) -> dict[str, float]:
    return {"step": 1, "time/step": 20.0, "time/design": 8.0, "time/execute": 2.0,
            "time/reward": 0.0, "time/credit": 0.0, "time/update": 10.0,
            "rollout_tokens_per_s": 30.0, "compile_rate": 1.0, **extra}


def test_the_llamacpp_path_reports_the_engines_own_work(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    mean = report("llamacpp", 60.0, [_record(rollout_fed_tokens_per_s=54.0, **{
        "time/decode": 9.0})])
    out = capsys.readouterr().out
    assert mean == 20.0
    assert "rollout 30.0 tokens/s = 0.50 of raw" in out
    assert "engine fed 54.0 tokens/s (uncached prompt + sampled) = 0.90 of raw" in out
    assert "inside llama_decode 90% of the rollout" in out


def test_the_torch_path_has_no_engine_line(capsys: pytest.CaptureFixture[str]) -> None:
    report("transformers", 10.0, [_record(), _record(**{"time/step": 30.0})])
    out = capsys.readouterr().out
    assert "engine fed" not in out and out.count("rollout 30.0 tokens/s = 3.00 of raw") == 2

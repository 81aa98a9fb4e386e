"""`benchmarks.sampling` compares like with like: its plain baseline sampler and the engine's
pick the same tokens from the same draws and report the same logprobs."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.sampling import SETTINGS, engine_sample, plain_sample


@pytest.mark.parametrize(("label", "temperature", "top_p", "masked"), SETTINGS)
def test_the_baseline_and_the_engine_sampler_agree(label: str, temperature: float,
                                                    top_p: float, masked: bool) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, 5000).astype(np.float32)
    allowed = rng.random(5000) < 0.3 if masked else None
    plain, engine = np.random.default_rng(1), np.random.default_rng(1)
    pairs = [(plain_sample(logits, temperature, top_p, plain, allowed),
              engine_sample(logits, temperature, top_p, engine, allowed)) for _ in range(200)]
    agree = sum(a[0] == b[0] for a, b in pairs)
    assert agree >= 198, label  # a draw on a floating-point boundary may differ
    for (token, logprob), (other, other_logprob) in pairs:
        if token == other:
            assert logprob == pytest.approx(other_logprob, abs=1e-5)

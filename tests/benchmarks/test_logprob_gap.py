"""The logprob-gap benchmark's statistics and reward, on hand-computed values."""

from __future__ import annotations

import math

import pytest

from benchmarks.logprob_gap import gap_statistics, reward


def test_gap_statistics_of_known_deltas() -> None:
    llamacpp = [-1.0, -2.0, -0.5, -3.0]
    torch = [-1.0, -1.5, -0.8, -3.0]  # deltas (torch - llama.cpp): 0, 0.5, -0.3, 0
    stats = gap_statistics(llamacpp, torch, clip=0.2)
    assert stats["mean_abs"] == pytest.approx(0.2)
    assert stats["max_abs"] == pytest.approx(0.5)
    assert stats["p99_abs"] == pytest.approx(0.5)
    assert stats["ratio_min"] == pytest.approx(math.exp(-0.3))
    assert stats["ratio_max"] == pytest.approx(math.exp(0.5))
    assert stats["ratio_mean"] == pytest.approx((2 + math.exp(0.5) + math.exp(-0.3)) / 4)
    assert stats["outside_clip"] == pytest.approx(0.5)  # exp(0.5) and exp(-0.3) leave 1 ± 0.2
    with pytest.raises(ValueError, match="no tokens"):
        gap_statistics([], [], clip=0.2)


def test_reward_reads_the_first_integer() -> None:
    assert reward("7", 7) == 1.0
    assert reward("The answer is 12.", 12) == 1.0
    assert reward("3 + 4 = 7", 7) == 0.0
    assert reward("seven", 7) == 0.0

"""Numpy sampling and model lookup: pure functions, no model needed."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.engines.embedded import ModelNotFoundError, resolve_model_path
from runtime.engines.token_sampling import BLOCK, _inverse_cdf, raw_logprob, sample_token

LOGITS = np.array([1.0, 3.0, 2.0, -1.0, 2.9], dtype=np.float32)


def test_greedy_picks_the_largest_allowed_logit() -> None:
    generator = np.random.default_rng(0)
    assert sample_token(LOGITS, 0.0, 1.0, generator).token == 1
    allowed = np.array([True, False, True, True, False])
    assert sample_token(LOGITS, 0.0, 1.0, generator, allowed).token == 2


def test_mask_is_respected_when_sampling() -> None:
    generator = np.random.default_rng(3)
    allowed = np.array([False, False, False, True, True])
    assert {sample_token(LOGITS, 1.5, 1.0, generator, allowed).token for _ in range(200)} <= {3, 4}


def test_a_token_is_forced_only_when_the_mask_allows_it_alone() -> None:
    generator = np.random.default_rng(2)
    alone = np.array([False, False, False, True, False])
    pair = np.array([False, False, False, True, True])
    for temperature in (0.0, 1.0):
        assert sample_token(LOGITS, temperature, 1.0, generator, alone) == (
            3, raw_logprob(LOGITS, 3), True)
        assert not sample_token(LOGITS, temperature, 1.0, generator, pair).forced
        assert not sample_token(LOGITS, temperature, 1.0, generator).forced


def test_empty_mask_is_an_error() -> None:
    with pytest.raises(ValueError, match="allows no next token"):
        sample_token(LOGITS, 1.0, 1.0, np.random.default_rng(0), np.zeros(5, dtype=bool))


def test_tiny_top_p_keeps_only_the_most_likely_token() -> None:
    generator = np.random.default_rng(1)
    assert {sample_token(LOGITS, 1.0, 0.01, generator).token for _ in range(50)} == {1}


def test_top_p_keeps_the_nucleus() -> None:
    generator = np.random.default_rng(2)
    seen = {sample_token(LOGITS, 1.0, 0.6, generator).token for _ in range(300)}
    assert seen == {1, 4}  # p(1) ~ 0.40, p(4) ~ 0.36: together they pass 0.6


def test_same_seed_same_tokens() -> None:
    first = [sample_token(VOCAB, 1.0, 0.9, np.random.default_rng(5)) for _ in range(3)]
    again = [sample_token(VOCAB, 1.0, 0.9, np.random.default_rng(5)) for _ in range(3)]
    assert first == again


def test_raw_logprob_is_log_softmax() -> None:
    expected = np.log(np.exp(LOGITS[2]) / np.exp(LOGITS).sum())
    assert raw_logprob(LOGITS, 2) == pytest.approx(float(expected), abs=1e-6)


# A vocabulary the size of SmolLM2's, not a multiple of the inverse CDF's block.
VOCAB = np.random.default_rng(11).normal(0.0, 3.0, 49_152 + 77).astype(np.float32)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    values = logits.astype(np.float64)
    return values - values.max() - np.log(np.exp(values - values.max()).sum())


def test_the_reported_logprob_is_the_raw_log_softmax_whatever_the_mask_and_temperature() -> None:
    allowed = np.random.default_rng(1).random(len(VOCAB)) < 0.02
    reference = _log_softmax(VOCAB)
    for temperature, top_p, mask in ((1.0, 1.0, None), (0.6, 1.0, allowed),
                                     (1.3, 0.9, allowed), (0.0, 1.0, allowed)):
        sampled = sample_token(VOCAB, temperature, top_p, np.random.default_rng(2), mask)
        assert mask is None or mask[sampled.token]
        assert sampled.logprob == pytest.approx(reference[sampled.token], abs=1e-5)


def test_the_blocked_inverse_cdf_picks_what_a_full_cumulative_sum_picks() -> None:
    weights = np.exp(VOCAB - VOCAB.max())
    weights[BLOCK * 3: BLOCK * 5] = 0.0  # whole blocks of forbidden tokens
    weights[-50:] = 0.0  # and the tail of the last, partial block
    cumulative = np.cumsum(weights.astype(np.float64))
    uniforms = np.concatenate([np.random.default_rng(3).random(500), [0.0, 1.0 - 1e-16]])
    for uniform in uniforms:
        expected = min(int(np.searchsorted(cumulative, uniform * cumulative[-1], side="right")),
                       int(np.flatnonzero(weights).max()))
        picked = _inverse_cdf(weights, float(uniform))
        assert weights[picked] > 0
        assert abs(picked - expected) <= 1  # float64 sums in another order may move a boundary
        assert picked == expected or np.isclose(cumulative[min(picked, expected)],
                                                uniform * cumulative[-1], rtol=1e-9)


@pytest.mark.parametrize(("temperature", "top_p", "density"),
                         [(1.0, 1.0, 1.0), (0.7, 1.0, 0.3), (1.0, 0.8, 1.0), (1.4, 0.95, 0.5)])
def test_samples_follow_the_tempered_masked_nucleus_distribution(
        temperature: float, top_p: float, density: float) -> None:
    rng = np.random.default_rng(4)
    logits = np.full(3000, -30.0, dtype=np.float32)  # a long, flat tail ...
    logits[:12] = rng.normal(0.0, 1.0, 12)  # ... under a few likely tokens
    allowed = rng.random(len(logits)) < density
    allowed[:6] = True
    scores = np.where(allowed, logits.astype(np.float64) / temperature, -np.inf)
    probabilities = np.exp(scores - scores.max())
    probabilities /= probabilities.sum()
    order = np.lexsort((np.arange(len(logits)), -probabilities))
    keep = int(np.searchsorted(np.cumsum(probabilities[order]), top_p, side="left")) + 1
    expected = np.zeros(len(logits))
    expected[order[:keep]] = probabilities[order[:keep]]
    expected /= expected.sum()
    generator = np.random.default_rng(5)
    draws = 20_000
    counts = np.bincount([sample_token(logits, temperature, top_p, generator, allowed).token
                          for _ in range(draws)], minlength=len(logits))
    assert set(np.flatnonzero(counts)) <= set(np.flatnonzero(expected))
    likely = expected > 0.01
    standard_error = np.sqrt(expected[likely] * (1 - expected[likely]) / draws)
    assert np.all(np.abs(counts[likely] / draws - expected[likely]) < 5 * standard_error)


def test_missing_model_file_is_a_clear_error() -> None:
    with pytest.raises(ModelNotFoundError, match="no such GGUF model file"):
        resolve_model_path("/nonexistent/model.gguf")


def test_a_nucleus_that_needs_the_tail_reaches_into_it() -> None:
    # One token holds ~88% of the mass; 3000 tokens 10 nats below it hold the rest, each far
    # under the first threshold (1/1000 of the peak), so only a lower one finds the nucleus.
    logits = np.full(3001, -10.0, dtype=np.float32)
    logits[0] = 0.0
    head = 1 / (1 + 3000 * np.exp(-10.0))
    assert 0.85 < head < 0.9
    generator = np.random.default_rng(6)
    narrow = {sample_token(logits, 1.0, 0.85, generator).token for _ in range(300)}
    wide = {sample_token(logits, 1.0, 0.95, generator).token for _ in range(300)}
    assert narrow == {0}
    assert len(wide) > 10

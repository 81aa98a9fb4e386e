"""Numpy sampling and model lookup: pure functions, no model needed."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.engines.embedded import ModelNotFoundError, resolve_model_path
from runtime.engines.token_sampling import raw_logprob, sample_token

LOGITS = np.array([1.0, 3.0, 2.0, -1.0, 2.9], dtype=np.float32)


def test_greedy_picks_the_largest_allowed_logit() -> None:
    generator = np.random.default_rng(0)
    assert sample_token(LOGITS, 0.0, 1.0, generator) == 1
    allowed = np.array([True, False, True, True, False])
    assert sample_token(LOGITS, 0.0, 1.0, generator, allowed) == 2


def test_mask_is_respected_when_sampling() -> None:
    generator = np.random.default_rng(3)
    allowed = np.array([False, False, False, True, True])
    assert {sample_token(LOGITS, 1.5, 1.0, generator, allowed) for _ in range(200)} <= {3, 4}


def test_empty_mask_is_an_error() -> None:
    with pytest.raises(ValueError, match="allows no next token"):
        sample_token(LOGITS, 1.0, 1.0, np.random.default_rng(0), np.zeros(5, dtype=bool))


def test_tiny_top_p_keeps_only_the_most_likely_token() -> None:
    generator = np.random.default_rng(1)
    assert {sample_token(LOGITS, 1.0, 0.01, generator) for _ in range(50)} == {1}


def test_top_p_keeps_the_nucleus() -> None:
    generator = np.random.default_rng(2)
    seen = {sample_token(LOGITS, 1.0, 0.6, generator) for _ in range(300)}
    assert seen == {1, 4}  # p(1) ~ 0.40, p(4) ~ 0.36: together they pass 0.6


def test_same_seed_same_tokens() -> None:
    first = [sample_token(LOGITS, 1.0, 0.9, np.random.default_rng(5)) for _ in range(3)]
    again = [sample_token(LOGITS, 1.0, 0.9, np.random.default_rng(5)) for _ in range(3)]
    assert first == again


def test_raw_logprob_is_log_softmax() -> None:
    expected = np.log(np.exp(LOGITS[2]) / np.exp(LOGITS).sum())
    assert raw_logprob(LOGITS, 2) == pytest.approx(float(expected), abs=1e-6)


def test_missing_model_file_is_a_clear_error() -> None:
    with pytest.raises(ModelNotFoundError, match="no such GGUF model file"):
        resolve_model_path("/nonexistent/model.gguf")

"""`grpo_loss` against a hand calculation on a 2x3 batch."""

from __future__ import annotations

import math
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from trainer.loss import grpo_loss  # noqa: E402

LN2, LN15 = math.log(2.0), math.log(1.5)


def batch() -> tuple[Any, ...]:
    # tokens a b c / d e f; e is masked out
    logprobs = torch.tensor([[-1.0, -2.0, -0.5], [-1.5, -0.2, -3.0]], requires_grad=True)
    # ratios: a 1, b 1.5, c 0.5 / d 1.5, e 1, f 0.5
    old = torch.tensor([[-1.0, -2.0 - LN15, -0.5 + LN2], [-1.5 - LN15, -0.2, -3.0 + LN2]])
    advantages = torch.tensor([[0.5, 1.0, 2.0], [-1.0, 7.0, -2.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 1]])
    return logprobs, old, advantages, mask


def test_clipped_surrogate_token_mean_by_hand() -> None:
    logprobs, old, advantages, mask = batch()
    loss, metrics = grpo_loss(logprobs, old, advantages, mask, clip=0.2)
    # per token -min(r A, clip(r) A):
    # a -0.5 | b -min(1.5, 1.2) = -1.2 | c -min(1.0, 1.6) = -1.0
    # d -min(-1.5, -1.2) = 1.5 | f -min(-1.0, -1.6) = 1.6      sum 0.4 over 5 tokens
    assert float(loss.detach()) == pytest.approx(0.08)
    assert metrics["policy_loss"] == pytest.approx(0.08)
    assert metrics["clip_fraction"] == pytest.approx(0.4)  # b and f
    assert metrics["ratio_mean"] == pytest.approx(1.0)  # (1 + 1.5 + 0.5 + 1.5 + 0.5) / 5
    assert metrics["tokens"] == 5.0
    assert metrics["kl"] == 0.0
    loss.backward()  # type: ignore[no-untyped-call]
    assert logprobs.grad is not None
    # d/dl of -r A / 5 is -r A / 5 where unclipped; 0 where clipped or masked
    expected = [[-0.1, 0.0, -0.2], [0.3, 0.0, 0.0]]
    assert logprobs.grad.tolist() == [pytest.approx(row) for row in expected]


def test_k3_kl_term_by_hand() -> None:
    logprobs, old, advantages, mask = batch()
    # ref - logprobs: a 0, b ln2, c 0 / d 0, e 5 (masked), f -ln2
    ref = logprobs.detach() + torch.tensor([[0.0, LN2, 0.0], [0.0, 5.0, -LN2]])
    loss, metrics = grpo_loss(logprobs, old, advantages, mask, clip=0.2, kl_coef=0.1,
                              ref_logprobs=ref)
    # k3: b 2 - ln2 - 1 = 0.306853, f 0.5 + ln2 - 1 = 0.193147; mean 0.5 / 5 = 0.1
    assert metrics["kl"] == pytest.approx(0.1)
    assert float(loss.detach()) == pytest.approx(0.08 + 0.1 * 0.1)


def test_kl_without_reference_is_an_error() -> None:
    logprobs, old, advantages, mask = batch()
    with pytest.raises(ValueError, match="needs ref_logprobs"):
        grpo_loss(logprobs, old, advantages, mask, kl_coef=0.1)


def test_fully_masked_batch_gives_zero_loss() -> None:
    logprobs, old, advantages, mask = batch()
    loss, metrics = grpo_loss(logprobs, old, advantages, torch.zeros_like(mask))
    assert float(loss.detach()) == 0.0
    assert metrics["tokens"] == 0.0

"""One policy update: forward the packed samples, GRPO loss, backward, clipped step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from trainer.batch import TokenSample, pack
from trainer.config import LossConfig
from trainer.loss import grpo_loss
from trainer.policy import Policy, optimizer_step, token_logprobs

if TYPE_CHECKING:
    import torch


def update_policy(policy: Policy, samples: Sequence[TokenSample], pad_id: int,
                  loss: LossConfig, micro_batch_size: int = 4,
                  reference: Policy | None = None,
                  old_logprobs: Literal["rollout", "policy"] = "rollout") -> dict[str, float]:
    """Take one optimiser step on `samples` (the active roles' samples for this policy).

    Samples are forwarded `micro_batch_size` at a time and each micro-batch's token-mean loss
    is weighted by its share of the batch's loss tokens, so the accumulated gradient equals
    that of one token-mean over the whole batch. With `loss.kl_coef > 0`, `reference` (the
    frozen initial policy) supplies the KL reference log-probabilities.

    `old_logprobs` says where the ratio's denominator comes from: `rollout`, the samples'
    recorded logprobs; `policy`, the policy's own logprobs from this very forward, detached
    (ratio 1, the on-policy gradient). `policy` equals a no-grad torch recomputation at no
    cost, because every forward of one call runs on the same weights (one optimiser step at
    the end); it is exact for the first update after a rollout sampled from these weights,
    e.g. in llama.cpp, whose quantised logprobs differ from torch's (docs/training.md).
    Returns the
    token-weighted means of `grpo_loss`'s metrics plus `grad_norm`, `tokens`, `loss`.
    """
    import torch

    if not samples:
        raise ValueError("no samples to train on")
    if loss.kl_coef > 0 and reference is None:
        raise ValueError("loss.kl_coef > 0 needs a reference policy")
    batches = [pack(samples[i:i + micro_batch_size], pad_id)
               for i in range(0, len(samples), micro_batch_size)]
    total = sum(batch.tokens for batch in batches)
    if total == 0:
        raise ValueError("the samples have no completion tokens")
    policy.model.train()
    device = next(policy.model.parameters()).device  # tensors follow the model's device
    sums: dict[str, float] = {}
    for batch in batches:
        input_ids = batch.input_ids.to(device)
        attention_mask = batch.attention_mask.to(device)
        logprobs = token_logprobs(policy.model, input_ids, attention_mask)
        ref: torch.Tensor | None = None
        if reference is not None and loss.kl_coef > 0:
            with torch.no_grad():
                ref = token_logprobs(reference.model, input_ids, attention_mask)
        old = batch.old_logprobs.to(device) if old_logprobs == "rollout" else logprobs.detach()
        value, metrics = grpo_loss(logprobs, old,
                                   batch.advantages.to(device), batch.loss_mask.to(device),
                                   clip=loss.clip, kl_coef=loss.kl_coef, ref_logprobs=ref)
        share = batch.tokens / total
        (value * share).backward()  # type: ignore[no-untyped-call]
        sums["loss"] = sums.get("loss", 0.0) + float(value.detach()) * share
        for key in ("policy_loss", "kl", "clip_fraction", "ratio_mean"):
            sums[key] = sums.get(key, 0.0) + metrics[key] * share
    sums["grad_norm"] = optimizer_step(policy, loss.max_grad_norm)
    sums["tokens"] = float(total)
    return sums

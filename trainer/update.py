"""One policy update: forward the packed samples, GRPO loss, backward, clipped step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from trainer.batch import PackedBatch, TokenSample, micro_batches
from trainer.config import LossConfig
from trainer.loss import grpo_loss
from trainer.policy import Policy, batch_logprobs, optimizer_step

if TYPE_CHECKING:
    import torch


def update_policy(policy: Policy, samples: Sequence[TokenSample], pad_id: int,
                  loss: LossConfig, micro_batch_size: int = 4, group_size: int = 16,
                  reference: Policy | None = None,
                  old_logprobs: Literal["rollout", "policy"] = "rollout",
                  autocast: Literal["none", "bfloat16"] = "none") -> dict[str, float]:
    """Take one optimiser step on `samples` (the active roles' samples for this policy).

    Samples sharing a prompt (a GRPO group) are forwarded together, up to `group_size` at a
    time, their prompt once (`micro_batches`, `batch_logprobs`); the rest `micro_batch_size`
    at a time. No logits are computed for prompt positions. Each
    batch's token-mean loss is weighted by its share of the loss tokens, so the accumulated
    gradient equals that of one token-mean over all samples. With `loss.kl_coef > 0`,
    `reference` (the frozen initial policy) supplies the KL reference log-probabilities.

    `autocast = "bfloat16"` runs every forward (and so the backward) under torch autocast;
    the log-softmax, the loss and the optimiser step stay in float32.

    `old_logprobs` says where the ratio's denominator comes from: `rollout`, the samples'
    recorded logprobs; `policy`, the policy's own logprobs from this very forward, detached
    (ratio 1, the on-policy gradient). `policy` equals a no-grad torch recomputation at no
    cost, because every forward of one call runs on the same weights (one optimiser step at
    the end); it is exact for the first update after a rollout sampled from these weights,
    e.g. in llama.cpp, whose quantised logprobs differ from torch's (docs/training.md).

    Returns the token-weighted means of `grpo_loss`'s metrics plus `grad_norm`, `tokens`,
    `loss`, and the diagnostics of a run that does not learn:
    - `entropy`: the mean negative log-probability of the sampled tokens under the rollout
      engine (an unbiased estimate of the policy's entropy for samples drawn at temperature 1);
    - `logprob_gap_mean`/`logprob_gap_max`: |Δ| per token between this forward and the
      rollout engine's logprobs of the same weights (every micro-batch is forwarded before the
      one optimiser step), the rollout/trainer mismatch; `ratio_min`/`ratio_max`: the extremes
      of `exp(logprob - rollout logprob)`;
    - `kl_to_start`: the k3 KL from the starting policy, from the reference model or, for a
      LoRA policy without one, from the same model with its adapters switched off. Without
      a KL term in the loss it is measured on every k-th micro-batch only, about
      `loss.kl_diagnostic_tokens` tokens (each needs a no-grad forward of the starting
      model); absent when none is measured.
    """
    if not samples:
        raise ValueError("no samples to train on")
    return update_batches(policy, micro_batches(samples, pad_id, micro_batch_size, group_size),
                          loss, reference, old_logprobs, autocast)


def update_batches(policy: Policy, batches: Sequence[PackedBatch], loss: LossConfig,
                   reference: Policy | None = None,
                   old_logprobs: Literal["rollout", "policy"] = "rollout",
                   autocast: Literal["none", "bfloat16"] = "none") -> dict[str, float]:
    """`update_policy` on samples already packed (see there)."""
    import torch

    if loss.kl_coef > 0 and reference is None:
        raise ValueError("loss.kl_coef > 0 needs a reference policy")
    total = sum(batch.tokens for batch in batches)
    if total == 0:
        raise ValueError("the samples have no completion tokens")
    policy.model.train()
    device = next(policy.model.parameters()).device  # tensors follow the model's device
    sums: dict[str, float] = {}
    measured = _kl_batches(batches, total, loss)
    kl_tokens = sum(batches[i].tokens for i in measured)

    def forwards() -> torch.autocast:
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast != "none")

    for index, batch in enumerate(batches):
        input_ids = batch.input_ids.to(device)
        attention_mask = batch.attention_mask.to(device)
        with forwards():
            logprobs = batch_logprobs(policy.model, input_ids, attention_mask,
                                      batch.shared_prompt, batch.first_scored)
        ref: torch.Tensor | None = None
        if reference is not None and loss.kl_coef > 0:
            with torch.no_grad(), forwards():
                ref = batch_logprobs(reference.model, input_ids, attention_mask,
                                     batch.shared_prompt, batch.first_scored)
        rollout = batch.old_logprobs.to(device)
        old = rollout if old_logprobs == "rollout" else logprobs.detach()
        mask = batch.loss_mask.to(device)
        value, metrics = grpo_loss(logprobs, old, batch.advantages.to(device), mask,
                                   clip=loss.clip, kl_coef=loss.kl_coef, ref_logprobs=ref)
        share = batch.tokens / total
        (value * share).backward()  # type: ignore[no-untyped-call]
        sums["loss"] = sums.get("loss", 0.0) + float(value.detach()) * share
        for key in ("policy_loss", "kl", "clip_fraction", "ratio_mean"):
            sums[key] = sums.get(key, 0.0) + metrics[key] * share
        with torch.no_grad(), forwards():
            for key, found in _diagnostics(policy, reference, batch, input_ids, attention_mask,
                                           logprobs.detach(), rollout, mask, ref,
                                           index in measured).items():
                if key == "kl_to_start":  # a mean over the measured batches only
                    sums[key] = sums.get(key, 0.0) + found * batch.tokens / max(kl_tokens, 1)
                elif key.endswith("_max"):
                    sums[key] = max(sums.get(key, found), found)
                elif key.endswith("_min"):
                    sums[key] = min(sums.get(key, found), found)
                else:
                    sums[key] = sums.get(key, 0.0) + found * share
    sums["grad_norm"] = optimizer_step(policy, loss.max_grad_norm)
    sums["tokens"] = float(total)
    return sums


def _kl_batches(batches: Sequence[PackedBatch], total: int, loss: LossConfig) -> set[int]:
    """The indices of the batches on which `kl_to_start` is measured: all of them when the
    loss computes the reference log-probs anyway (`kl_coef > 0`), otherwise every k-th
    batch, k chosen so that about `loss.kl_diagnostic_tokens` tokens are measured."""
    if loss.kl_coef > 0:
        return set(range(len(batches)))
    if loss.kl_diagnostic_tokens == 0:
        return set()
    stride = max(1, round(total / loss.kl_diagnostic_tokens))
    return set(range(0, len(batches), stride))


def _diagnostics(policy: Policy, reference: Policy | None, batch: PackedBatch,
                 input_ids: torch.Tensor,
                 attention_mask: torch.Tensor, logprobs: torch.Tensor, old: torch.Tensor,
                 mask: torch.Tensor, ref: torch.Tensor | None,
                 measure_kl: bool) -> dict[str, float]:
    """One micro-batch's diagnostics (see `update_policy`); `kl_to_start` only when
    `measure_kl`."""
    import torch

    where = mask > 0
    tokens = mask.sum().clamp(min=1.0)
    gap = (logprobs - old).abs()
    ratio = torch.exp(logprobs - old)
    found = {"entropy": float((-old * mask).sum() / tokens),
             "logprob_gap_mean": float((gap * mask).sum() / tokens),
             "logprob_gap_max": float(gap[where].max()) if bool(where.any()) else 0.0,
             "ratio_min": float(ratio[where].min()) if bool(where.any()) else 1.0,
             "ratio_max": float(ratio[where].max()) if bool(where.any()) else 1.0}
    if not measure_kl:
        return found
    start = ref
    if start is None and reference is not None:
        start = batch_logprobs(reference.model, input_ids, attention_mask, batch.shared_prompt,
                               batch.first_scored)
    if start is None and hasattr(policy.model, "disable_adapter"):  # LoRA: the base model
        with policy.model.disable_adapter():
            start = batch_logprobs(policy.model, input_ids, attention_mask,
                                   batch.shared_prompt, batch.first_scored)
    if start is not None:
        delta = start - logprobs
        found["kl_to_start"] = float(((torch.exp(delta) - delta - 1.0) * mask).sum() / tokens)
    return found

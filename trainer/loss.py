"""The GRPO clipped surrogate on per-token advantages (torch; import this module lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def grpo_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
              mask: torch.Tensor, clip: float = 0.2, kl_coef: float = 0.0,
              ref_logprobs: torch.Tensor | None = None,
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped policy-gradient loss, aggregated as a mean over every unmasked token of
    the batch (token-mean, so long completions weigh by their length).

    All tensors share one shape (e.g. `[batch, tokens]`). `logprobs` are the current policy's
    log-probabilities of the sampled tokens (with grad); `old_logprobs` those recorded at
    rollout time, so `ratio = exp(logprobs - old_logprobs)`; `advantages` are per-token (see
    `trainer.credit`); `mask` is 1 for tokens that carry loss (the active role's completion
    tokens) and 0 elsewhere. Per token the loss is
    `-min(ratio * A, clamp(ratio, 1 - clip, 1 + clip) * A)`, plus, when `kl_coef > 0`,
    `kl_coef * k3` with the k3 estimator `exp(r - l) - (r - l) - 1` of KL(policy || reference)
    (`r` = `ref_logprobs`, `l` = `logprobs`; non-negative, unbiased).

    Metrics (floats): `policy_loss`, `kl` (token-mean k3, 0 without a reference),
    `clip_fraction` (share of tokens whose clipped branch was taken, i.e. no gradient),
    `ratio_mean`, `tokens`.
    """
    import torch

    if kl_coef > 0.0 and ref_logprobs is None:
        raise ValueError("kl_coef > 0 needs ref_logprobs")
    mask = mask.to(logprobs.dtype)
    tokens = mask.sum().clamp(min=1.0)
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    per_token = -torch.minimum(unclipped, clipped)
    policy_loss = (per_token * mask).sum() / tokens
    loss = policy_loss
    kl_value = 0.0
    if ref_logprobs is not None:
        delta = ref_logprobs - logprobs
        kl = torch.exp(delta) - delta - 1.0
        kl_mean = (kl * mask).sum() / tokens
        kl_value = float(kl_mean.detach())
        if kl_coef > 0.0:
            loss = loss + kl_coef * kl_mean
    with torch.no_grad():
        clip_taken = (clipped < unclipped).to(mask.dtype)
        metrics = {
            "policy_loss": float(policy_loss.detach()),
            "kl": kl_value,
            "clip_fraction": float((clip_taken * mask).sum() / tokens),
            "ratio_mean": float((ratio * mask).sum() / tokens),
            "tokens": float(mask.sum()),
        }
    return loss, metrics

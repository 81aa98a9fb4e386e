"""Pack token-level training samples of both roles into padded tensors for the loss.

A `TokenSample` is one completion (a design, or one executor turn) with the prompt it was
sampled from, the rollout's log-probabilities and the per-token advantages from
`trainer.credit`. `pack` keeps the samples of the active roles (an inactive role's tokens
carry no loss, so they are not even forwarded) and right-pads them into tensors aligned
with `trainer.policy.token_logprobs` (position `t` scores token `t + 1`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trainer.schedule import Role

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class TokenSample:
    """One completion to train on; the per-token tuples have one entry per completion token.

    `forced` marks tokens the rollout's grammar left no choice for (see the engine contract,
    `runtime.engines.base`): the sampling policy gave them probability 1 whatever its
    weights, so they carry no loss. Empty: no token is known to be forced."""

    role: Role
    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]
    old_logprobs: tuple[float, ...]
    advantages: tuple[float, ...]
    forced: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        sizes = {len(self.completion_ids), len(self.old_logprobs), len(self.advantages)}
        if len(sizes) != 1:
            raise ValueError(f"completion ids, old logprobs and advantages differ in length: "
                             f"{len(self.completion_ids)}, {len(self.old_logprobs)}, "
                             f"{len(self.advantages)}")
        if self.forced and len(self.forced) != len(self.completion_ids):
            raise ValueError(f"{len(self.forced)} forced flags for {len(self.completion_ids)} "
                             "completion tokens")
        if not self.prompt_ids:
            raise ValueError("a sample needs at least one prompt token")

    @property
    def chosen(self) -> tuple[bool, ...]:
        """Per completion token: whether the policy chose it (the tokens that carry loss)."""
        if not self.forced:
            return (True,) * len(self.completion_ids)
        return tuple(not forced for forced in self.forced)

    @property
    def teaches(self) -> bool:
        """Whether some token the policy chose carries a non-zero advantage."""
        return any(advantage != 0.0 and chosen
                   for advantage, chosen in zip(self.advantages, self.chosen, strict=True))


@dataclass(frozen=True)
class PackedBatch:
    """Right-padded tensors: `input_ids`/`attention_mask` are `[batch, length]`; `loss_mask`,
    `advantages`, `old_logprobs` are `[batch, length - 1]` (shifted like the logprobs)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    loss_mask: torch.Tensor
    advantages: torch.Tensor
    old_logprobs: torch.Tensor
    shared_prompt: int = 0
    """When > 0, every row starts with the same `shared_prompt` tokens (a GRPO group's
    prompt, or the few-shot prefix of several questions' designer prompts), which the policy
    forwards once for the whole batch (`policy.batch_logprobs`)."""
    first_scored: int = 0
    """Shifted entries before it are prompt positions in every row (the shortest prompt's
    length - 1): the policy computes no logits for them."""

    @property
    def tokens(self) -> int:
        """Completion tokens that carry loss."""
        return int(self.loss_mask.sum())


def select_active(samples: Sequence[TokenSample],
                  active_roles: Collection[Role]) -> list[TokenSample]:
    """The samples whose role is trained at this step, in order."""
    return [sample for sample in samples if sample.role in active_roles]


def micro_batches(samples: Sequence[TokenSample], pad_id: int, micro_batch_size: int,
                  group_size: int = 16, min_shared: int | None = None) -> list[PackedBatch]:
    """The batches one update forwards. Samples with the same prompt (the G samples of a
    GRPO group, the M designs of a question) go together, up to `group_size` a batch, and
    their prompt is forwarded once; the rest are packed `micro_batch_size` at a time, in
    order. With `min_shared`, samples whose prompts merely begin with the same `min_shared`
    or more tokens go together too and share that prefix's forward (all designer prompts of
    a step share the language summary and examples). That is off by default: on one CPU
    core it was slower, not faster, for a co-evolution step's samples (padding the larger
    groups and attending over the repeated cache cost more than the prefix saved;
    `python -m benchmarks.update`)."""
    ordered = sorted(range(len(samples)), key=lambda i: samples[i].prompt_ids)
    groups: list[list[int]] = []  # indices into samples
    prefixes: list[int] = []
    for index in ordered:
        prompt = samples[index].prompt_ids
        if groups and len(groups[-1]) < group_size:
            shared = _common_prefix(samples[groups[-1][0]].prompt_ids, prompt, prefixes[-1])
            if shared == len(prompt) == prefixes[-1] or (
                    min_shared is not None and shared >= min_shared):
                groups[-1].append(index)
                prefixes[-1] = shared
                continue
        groups.append([index])
        prefixes.append(len(prompt))
    batches = [pack([samples[i] for i in group], pad_id, shared_prompt=shared)
               for group, shared in zip(groups, prefixes, strict=True) if len(group) > 1]
    alone = sorted(group[0] for group in groups if len(group) == 1)
    batches.extend(pack([samples[i] for i in alone[k:k + micro_batch_size]], pad_id)
                   for k in range(0, len(alone), micro_batch_size))
    return batches


def _common_prefix(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    """The length of the common prefix of `a` and `b`, at most `limit`."""
    for position in range(min(limit, len(a), len(b))):
        if a[position] != b[position]:
            return position
    return min(limit, len(a), len(b))


def pack(samples: Sequence[TokenSample], pad_id: int, shared_prompt: int = 0) -> PackedBatch:
    """Right-pad `samples` (at least one) into a `PackedBatch`; only completion tokens the
    policy chose (not `forced`) are in the loss mask. `shared_prompt`: the length of a
    prompt prefix all samples share (see `PackedBatch.shared_prompt`)."""
    import torch

    if not samples:
        raise ValueError("nothing to pack")
    length = max(len(s.prompt_ids) + len(s.completion_ids) for s in samples)
    rows = len(samples)
    input_ids = torch.full((rows, length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((rows, length), dtype=torch.long)
    loss_mask = torch.zeros((rows, length - 1), dtype=torch.float32)
    advantages = torch.zeros((rows, length - 1), dtype=torch.float32)
    old_logprobs = torch.zeros((rows, length - 1), dtype=torch.float32)
    for row, sample in enumerate(samples):
        ids = sample.prompt_ids + sample.completion_ids
        input_ids[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, :len(ids)] = 1
        # completion token k sits at position len(prompt) + k, scored at shifted index - 1
        first, last = len(sample.prompt_ids) - 1, len(ids) - 1
        loss_mask[row, first:last] = torch.tensor(sample.chosen, dtype=torch.float32)
        advantages[row, first:last] = torch.tensor(sample.advantages, dtype=torch.float32)
        old_logprobs[row, first:last] = torch.tensor(sample.old_logprobs, dtype=torch.float32)
    if shared_prompt and any(s.prompt_ids[:shared_prompt] != samples[0].prompt_ids[
            :shared_prompt] or len(s.prompt_ids) < shared_prompt for s in samples):
        raise ValueError(f"the rows do not share a prompt prefix of {shared_prompt} tokens")
    first_scored = min(len(s.prompt_ids) for s in samples) - 1
    return PackedBatch(input_ids, attention_mask, loss_mask, advantages, old_logprobs,
                       shared_prompt, first_scored)

"""Per-token advantages of one OpenRLHF step, laid out as OpenRLHF `Experience` rows.

OpenRLHF gives each sample one scalar reward on its last token. Our credit differs per DSL
node (designer tokens) and per executor turn, and executor turns are sequences of their own
(each turn was sampled from its own prompt, so it cannot share a row with the design). So a
step's units become rows here:

1. `step_samples`: the units are grouped by question; `trainer.assign.question_samples` (the
   CPU trainer's one credit function) gives every design token and every executor turn its
   advantage as `TokenSample`s. Roles the schedule does not train at this step produce no
   rows.
2. `advantage_row`: a `TokenSample` in OpenRLHF's layout: `sequences` = prompt + completion
   (cut at `max_len`), and the per-step tensors (`action_mask`, `rollout_log_probs`,
   `advantages`) of length `len(sequences) - 1`, position `i` scoring token `i + 1`.
3. `build_experience`: the row as an `Experience` with `advantages` already filled; the
   experience maker (`trainer.openrlhf.install`) keeps them (`finalize_advantages`) instead
   of computing them from the scalar reward.
4. `pad_to_multiple`: the number of rows varies from step to step (one per design, one per
   executor turn), but OpenRLHF needs every step to be whole train batches: each actor rank
   must run the same number of micro-batches (or the collectives deadlock), none may be
   dropped (`drop_last`) and gradient accumulation must not straddle two steps. Copies of
   real rows with an all-zero action mask fill the last batch; OpenRLHF's loss normalisers
   count only masked-in tokens and sequences, so they change nothing but the row count.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trainer.assign import question_samples
from trainer.batch import TokenSample
from trainer.config import CreditConfig
from trainer.schedule import Role

if TYPE_CHECKING:
    from trainer.openrlhf.unit import UnitRecord

DESIGNER_KEY = "masdsl/designer"
"""`Experience.info` key: 1.0 on designer rows, 0.0 on executor rows (logged per role)."""

PADDING_KEY = "masdsl/padding"
"""`Experience.info` key: 1.0 on the zero-mask rows that fill the last train batch."""


@dataclass(frozen=True)
class StepSample:
    """A row to train on, with the reward it is logged with and its question."""

    sample: TokenSample
    reward: float
    group: str


def group_units(records: Sequence[UnitRecord]) -> list[list[UnitRecord]]:
    """The units of each question (by `group`), questions in order of first appearance."""
    groups: dict[str, list[UnitRecord]] = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    return list(groups.values())


def step_samples(records: Sequence[UnitRecord], credit: CreditConfig,
                 roles: Collection[Role]) -> list[StepSample]:
    """Every row of a step for the active `roles`: per question, the designs (one row each,
    per-token advantages by DSL node) and the executor turns (one row each, the turn's
    advantage on every token), credited by `trainer.assign.question_samples` exactly as on
    the CPU. Designs without tokens and empty turns give no row."""
    return [StepSample(row.sample, row.reward, units[0].group)
            for units in group_units(records)
            for row in question_samples(units, credit, roles)]


@dataclass(frozen=True)
class AdvantageRow:
    """One sample in OpenRLHF's layout (lists; `build_experience` makes the tensors)."""

    sequence: tuple[int, ...]
    action_mask: tuple[int, ...]
    rollout_logprobs: tuple[float, ...]
    advantages: tuple[float, ...]
    truncated: bool


def advantage_row(sample: TokenSample, max_len: int) -> AdvantageRow:
    """Lay a `TokenSample` out as OpenRLHF does: the per-step lists are shifted by one (entry
    `i` belongs to token `i + 1`), zero on prompt positions and in the action mask of forced
    tokens (`TokenSample.forced`), and everything is cut so the sequence has at most `max_len`
    tokens."""
    if max_len < 2:
        raise ValueError(f"max_len must be at least 2, got {max_len}")
    prompt = len(sample.prompt_ids)
    sequence = (*sample.prompt_ids, *sample.completion_ids)
    steps = len(sequence) - 1
    mask = [0] * steps
    logprobs = [0.0] * steps
    advantages = [0.0] * steps
    for index, (logprob, advantage, chosen) in enumerate(zip(
            sample.old_logprobs, sample.advantages, sample.chosen, strict=True)):
        position = prompt + index - 1
        mask[position] = int(chosen)
        logprobs[position] = logprob
        advantages[position] = advantage
    keep = min(len(sequence), max_len)
    return AdvantageRow(sequence=sequence[:keep], action_mask=tuple(mask[: keep - 1]),
                        rollout_logprobs=tuple(logprobs[: keep - 1]),
                        advantages=tuple(advantages[: keep - 1]),
                        truncated=keep < len(sequence))


def build_experience(step: StepSample, max_len: int) -> Any:
    """An OpenRLHF `Experience` (batch of one) for a row, `advantages` filled in. Every row
    carries the same `info` keys, so OpenRLHF can concatenate rows of both roles."""
    import torch
    from openrlhf.trainer.ppo_utils.experience import Experience

    row = advantage_row(step.sample, max_len)
    length = len(row.sequence)
    mask = torch.tensor([row.action_mask], dtype=torch.long)
    completion = int(mask.sum().item())
    reward = torch.tensor([step.reward], dtype=torch.float32)
    designer = step.sample.role == Role.DESIGNER
    return Experience(
        sequences=torch.tensor([row.sequence], dtype=torch.long),
        attention_mask=torch.ones((1, length), dtype=torch.long),
        action_mask=mask,
        rollout_log_probs=torch.tensor([row.rollout_logprobs], dtype=torch.float32),
        advantages=torch.tensor([row.advantages], dtype=torch.float32),
        rewards=reward, scores=reward.clone(),
        response_length=torch.tensor([completion]), truncated=torch.tensor([row.truncated]),
        total_length=torch.tensor([float(length)]),
        prompts=[step.group], labels=[step.group], images=[None], mm_train_inputs=[None],
        info={"reward": reward.clone(), "score": reward.clone(),
              "response_clip_ratio": torch.tensor([row.truncated]),
              DESIGNER_KEY: torch.tensor([1.0 if designer else 0.0]),
              PADDING_KEY: torch.tensor([0.0])})


def padding_experience(experience: Any) -> Any:
    """A copy of a one-row `Experience` that trains nothing: action mask and advantages all
    zero, `info[PADDING_KEY] = 1`. The sequence and the logged values stay those of a real
    row, so the forward passes and the per-step statistics look like the real rows'."""
    import dataclasses

    import torch

    info = {key: value.clone() if isinstance(value, torch.Tensor) else value
            for key, value in experience.info.items()}
    info[PADDING_KEY] = torch.tensor([1.0])
    return dataclasses.replace(
        experience,
        sequences=experience.sequences.clone(),
        attention_mask=experience.attention_mask.clone(),
        action_mask=torch.zeros_like(experience.action_mask),
        advantages=torch.zeros_like(experience.advantages),
        info=info)


def pad_to_multiple(rows: Sequence[Any], multiple: int) -> list[Any]:
    """`rows` followed by padding rows (copies of the first rows, in turn) up to the next
    multiple of `multiple` (OpenRLHF's `--train.batch_size`). No rows stay no rows."""
    if multiple < 1:
        raise ValueError(f"the train batch size must be at least 1, got {multiple}")
    missing = -len(rows) % multiple
    return [*rows, *(padding_experience(rows[index % len(rows)]) for index in range(missing))]


def finalize_advantages(experiences: Sequence[Any]) -> list[Any]:
    """What our experience maker does instead of OpenRLHF's advantage computation: keep the
    pre-filled per-token advantages (zero outside the action mask), use them as returns, log
    the reward as the return, and drop the KL tensor as OpenRLHF does."""
    import torch

    for experience in experiences:
        if experience.advantages is None:
            raise ValueError("an experience without masdsl advantages reached the masdsl "
                             "experience maker (was the sample generator installed?)")
        mask = experience.action_mask.to(torch.float32)
        advantages = experience.advantages.to(torch.float32)[:, : mask.shape[1]] * mask
        experience.advantages = advantages
        experience.returns = advantages.clone()
        experience.info["return"] = experience.rewards.to(torch.float32)
        experience.kl = None
    return list(experiences)

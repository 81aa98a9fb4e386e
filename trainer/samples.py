"""Bridge rollout records to credit and loss: runtime turns -> `ExecutionSample`, and
advantages -> `TokenSample`s for `trainer.batch`.

Executor turns come from the runtime's trace (`runtime.trace.TurnRecord`: IR node id, prompt
and completion token ids, rollout logprobs); whether a turn's node can reach an output comes
from the compiled IR (`reaches_output`). Designer completions come from the engine
(`runtime.engines.base.Completion`)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from trainer.batch import TokenSample
from trainer.credit import ExecutionSample, Turn
from trainer.schedule import Role


def _check_tokens(where: str, token_ids: Sequence[int], logprobs: Sequence[float]) -> None:
    if len(token_ids) != len(logprobs):
        raise ValueError(f"{where}: {len(token_ids)} completion tokens but {len(logprobs)} "
                         "logprobs (the engine must return token ids and logprobs to train)")


def execution_sample(design_id: Hashable, reward: float, turns: Sequence[Any],
                     ir: Any) -> ExecutionSample:
    """An `ExecutionSample` from one execution's turn records (in order) and the design's
    IR. A turn whose node is absent from the IR or not annotated counts as unreachable."""
    reaches = {node.id: bool(node.reaches_output) for node in ir.nodes()}
    return ExecutionSample(design_id=design_id, reward=reward, turns=tuple(
        Turn(node_id=turn.node_id, reaches_output=reaches.get(turn.node_id, False),
             token_count=len(turn.completion_token_ids)) for turn in turns))


def executor_token_samples(turns: Sequence[Any],
                           turn_advantages: Sequence[float]) -> list[TokenSample]:
    """One executor `TokenSample` per turn record, every completion token carrying its
    turn's advantage. Turns with no completion tokens are skipped."""
    if len(turns) != len(turn_advantages):
        raise ValueError(f"{len(turn_advantages)} advantages for {len(turns)} turns")
    samples = []
    for turn, advantage in zip(turns, turn_advantages, strict=True):
        _check_tokens(f"turn {turn.execution_id}/{turn.node_id}/{turn.turn_index}",
                      turn.completion_token_ids, turn.logprobs)
        if not turn.completion_token_ids:
            continue
        samples.append(TokenSample(
            role=Role.EXECUTOR, prompt_ids=tuple(turn.prompt_token_ids),
            completion_ids=tuple(turn.completion_token_ids),
            old_logprobs=tuple(turn.logprobs),
            advantages=(advantage,) * len(turn.completion_token_ids)))
    return samples


def designer_token_sample(completion: Any, token_advantages: Sequence[float]) -> TokenSample:
    """The designer `TokenSample` of one completion (`prompt_token_ids`, `token_ids`,
    `logprobs`) with its per-token advantages (`trainer.credit.designer_token_advantages`)."""
    _check_tokens("designer completion", completion.token_ids, completion.logprobs)
    if len(token_advantages) != len(completion.token_ids):
        raise ValueError(f"{len(token_advantages)} advantages for "
                         f"{len(completion.token_ids)} completion tokens")
    return TokenSample(role=Role.DESIGNER, prompt_ids=tuple(completion.prompt_token_ids),
                       completion_ids=tuple(completion.token_ids),
                       old_logprobs=tuple(completion.logprobs),
                       advantages=tuple(token_advantages),
                       forced=tuple(getattr(completion, "forced", ())))

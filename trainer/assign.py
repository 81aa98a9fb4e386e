"""Credit for one question's rollout, with the options of a `CreditConfig`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trainer.config import CreditConfig
from trainer.credit import (
    DesignSample,
    ExecutionSample,
    designer_advantages,
    designer_token_advantages,
    executor_turn_advantages,
)


@dataclass(frozen=True)
class QuestionCredit:
    """Advantages for one question: per design (scalar and per token, aligned with the
    designs) and per execution turn (aligned with the executions, then their turns)."""

    design_advantages: tuple[float, ...]
    designer_tokens: tuple[tuple[float, ...], ...]
    executor_turns: tuple[tuple[float, ...], ...]


def assign_credit(designs: Sequence[DesignSample], executions: Sequence[ExecutionSample],
                  credit: CreditConfig) -> QuestionCredit:
    """Apply `trainer.credit` to the M designs and their executions of ONE question."""
    if len({design.question_id for design in designs}) > 1:
        raise ValueError("assign_credit takes the designs of one question")
    known = {design.design_id for design in designs}
    stray = [e.design_id for e in executions if e.design_id not in known]
    if stray:
        raise ValueError(f"executions of unknown designs: {stray[:3]}")
    scalar = designer_advantages(designs, executions, credit.compile_penalty, credit.eps,
                                 credit.normalise_std)
    tokens = tuple(tuple(designer_token_advantages(design, advantage, credit.designer_mode,
                                                   credit.unlocalised_weight))
                   for design, advantage in zip(designs, scalar, strict=True))
    turns = executor_turn_advantages(executions, credit.executor_mode, credit.eps,
                                     credit.normalise_std)
    return QuestionCredit(design_advantages=tuple(scalar), designer_tokens=tokens,
                          executor_turns=tuple(tuple(t) for t in turns))

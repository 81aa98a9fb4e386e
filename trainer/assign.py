"""Credit for one question's rollout, with the options of a `CreditConfig`, and the one place
where credit becomes token samples (`question_samples`: the CPU loop and the OpenRLHF backend
both call it)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from trainer.batch import TokenSample
from trainer.config import CreditConfig
from trainer.credit import (
    DesignSample,
    ExecutionSample,
    designer_advantages,
    designer_token_advantages,
    executor_turn_advantages,
)
from trainer.samples import designer_token_sample, executor_token_samples
from trainer.schedule import Role


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


class CreditUnit(Protocol):
    """One design of a question as credit needs it: `trainer.episode.DesignRecord` in the
    CPU loop, `trainer.openrlhf.unit.UnitRecord` (plain data that crossed Ray) on GPUs."""

    @property
    def completion(self) -> Any:
        """The designer completion (`prompt_token_ids`, `token_ids`, `logprobs`)."""
        ...

    @property
    def turns(self) -> tuple[tuple[Any, ...], ...]:
        """Each execution's turn records (`runtime.trace.TurnRecord`), in order."""
        ...

    def design_sample(self) -> DesignSample: ...

    def execution_samples(self) -> tuple[ExecutionSample, ...]: ...


@dataclass(frozen=True)
class CreditedSample:
    """A token sample to train on and the reward it is logged with: the design's return on
    designer rows, the execution's reward on executor rows."""

    sample: TokenSample
    reward: float


def question_samples(units: Sequence[CreditUnit], credit: CreditConfig,
                     roles: Collection[Role] = (Role.DESIGNER, Role.EXECUTOR),
                     ) -> list[CreditedSample]:
    """Credit the M designs of ONE question and return the token samples of `roles`: one per
    design with tokens (per-token advantages), then one per executor turn with tokens (the
    turn's advantage on each token)."""
    designs = [unit.design_sample() for unit in units]
    executions = [execution for unit in units for execution in unit.execution_samples()]
    turns = [turn_list for unit in units for turn_list in unit.turns]
    result = assign_credit(designs, executions, credit)
    rows: list[CreditedSample] = []
    if Role.DESIGNER in roles:
        for unit, tokens in zip(units, result.designer_tokens, strict=True):
            if unit.completion.token_ids:
                own = [e.reward for e in unit.execution_samples()]
                design_return = sum(own) / len(own) if own else credit.compile_penalty
                rows.append(CreditedSample(designer_token_sample(unit.completion, tokens),
                                           design_return))
    if Role.EXECUTOR in roles:
        for execution, turn_list, advantages in zip(executions, turns, result.executor_turns,
                                                    strict=True):
            rows.extend(CreditedSample(sample, execution.reward)
                        for sample in executor_token_samples(turn_list, advantages))
    return rows

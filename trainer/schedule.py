"""Which role(s) the trainer updates at each step (stagewise co-evolution and ablations)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

ScheduleKind = Literal["stagewise", "coupled", "designer_only", "executor_only"]


class Role(StrEnum):
    """The two roles one policy (or two) plays: writing designs and running them."""

    DESIGNER = "designer"
    EXECUTOR = "executor"


BOTH = frozenset({Role.DESIGNER, Role.EXECUTOR})


@dataclass(frozen=True)
class Schedule:
    """A training schedule over 0-based step indices.

    `stagewise`: executor-only and designer-only phases of `switch_every` steps alternate,
    starting with `first` (executor first: steps 0..K-1 executor, K..2K-1 designer, ...).
    MetaAgent-X found K=30 best and switching every step unstable. Designer first suits a base
    model whose executor cannot learn from the designs it writes at the start (see
    docs/training.md). `coupled` trains both roles every step;
    `designer_only` / `executor_only` train one role (ablations). Tokens of an inactive role
    carry no loss.
    """

    kind: ScheduleKind = "stagewise"
    switch_every: int = 30
    first: Role = Role.EXECUTOR

    def __post_init__(self) -> None:
        if self.kind not in ("stagewise", "coupled", "designer_only", "executor_only"):
            raise ValueError(f"unknown schedule kind {self.kind!r}")
        if self.switch_every < 1:
            raise ValueError(f"switch_every must be >= 1, got {self.switch_every}")

    def active_roles(self, step: int) -> frozenset[Role]:
        """The roles whose tokens carry loss at `step` (0-based)."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if self.kind == "coupled":
            return BOTH
        if self.kind == "designer_only":
            return frozenset({Role.DESIGNER})
        if self.kind == "executor_only":
            return frozenset({Role.EXECUTOR})
        second = Role.DESIGNER if self.first == Role.EXECUTOR else Role.EXECUTOR
        phase = (step // self.switch_every) % 2
        return frozenset({self.first if phase == 0 else second})

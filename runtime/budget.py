"""Per-execution budgets: LLM calls, generated tokens and wall time.

The scheduler charges every LLM call to its execution's `BudgetTracker` before making it; the
first charge past a limit raises `BudgetExceeded`, which ends that execution (recorded as
`budget_exceeded`) without touching the other executions of the batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """Limits for one execution; None means unlimited."""

    max_llm_calls: int | None = 256
    max_tokens: int | None = 200_000
    max_wall_s: float | None = 600.0


class BudgetExceeded(Exception):
    """An execution hit one of its limits."""


class BudgetTracker:
    """Counts what one execution has used and enforces its `Budget`."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.clock = clock
        self.started = clock()
        self.llm_calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining_wall(self) -> float | None:
        if self.budget.max_wall_s is None:
            return None
        return self.budget.max_wall_s - self.elapsed()

    def before_call(self, max_new_tokens: int) -> int:
        """Charge one LLM call; return how many tokens it may generate (its `max_tokens`,
        lowered to what is left of the token budget)."""
        if self.budget.max_llm_calls is not None and self.llm_calls >= self.budget.max_llm_calls:
            raise BudgetExceeded(f"LLM-call budget of {self.budget.max_llm_calls} used up")
        remaining = self.remaining_wall()
        if remaining is not None and remaining <= 0:
            raise BudgetExceeded(f"wall-time budget of {self.budget.max_wall_s} s used up")
        allowed = max_new_tokens
        if self.budget.max_tokens is not None:
            left = self.budget.max_tokens - self.completion_tokens
            if left <= 0:
                raise BudgetExceeded(f"token budget of {self.budget.max_tokens} used up")
            allowed = min(allowed, left)
        self.llm_calls += 1
        return allowed

    def after_call(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens

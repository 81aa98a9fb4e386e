"""A role's view of the policy's engine: caps completion length and measures the role's time.

During a rollout the designer and the executor sample from the same engine (the one around
the policy's live weights). `RoleEngine` forwards `generate` to it, lowering every request's
`max_tokens` to the role's `sampling.<role>.max_tokens` (so a design that asks its agents for
512 tokens still runs in a bounded time on a CPU) and recording when the role was busy and how
many tokens it sampled, for the step's time split and tokens/s. It does not own the engine:
`close` leaves it open.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from runtime.engines.base import ChatRequest, Completion


class RoleEngine:
    """Forwards to `engine` with each request's `max_tokens` capped at `max_tokens`."""

    def __init__(self, engine: Any, max_tokens: int, name: str | None = None) -> None:
        self.engine = engine
        self.max_tokens = max_tokens
        self.name = name or engine.name
        self.capabilities = engine.capabilities
        self.first_call: float | None = None
        self.last_return: float | None = None
        self.tokens = 0
        self.calls = 0

    def reset(self) -> None:
        """Forget the recorded times and counts (before a new rollout)."""
        self.first_call = self.last_return = None
        self.tokens = self.calls = 0

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        capped = [request if request.sampling.max_tokens <= self.max_tokens else
                  replace(request, sampling=replace(request.sampling,
                                                    max_tokens=self.max_tokens))
                  for request in requests]
        if self.first_call is None:
            self.first_call = time.perf_counter()
        completions: list[Completion] = await self.engine.generate(capped)
        self.last_return = time.perf_counter()
        self.calls += len(requests)
        self.tokens += sum(len(c.token_ids) for c in completions)
        return completions

    async def close(self) -> None:
        """The engine belongs to the trainer: nothing to release here."""

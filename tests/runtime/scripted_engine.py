"""A test double: an engine that answers from a script instead of a model.

`ScriptedEngine(reply)` calls `reply(request)` for each request; the reply function sees the
system prompt (the agent's role) and the whole conversation, so tests can answer per agent.
It records every request and can be told to fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from runtime.engines.base import Capabilities, ChatRequest, Completion


class ScriptedEngine:
    name = "scripted"
    capabilities = Capabilities(batching=True, logprobs=True, grammar=False, token_ids=True,
                                max_context=1 << 20)

    def __init__(self, reply: Callable[[ChatRequest], str], delay_s: float = 0.0) -> None:
        self.reply = reply
        self.delay_s = delay_s
        self.requests: list[ChatRequest] = []
        self.batches: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        self.requests.extend(requests)
        self.batches.append(len(requests))
        self.in_flight += len(requests)
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= len(requests)
        completions = []
        for request in requests:
            text = self.reply(request)
            tokens = tuple(range(len(text.split())))
            completions.append(Completion(
                text=text, prompt_token_ids=(1, 2, 3), token_ids=tokens,
                logprobs=tuple(-0.5 for _ in tokens), finish_reason="stop"))
        return completions

    async def close(self) -> None:
        return None


def role_of(request: ChatRequest) -> str:
    """The system prompt of a request (starts with the agent's role)."""
    return request.messages[0].content


def last_user(request: ChatRequest) -> str:
    return next(m.content for m in reversed(request.messages) if m.role == "user")

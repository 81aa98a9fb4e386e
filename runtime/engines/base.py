"""The one engine interface: async generation for a batch of chat requests.

An engine turns `ChatRequest`s into `Completion`s with text, token ids, per-token logprobs
and a finish reason. Engines batch concurrent requests themselves (several sequences per
decode step); callers just `await engine.generate([...])` from many tasks at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "error"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion to produce. `grammar` is Lark grammar text (the language's own
    grammar or any other in the same subset) that constrains decoding when set.

    `continue_from` holds token ids of the assistant's reply so far (from earlier completions
    of the same engine): the engine feeds them after the prompt, unchanged, and generates what
    follows, so a reply can be sampled in stages (typed design decoding) without re-tokenizing
    it. Engines without `capabilities.continuation` answer such a request with an error."""

    messages: tuple[Message, ...]
    sampling: Sampling = field(default_factory=Sampling)
    grammar: str | None = None
    continue_from: tuple[int, ...] = ()


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_token_ids: tuple[int, ...]
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish_reason: FinishReason
    prompt_text: str = ""
    error: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do; callers check before asking for it."""

    batching: bool
    logprobs: bool
    grammar: bool
    token_ids: bool
    max_context: int
    continuation: bool = False  # honours `ChatRequest.continue_from`


class EngineError(Exception):
    """An engine failed to serve a request (after its own retries)."""


@runtime_checkable
class Engine(Protocol):
    """Every engine: llama.cpp (the embedded default), transformers, OpenAI-compatible HTTP,
    and vLLM on Ray."""

    name: str
    capabilities: Capabilities

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        """Complete every request; the i-th completion answers the i-th request."""
        ...

    async def close(self) -> None:
        """Release the model, threads, connections or actors the engine holds."""
        ...

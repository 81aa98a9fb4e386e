"""The one engine interface: async generation for a batch of chat requests.

An engine turns `ChatRequest`s into `Completion`s with text, token ids, per-token logprobs
and a finish reason. Engines batch concurrent requests themselves (several sequences per
decode step); callers just `await engine.generate([...])` from many tasks at once.

The completion contract (every engine: llamacpp, transformers, vllm, openai and the OpenRLHF
rollout adapter; `tests/runtime/test_engine_contract.py` runs it over each one present):

1. `text` equals the detokenised `token_ids` with special tokens left out. A stop string cuts
   the token ids too (from the token in which it begins), not just the text.
2. A completion that ends because its grammar finished carries no end-of-turn token: its last
   token is the grammar's last. (Without a grammar, a sampled end-of-turn token is kept: the
   model chose to stop.) So a reply sampled in stages with `continue_from` never holds
   end-of-turn tokens inside it, and its text is the concatenation of its stages' texts.
3. There is one logprob per token: the model's raw log-softmax (temperature 1, before any
   mask), the quantity a trainer recomputes. Engines whose server returns no token ids
   return neither ids nor logprobs.
4. An error completion is built one way only, `Completion.failure(...)`: no text, no tokens,
   `finish_reason="error"` and a message; every other completion has no `error`.
5. `forced` says, per token, whether the grammar allowed no other token at that step (the
   model had no choice, so a trainer gives the token no loss). Engines that apply the mask
   themselves (llamacpp, transformers) report it for every token; engines that cannot see
   the mask (vLLM's guided decoding, remote servers) report none (`()`).
Local engines get rules 1-3 from one per-sequence `decode_state.DecodeState` and their
prompts from one `prompt.PromptEncoder`; `Completion.__post_init__` enforces 3, 4 and the
length of 5.
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


class ContractError(ValueError):
    """A completion that breaks the engine contract (a bug in the engine, not user input)."""


@dataclass(frozen=True)
class Completion:
    """One finished request (see the contract in the module docstring)."""

    text: str
    prompt_token_ids: tuple[int, ...]
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]
    finish_reason: FinishReason
    prompt_text: str = ""
    error: str | None = None
    forced: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        if len(self.logprobs) != len(self.token_ids):
            raise ContractError(f"{len(self.logprobs)} logprobs for {len(self.token_ids)} "
                                "tokens: the contract is one logprob per token")
        if self.forced and len(self.forced) != len(self.token_ids):
            raise ContractError(f"{len(self.forced)} forced flags for {len(self.token_ids)} "
                                "tokens: the contract is one per token, or none")
        if (self.finish_reason == "error") != (self.error is not None):
            raise ContractError("finish_reason 'error' goes with an error message and only "
                                "with one: build failures with Completion.failure()")
        if self.error is not None and (self.text or self.token_ids):
            raise ContractError("an error completion carries no text or tokens: build it "
                                "with Completion.failure()")

    @classmethod
    def failure(cls, message: str, prompt_text: str = "",
                prompt_token_ids: tuple[int, ...] = ()) -> Completion:
        """The one way to report a per-request failure without disturbing other requests."""
        return cls(text="", prompt_token_ids=prompt_token_ids, token_ids=(), logprobs=(),
                   finish_reason="error", prompt_text=prompt_text, error=message)


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

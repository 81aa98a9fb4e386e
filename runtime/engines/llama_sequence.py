"""The decoding state of one request inside the llama.cpp engine's batch.

A `DecodingSequence` is mutable on purpose: the worker thread advances it one token per decode
step (feeding prompt chunks, then sampled tokens) until EOS, a stop string, the grammar's end,
or `max_tokens`, and then turns it into an immutable `Completion`. Only the worker touches it.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from runtime.engines.base import ChatRequest, Completion, FinishReason
from runtime.engines.grammar_constraint import SequenceMatcher
from runtime.engines.llama_native import BatchEntry


@dataclass
class DecodingSequence:
    """One admitted request: its KV slot, what is left to feed, and what it generated."""

    request: ChatRequest
    future: Future[Completion]
    slot: int
    prompt_text: str
    prompt_tokens: tuple[int, ...]
    max_tokens: int
    generator: np.random.Generator
    matcher: SequenceMatcher | None = None
    pending: list[int] = field(default_factory=list)
    position: int = 0
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    text_bytes: bytearray = field(default_factory=bytearray)
    finish_reason: FinishReason | None = None
    error: str | None = None
    stop_at: int | None = None

    def __post_init__(self) -> None:
        self.pending = list(self.prompt_tokens)

    def take_batch_entries(self, budget: int) -> list[BatchEntry]:
        """Up to `budget` pending tokens for the next decode step; logits are requested only
        for the last pending token (the one the next sample conditions on)."""
        count = min(budget, len(self.pending))
        entries = [
            BatchEntry(
                token=token,
                sequence=self.slot,
                position=self.position + offset,
                want_logits=(offset == len(self.pending) - 1),
            )
            for offset, token in enumerate(self.pending[:count])
        ]
        del self.pending[:count]
        self.position += count
        return entries

    def accept(
        self,
        token: int,
        logprob: float,
        piece: bytes,
        is_end_of_generation: bool,
    ) -> None:
        """Record a sampled token and decide whether the sequence is finished."""
        self.token_ids.append(token)
        self.logprobs.append(logprob)
        if self.matcher is not None:
            self.matcher.consume(token)
        if is_end_of_generation:
            self.finish_reason = "stop"
            return
        self.text_bytes.extend(piece)
        stop_at = self._find_stop()
        if stop_at is not None:
            self.stop_at = stop_at
            self.finish_reason = "stop"
        elif self.matcher is not None and self.matcher.is_finished():
            self.finish_reason = "stop"
        elif len(self.token_ids) >= self.max_tokens:
            self.finish_reason = "length"
        else:
            self.pending.append(token)

    def fail(self, message: str) -> None:
        self.finish_reason = "error"
        self.error = message

    def _find_stop(self) -> int | None:
        stops = self.request.sampling.stop
        if not stops:
            return None
        text = self.text_bytes.decode("utf-8", "ignore")
        found = [index for index in (text.find(stop) for stop in stops if stop) if index >= 0]
        return min(found) if found else None

    def completion(self) -> Completion:
        """The finished request's result. Text excludes control tokens and anything from the
        first stop string on; token ids and logprobs include every sampled token (EOS too)."""
        text = self.text_bytes.decode("utf-8", "replace")
        if self.stop_at is not None:
            text = self.text_bytes.decode("utf-8", "ignore")[: self.stop_at]
        return Completion(
            text=text,
            prompt_token_ids=self.prompt_tokens,
            token_ids=tuple(self.token_ids),
            logprobs=tuple(self.logprobs),
            finish_reason=self.finish_reason or "length",
            prompt_text=self.prompt_text,
            error=self.error,
        )


def error_completion(
    message: str, prompt_text: str = "", prompt_tokens: tuple[int, ...] = ()
) -> Completion:
    """A completion that reports a per-request failure without affecting other requests."""
    return Completion(
        text="",
        prompt_token_ids=prompt_tokens,
        token_ids=(),
        logprobs=(),
        finish_reason="error",
        prompt_text=prompt_text,
        error=message,
    )

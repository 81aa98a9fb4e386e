"""One request inside the llama.cpp engine's batch: its KV slot, what is left to feed, and
its shared decode state.

A `DecodingSequence` is mutable on purpose: the worker thread feeds its prompt chunks, then each
sampled token, one decode step at a time, until its `DecodeState` (the rules every local
engine shares: end of turn, grammar end, stop strings, max tokens) says it is finished; the
state then builds the `Completion`. Only the worker touches it.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from runtime.engines.base import Completion
from runtime.engines.decode_state import DecodeState
from runtime.engines.grammar_constraint import SequenceMatcher
from runtime.engines.llama_native import BatchEntry


@dataclass
class DecodingSequence:
    """One admitted request: its KV slot, pending tokens, sampler and decode state."""

    state: DecodeState
    future: Future[Completion]
    slot: int
    generator: np.random.Generator
    pending: list[int] = field(default_factory=list)
    position: int = 0
    fed: list[int] = field(default_factory=list)
    """Every token fed into the slot's KV cells so far, in position order."""

    def __post_init__(self) -> None:
        self.pending = list(self.state.prompt_token_ids)

    def start_at(self, slot: int, reused: int) -> None:
        """Take `slot`, whose KV cells already hold the first `reused` prompt tokens."""
        self.slot = slot
        self.fed = list(self.state.prompt_token_ids[:reused])
        self.pending = list(self.state.prompt_token_ids[reused:])
        self.position = reused

    @property
    def matcher(self) -> SequenceMatcher | None:
        matcher = self.state.matcher
        assert matcher is None or isinstance(matcher, SequenceMatcher)
        return matcher

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
        self.fed.extend(self.pending[:count])
        del self.pending[:count]
        self.position += count
        return entries

    def accept(self, token: int, logprob: float, forced: bool = False) -> None:
        """Record a sampled token; if the sequence goes on, the token is fed next."""
        self.state.accept(token, logprob, forced)
        if not self.state.finished:
            self.pending.append(token)

"""Which KV slot a new request takes, and how much of its prompt is already computed there.

When a sequence finishes, the llama.cpp engine keeps its KV cells instead of freeing them, and
this table remembers the tokens they hold. A later request whose prompt starts with the same
tokens takes that slot, the cells past the common prefix are dropped, and only the rest of
the prompt is fed. Two cases make this pay off on every rollout:

- typed decoding continues one reply in stages (`ChatRequest.continue_from`): stage k+1's
  prompt is stage k's prompt plus what stage k sampled, so only the last sampled token is fed
  again instead of the whole prompt (no second prefill);
- designs of one question, and executions of one system, share their system prompt, few-shot
  examples and question: any free slot that last held one of them already holds that prefix.

Among the free slots a request takes the one sharing the longest prefix; with none shared it
takes the least recently used one, so the most useful caches live longest. The KV cells are
a function of the tokens before them and of the weights: the engine clears this table
whenever the weights change or the cache is cleared (`forget_all`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

WAIT_FOR_PREFILL_TOKENS = 64
"""A request waits for a running sequence to finish prefilling a prefix it shares when that
saves at least this many tokens over what the idle slots hold now."""


@dataclass(frozen=True)
class SlotChoice:
    """A free slot for a request, and how many of its prompt tokens it starts with."""

    slot: int
    reused: int
    """Prompt tokens whose KV cells are kept (always fewer than the prompt's length, so the
    last prompt token is fed again and yields the logits of the first sample)."""
    source: int | None = None
    """A running sequence's slot whose cells are copied into `slot` first (None: `slot`'s
    own idle cells are kept)."""


@dataclass(frozen=True)
class Running:
    """What a running sequence's KV cells hold now, and the prompt they will hold."""

    fed: Sequence[int]
    prompt: Sequence[int]


class SlotPrefixCache:
    """The tokens held by the KV cells of each idle slot (worker thread only)."""

    def __init__(self, slots: int, enabled: bool = True) -> None:
        self.enabled = enabled
        self._held: list[tuple[int, ...]] = [() for _ in range(slots)]
        self._last_use: list[int] = [0] * slots
        self._clock = 0
        self.reused_tokens = 0
        """Prompt tokens not fed again thanks to the cache, since the engine started."""
        self.prompt_tokens = 0
        """Prompt tokens of every admitted request, since the engine started."""

    def plan(self, prompt: Sequence[int], free: Iterable[int],
             running: Mapping[int, Running] | None = None) -> SlotChoice | None:
        """Where `prompt` starts: the free slot whose idle cells share the longest prefix, or
        a copy of a running sequence's cells when they share more; None when a running
        sequence is still prefilling a prefix that would save `WAIT_FOR_PREFILL_TOKENS`
        (the request should wait for it). Raises `ValueError` without a free slot."""
        slots = list(free)
        if not slots:
            raise ValueError("no free slot")
        limit = max(len(prompt) - 1, 0)
        own = max(slots, key=lambda slot: self._key(slot, prompt, limit))
        best = SlotChoice(own, min(_common_prefix(self._held[own], prompt), limit)
                          if self.enabled else 0)
        if self.enabled and running:
            spare = max(slots, key=lambda slot: self._key(slot, (), limit))
            for source, sequence in running.items():
                now = min(_common_prefix(sequence.fed, prompt), limit)
                later = min(_common_prefix(sequence.prompt, prompt), limit)
                if later - max(best.reused, now) >= WAIT_FOR_PREFILL_TOKENS:
                    return None
                if now > best.reused:
                    best = SlotChoice(spare, now, source)
        self._clock += 1
        self._last_use[best.slot] = self._clock
        self._held[best.slot] = ()  # busy until `release`
        self.prompt_tokens += len(prompt)
        self.reused_tokens += best.reused
        return best

    def _key(self, slot: int, prompt: Sequence[int], limit: int) -> tuple[int, int]:
        """Longest shared prefix first; then an empty slot; then the least recently used."""
        shared = min(_common_prefix(self._held[slot], prompt), limit)
        return shared, (-self._last_use[slot] if self._held[slot] else 1)

    def release(self, slot: int, held: Sequence[int]) -> None:
        """`slot` is idle again; its KV cells hold `held` (every token fed into it)."""
        self._held[slot] = tuple(held) if self.enabled else ()

    def forget(self, slot: int) -> None:
        """`slot`'s cells were freed."""
        self._held[slot] = ()

    def forget_all(self) -> None:
        """Every cell was freed (weights changed, cache cleared)."""
        self._held = [() for _ in self._held]


def _common_prefix(first: Sequence[int], second: Sequence[int]) -> int:
    """The length of the longest common prefix (slice comparisons run in C)."""
    equal, differs = 0, min(len(first), len(second))
    if tuple(first[:differs]) == tuple(second[:differs]):
        return differs
    while differs - equal > 1:  # first[:equal] == second[:equal]; first[:differs] differs
        middle = (equal + differs) // 2
        if tuple(first[equal:middle]) == tuple(second[equal:middle]):
            equal = middle
        else:
            differs = middle
    return equal

"""Slot planning of the llama.cpp engine's prefix cache (no model needed)."""

from __future__ import annotations

import pytest

from runtime.engines.prefix_cache import WAIT_FOR_PREFILL_TOKENS, Running, SlotPrefixCache


def test_the_slot_sharing_the_longest_prefix_wins_and_the_last_token_is_fed_again() -> None:
    cache = SlotPrefixCache(3)
    cache.release(0, (1, 2, 9))
    cache.release(1, (1, 2, 3, 4, 5))
    cache.release(2, (7,))
    choice = cache.plan((1, 2, 3, 4, 5), free=[0, 1, 2])
    assert choice is not None
    assert (choice.slot, choice.reused, choice.source) == (1, 4, None)
    assert (cache.reused_tokens, cache.prompt_tokens) == (4, 5)


def test_without_a_shared_prefix_an_empty_slot_then_the_least_recently_used_is_taken() -> None:
    cache = SlotPrefixCache(3)
    taken = []
    for prompt in ((1, 2), (3, 4), (5, 6), (8, 9)):
        choice = cache.plan(prompt, free=[0, 1, 2])
        assert choice is not None and choice.reused == 0
        cache.release(choice.slot, prompt)
        taken.append(choice.slot)
    assert sorted(taken[:3]) == [0, 1, 2]
    assert taken[3] == taken[0]  # used longest ago


def test_a_taken_slot_holds_nothing_until_released_and_forget_all_clears() -> None:
    cache = SlotPrefixCache(2)
    cache.release(0, (1, 2, 3))
    taken = cache.plan((1, 2, 3, 4), free=[0, 1])
    assert taken is not None and (taken.slot, taken.reused) == (0, 3)
    again = cache.plan((1, 2, 3, 4), free=[1])
    assert again is not None and again.reused == 0
    cache.release(0, (1, 2, 3, 4, 5))
    cache.forget_all()
    cleared = cache.plan((1, 2, 3, 4, 5), free=[0, 1])
    assert cleared is not None and cleared.reused == 0
    with pytest.raises(ValueError):
        cache.plan((1,), free=[])


def test_a_running_sequence_holding_more_of_the_prompt_is_copied_into_a_spare_slot() -> None:
    cache = SlotPrefixCache(3)
    cache.release(1, (1, 2))
    prompt = tuple(range(1, 40))
    running = {0: Running(fed=prompt[:30], prompt=(*prompt[:30], 99))}
    choice = cache.plan(prompt, free=[1, 2], running=running)
    assert choice is not None
    assert (choice.source, choice.reused) == (0, 30)
    assert choice.slot == 2  # the empty slot; slot 1 keeps its idle cells


def test_a_request_waits_for_a_sibling_still_prefilling_their_shared_prompt() -> None:
    cache = SlotPrefixCache(4)
    shared = tuple(range(1000, 1000 + WAIT_FOR_PREFILL_TOKENS + 10))
    mine, sibling = (*shared, 1, 2), (*shared, 3, 4)
    running = {0: Running(fed=sibling[:8], prompt=sibling)}
    assert cache.plan(mine, free=[1, 2, 3], running=running) is None
    assert cache.prompt_tokens == 0  # nothing was taken
    done = {0: Running(fed=sibling, prompt=sibling)}
    choice = cache.plan(mine, free=[1, 2, 3], running=done)
    assert choice is not None and (choice.source, choice.reused) == (0, len(shared))


def test_a_disabled_cache_never_reuses_copies_or_waits() -> None:
    cache = SlotPrefixCache(2, enabled=False)
    cache.release(0, (1, 2, 3))
    prompt = tuple(range(200))
    running = {1: Running(fed=prompt[:5], prompt=prompt)}
    choice = cache.plan(prompt, free=[0], running=running)
    assert choice is not None and (choice.reused, choice.source) == (0, None)

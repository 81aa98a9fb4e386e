"""The batched decoding loop behind `TransformersEngine`: left-padded prefill, KV-cached steps.

Why a loop of our own instead of `model.generate`: each row of a coalesced batch has its own
sampling settings, its own seeded random generator (so a request's sample does not depend on
which other requests shared its batch), its own grammar matcher and its own stop strings, and
we need the log-probability of every sampled token. `generate` offers none of these per row.

Reported logprobs are the model's raw distribution (log-softmax of the unprocessed logits, before
temperature, top-p or the grammar mask), the same quantity `TransformersEngine.score` computes,
so a trainer can compare rollout and training logprobs directly.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.engines.base import Sampling
from runtime.engines.decode_state import DecodeState
from runtime.engines.grammar_constraint import GrammarError, SequenceMatcher

if TYPE_CHECKING:
    import torch

GREEDY_BELOW = 1e-5
"""Temperatures below this pick the most likely token (no randomness)."""


@dataclass
class DecodeRow:
    """One sequence being decoded: its shared decode state (`decode_state.DecodeState`:
    tokens, logprobs, finish rules) and its own seeded random generator."""

    state: DecodeState
    generator: torch.Generator

    @property
    def prompt_ids(self) -> tuple[int, ...]:
        return self.state.prompt_token_ids


def decode_rows(model: Any, rows: list[DecodeRow], *, pad_id: int) -> None:
    """Decode every unfinished row of `rows` together until each one stops.

    Rows that finish early keep a slot in the batch (fed the pad token) until the batch ends:
    simpler than shrinking the KV cache, and batches here are small.
    """
    import torch

    active = [row for row in rows if not row.state.finished]
    if not active:
        return
    device = next(model.parameters()).device
    width = max(len(row.prompt_ids) for row in active)
    input_ids = torch.full((len(active), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(active), width), dtype=torch.long)
    for index, row in enumerate(active):
        input_ids[index, width - len(row.prompt_ids) :] = torch.tensor(row.prompt_ids)
        attention[index, width - len(row.prompt_ids) :] = 1
    positions = (attention.cumsum(-1) - 1).clamp(min=0)

    cache_argument = _cache_argument(model)
    with torch.no_grad():
        output = model(
            input_ids=input_ids.to(device),
            attention_mask=attention.to(device),
            position_ids=positions.to(device),
            use_cache=True,
        )
        next_position = positions[:, -1:] + 1
        for _ in range(max(row.state.max_tokens for row in active)):
            logits = output.logits[:, -1, :].float().cpu()
            chosen = [
                _advance(row, logits[index]) if not row.state.finished else pad_id
                for index, row in enumerate(active)
            ]
            if all(row.state.finished for row in active):
                break
            attention = torch.cat([attention, torch.ones((len(active), 1), dtype=torch.long)], 1)
            output = model(
                input_ids=torch.tensor(chosen, dtype=torch.long)[:, None].to(device),
                attention_mask=attention.to(device),
                position_ids=next_position.to(device),
                use_cache=True,
                **{cache_argument: _output_cache(output)},
            )
            next_position = next_position + 1
    for row in active:
        if not row.state.finished:  # only reachable when max_tokens was 0
            row.state.finish_reason = "length"


def _cache_argument(model: Any) -> str:
    """The forward keyword for the KV cache: `cache` (transformers ≥ 5.2x) or `past_key_values`."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps
    parameters = inspect.signature(base.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def _output_cache(output: Any) -> Any:
    """The KV cache a forward pass returned, under either transformers naming."""
    cache = output.get("cache")
    return cache if cache is not None else output.get("past_key_values")


def _advance(row: DecodeRow, logits: torch.Tensor) -> int:
    """Sample the row's next token and hand it to the row's decode state; returns the token
    to feed next (the pad token's place is taken by whatever was sampled)."""
    import torch

    state = row.state
    raw_logprobs = torch.log_softmax(logits, dim=-1)
    scores = logits.clone()
    forced = False
    if state.matcher is not None:
        assert isinstance(state.matcher, SequenceMatcher)
        try:
            allowed = torch.from_numpy(state.matcher.allowed_tokens(scores.shape[0]))
        except GrammarError as error:
            state.fail(str(error))
            return 0
        if not bool(allowed.any()):
            state.fail("the grammar allows no next token")
            return 0
        scores[~allowed] = float("-inf")
        forced = int(allowed.sum()) == 1
    token = sample_token(scores, state.request.sampling, row.generator)
    state.accept(token, float(raw_logprobs[token]), forced)
    return token


def sample_token(scores: torch.Tensor, sampling: Sampling, generator: torch.Generator) -> int:
    """Pick one token from `scores` (masked logits): greedy at temperature ~0, else top-p."""
    import torch

    if sampling.temperature < GREEDY_BELOW:
        return int(torch.argmax(scores))
    probabilities = torch.softmax(scores / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        sorted_probabilities, order = torch.sort(probabilities, descending=True)
        cumulative = torch.cumsum(sorted_probabilities, dim=-1)
        # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
        sorted_probabilities[(cumulative - sorted_probabilities) > sampling.top_p] = 0.0
        probabilities = torch.zeros_like(probabilities).scatter(0, order, sorted_probabilities)
    return int(torch.multinomial(probabilities, 1, generator=generator))

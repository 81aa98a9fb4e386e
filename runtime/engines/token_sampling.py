"""Sampling one token from raw logits in numpy, reproducibly and cheaply.

Each request owns a `numpy.random.Generator` seeded from its own seed and draws exactly one
uniform number per sampled token, so its tokens depend only on its logits and its seed, never
on which other requests share the decode batch.

The reported logprob is the log-softmax of the *raw* logits at temperature 1, before the
grammar mask, temperature or top-p: the log-probability the model itself assigns to the
sampled token, which is what a trainer recomputes from the same weights.

This runs once per sampled token on the engine's decode thread, between two batched decodes,
so every full-vocabulary pass counts (49k entries for SmolLM2). A sample costs one float32
`exp` over the vocabulary for the logprob's normaliser; a grammar mask shrinks the rest to the
allowed tokens; the inverse CDF is found block by block instead of through a cumulative sum
over the whole vocabulary; the nucleus is sorted among the tokens above a probability
threshold, never the whole vocabulary. (`python -m benchmarks.sampling` times it.)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

BLOCK = 1024
"""Tokens per block of the blocked inverse CDF."""


class Sampled(NamedTuple):
    """A sampled token, its raw log-probability, and whether a grammar mask allowed no other
    token (the policy had no choice, so the token says nothing about it)."""

    token: int
    logprob: float
    forced: bool = False


def raw_logprob(logits: NDArray[np.float32], token: int) -> float:
    """log softmax(logits)[token] at temperature 1."""
    values = np.asarray(logits, dtype=np.float32)
    peak = float(values.max())
    return float(values[token]) - peak - _log_normaliser(values, peak)


def _log_normaliser(values: NDArray[np.float32], peak: float) -> float:
    """log sum(exp(values - peak)): float32 exponentials, summed in float64."""
    return math.log(float(np.exp(values - np.float32(peak)).sum(dtype=np.float64)))


def sample_token(
    logits: NDArray[np.float32],
    temperature: float,
    top_p: float,
    generator: np.random.Generator,
    allowed: NDArray[np.bool_] | None = None,
) -> Sampled:
    """Pick the next token: greedy when `temperature` <= 0, otherwise from the softmax of
    `logits / temperature` restricted to `allowed` (a grammar mask) and to the smallest set of
    most likely tokens whose probability reaches `top_p` (ties broken by token id).

    Raises ValueError when the mask allows no token.
    """
    values = np.asarray(logits, dtype=np.float32)
    peak = float(values.max())
    candidates: NDArray[np.intp] | None = None
    scores = values
    if allowed is not None:
        candidates = np.flatnonzero(allowed[: len(values)])
        if candidates.size == 0:
            raise ValueError("the grammar allows no next token")
        scores = values[candidates]
    if temperature <= 0.0:
        index = int(np.argmax(scores))
    else:
        top = float(scores.max())
        weights = np.exp((scores - np.float32(top)) * np.float32(1.0 / temperature))
        index = (_inverse_cdf(weights, generator.random()) if top_p >= 1.0
                 else _nucleus_draw(weights, top_p, generator.random()))
    token = index if candidates is None else int(candidates[index])
    return Sampled(token, float(values[token]) - peak - _log_normaliser(values, peak),
                   candidates is not None and candidates.size == 1)


def _inverse_cdf(weights: NDArray[np.float32], uniform: float) -> int:
    """The index where the running sum of `weights` first passes `uniform` x their total,
    found block by block: a sum per block, then a cumulative sum inside one block only.
    Zero weights are never picked."""
    size = len(weights)
    full = size // BLOCK
    block_sums = np.empty(-(-size // BLOCK), dtype=np.float64)
    block_sums[:full] = weights[: full * BLOCK].reshape(full, BLOCK).sum(axis=1, dtype=np.float64)
    if full < len(block_sums):
        block_sums[full] = weights[full * BLOCK:].sum(dtype=np.float64)
    block_cumulative = np.cumsum(block_sums)
    draw = uniform * float(block_cumulative[-1])
    block = min(int(np.searchsorted(block_cumulative, draw, side="right")), len(block_sums) - 1)
    while block > 0 and block_sums[block] == 0.0:  # rounding landed past the last weight
        block -= 1
    before = float(block_cumulative[block - 1]) if block else 0.0
    inside = np.cumsum(weights[block * BLOCK:(block + 1) * BLOCK], dtype=np.float64)
    offset = int(np.searchsorted(inside, draw - before, side="right"))
    last_positive = int(np.searchsorted(inside, inside[-1], side="left"))
    return block * BLOCK + min(offset, last_positive)


def _nucleus_draw(weights: NDArray[np.float32], top_p: float, uniform: float) -> int:
    """Draw from the smallest most-likely set of `weights` whose share reaches `top_p`.

    The nucleus is a prefix of the tokens sorted by weight, so it lies inside any prefix that
    already holds `top_p` of the mass: the tokens above a threshold. Only those are sorted;
    the threshold falls by 1000x until its prefix is heavy enough (at worst, everything)."""
    total = float(weights.sum(dtype=np.float64))
    peak = float(weights.max())
    threshold = peak * 1e-3
    while True:
        inside = np.flatnonzero(weights >= threshold)  # threshold 0: every token
        if threshold == 0.0 or float(weights[inside].sum(dtype=np.float64)) >= top_p * total:
            break
        threshold = threshold * 1e-3 if threshold > peak * 1e-12 else 0.0
    order = inside[np.lexsort((inside, -weights[inside]))]
    cumulative = np.cumsum(weights[order], dtype=np.float64)
    keep = min(int(np.searchsorted(cumulative, top_p * total, side="left")) + 1, len(order))
    draw = uniform * float(cumulative[keep - 1])
    return int(order[min(int(np.searchsorted(cumulative[:keep], draw, side="right")),
                         keep - 1)])

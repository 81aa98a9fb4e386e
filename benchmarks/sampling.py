"""Per-token sampling cost: the engine's sampler against a plain full-vocabulary one.

Run `python -m benchmarks.sampling`. The llama.cpp engine samples every token in numpy on its
decode thread, between two batched decodes, so this cost adds straight to each decode step
(at 16 sequences on 2 threads a decode step takes ~140 ms: 16 samples at 1 ms each would
add ~11%). Both samplers get the same inputs, taken from the embedded model itself: its
logits at every position of a baseline spec written after the designer's prompt, and the
designer grammar's mask at each of those positions (sparse at keywords and punctuation,
dense inside strings). The plain sampler is the textbook one: a float64 softmax over the
whole vocabulary with the mask applied by `np.where`, a cumulative sum over the whole
vocabulary, a full sort for the nucleus. Prints ms per token for each setting and the
speed-up, measured side by side.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

SPEC = Path(__file__).parent / "systems" / "self_consistency.mas"
SETTINGS = (  # (label, temperature, top_p, masked)
    ("T=1, no mask", 1.0, 1.0, False),
    ("T=1, grammar mask", 1.0, 1.0, True),
    ("T=0.7, grammar mask", 0.7, 1.0, True),
    ("T=1, top_p=0.9, grammar mask", 1.0, 0.9, True),
    ("T=1, top_p=0.9, no mask", 1.0, 0.9, False),
    ("greedy, grammar mask", 0.0, 1.0, True),
)

Sampler = Callable[[NDArray[np.float32], float, float, np.random.Generator,
                    NDArray[np.bool_] | None], tuple[int, float]]


def plain_sample(logits: NDArray[np.float32], temperature: float, top_p: float,
                 generator: np.random.Generator,
                 allowed: NDArray[np.bool_] | None) -> tuple[int, float]:
    """The textbook sampler, the baseline: float64 over the whole vocabulary throughout."""
    values = logits.astype(np.float64)
    logprobs = values - values.max() - np.log(np.exp(values - values.max()).sum())
    if allowed is not None:
        values = np.where(allowed, values, -np.inf)
    if temperature <= 0:
        token = int(np.argmax(values))
        return token, float(logprobs[token])
    probabilities = np.exp((values - values.max()) / temperature)
    probabilities /= probabilities.sum()
    order = np.arange(len(values))
    if top_p < 1.0:
        order = np.lexsort((order, -probabilities))
        keep = int(np.searchsorted(np.cumsum(probabilities[order]), top_p)) + 1
        order = order[:keep]
    cumulative = np.cumsum(probabilities[order])
    index = int(np.searchsorted(cumulative, generator.random() * cumulative[-1], side="right"))
    token = int(order[min(index, len(order) - 1)])
    return token, float(logprobs[token])


def engine_sample(logits: NDArray[np.float32], temperature: float, top_p: float,
                  generator: np.random.Generator,
                  allowed: NDArray[np.bool_] | None) -> tuple[int, float]:
    """The llama.cpp engine's sampler (`runtime.engines.token_sampling`)."""
    from runtime.engines.token_sampling import sample_token

    sampled = sample_token(logits, temperature, top_p, generator, allowed)
    return sampled.token, sampled.logprob


def model_inputs() -> tuple[list[NDArray[np.float32]], list[NDArray[np.bool_]], float]:
    """The embedded model's logits and the designer grammar's masks at each spec token, and
    the mean ms the grammar took to compute one mask."""
    import grammar
    from runtime.engines.embedded import resolve_model_path
    from runtime.engines.grammar_constraint import GrammarConstraint
    from runtime.engines.llama_native import BatchEntry, ContextSettings, LlamaModel

    model = LlamaModel(resolve_model_path(None), ContextSettings(threads=1, max_sequences=1))
    try:
        prompt = model.tokenize("Design a system that answers: what is 3 + 4?\n", True)
        text = "\n".join(line for line in SPEC.read_text().splitlines()
                         if not line.startswith("#"))  # the decoding grammar has no comments
        spec = model.tokenize(text, False, parse_special=False)
        tokens = prompt + spec
        rows: list[NDArray[np.float32]] = []
        for first in range(0, len(tokens), model.batch_capacity):
            chunk = range(first, min(first + model.batch_capacity, len(tokens)))
            entries = [BatchEntry(tokens[p], 0, p, p >= len(prompt) - 1) for p in chunk]
            rows += model.decode(entries)
        matcher = GrammarConstraint.for_llama(model.vocab, model.vocab_size).matcher(
            grammar.decoding_grammar_text())
        masks: list[NDArray[np.bool_]] = []
        began = time.perf_counter()
        for token in spec:
            masks.append(matcher.allowed_tokens(len(rows[0])))
            matcher.consume(token)
        mask_ms = 1e3 * (time.perf_counter() - began) / len(spec)
        return rows[: len(spec)], masks, mask_ms
    finally:
        model.close()


def per_token_ms(sampler: Sampler, rows: list[NDArray[np.float32]],
                 masks: list[NDArray[np.bool_]], temperature: float, top_p: float,
                 masked: bool, repeats: int) -> float:
    generator = np.random.default_rng(0)
    began = time.perf_counter()
    for _ in range(repeats):
        for row, mask in zip(rows, masks, strict=True):
            sampler(row, temperature, top_p, generator, mask if masked else None)
    return 1e3 * (time.perf_counter() - began) / (repeats * len(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sampling",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows, masks, mask_ms = model_inputs()
    allowed = np.mean([mask.mean() for mask in masks])
    print(f"{len(rows)} positions of {SPEC.name}; vocabulary {len(rows[0])}; the grammar "
          f"allows {100 * allowed:.0f}% of it on average and takes {mask_ms:.2f} ms per mask")
    print(f"{'setting':32} {'plain ms':>9} {'engine ms':>10} {'speed-up':>9}")
    for label, temperature, top_p, masked in SETTINGS:
        plain = per_token_ms(plain_sample, rows, masks, temperature, top_p, masked, args.repeats)
        ours = per_token_ms(engine_sample, rows, masks, temperature, top_p, masked, args.repeats)
        print(f"{label:32} {plain:9.3f} {ours:10.3f} {plain / ours:8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

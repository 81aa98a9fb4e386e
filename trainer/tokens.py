"""Character offsets of the tokens of a completion, for mapping spec spans to tokens.

Sampled token ids come without offsets, and one character can be split over several tokens
(byte-level BPE splits multi-byte UTF-8 characters). `token_char_offsets` recovers, for each
token, the `[start, end)` range of the decoded text it completes, by incremental decoding."""

from __future__ import annotations

from collections.abc import Callable, Sequence

REPLACEMENT = "\ufffd"

Detokenize = Callable[[Sequence[int]], str]
"""An engine's detokeniser: token ids -> completion text, special tokens left out (the engine
contract's definition of `Completion.text`; e.g. `TransformersEngine.detokenize`)."""


def _stable_length(prefix_text: str, final_text: str) -> int:
    """How many leading characters of `prefix_text` are already final: the common prefix with
    the full text. Trailing replacement characters of an incomplete UTF-8 sequence differ from
    the final text, so they are never counted (a real U+FFFD in the text is)."""
    if final_text.startswith(prefix_text):
        return len(prefix_text)
    candidate = prefix_text
    while candidate.endswith(REPLACEMENT):
        candidate = candidate[:-1]
        if final_text.startswith(candidate):
            return len(candidate)
    length = 0
    for mine, theirs in zip(prefix_text, final_text, strict=False):
        if mine != theirs:
            break
        length += 1
    return length


def token_char_offsets(detokenize: Detokenize, token_ids: Sequence[int],
                       ) -> tuple[str, list[tuple[int, int]]]:
    """Decode `token_ids` with the engine's `detokenize` and return `(text, offsets)`,
    `offsets[i]` being the half-open character range of `text` that token `i` completes.

    `text` is the completion's text by the engine contract, so the offsets index it. The
    ranges are contiguous, non-decreasing and together cover `text`. A token that only
    carries the first bytes of a multi-byte character gets an empty range at that character's
    start (it then counts as a point for span overlap, see `trainer.credit`); the token that
    completes the character gets the character. Special tokens (a kept end-of-turn token) get
    empty ranges. Cost: one decode per token of a growing prefix (quadratic, 0.22 s for 1,500
    SmolLM2 tokens with its fast tokenizer), fine for completions.
    """
    ids = list(token_ids)
    text = detokenize(ids)
    offsets: list[tuple[int, int]] = []
    done = 0
    for index in range(len(ids)):
        if index == len(ids) - 1:
            stable = len(text)
        else:
            stable = _stable_length(detokenize(ids[: index + 1]), text)
        end = max(done, stable)
        offsets.append((done, end))
        done = end
    return text, offsets

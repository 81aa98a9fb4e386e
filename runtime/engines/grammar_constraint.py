"""Lark-grammar-constrained decoding with llguidance, for every local engine.

llguidance needs the model's vocabulary as token bytes: `GrammarConstraint.for_llama` builds
its tokenizer from a llama.cpp vocab pointer (about a second for 49k tokens),
`GrammarConstraint.for_hf` from a Hugging Face tokenizer (~0.3 s); either is built once per
engine, on the first constrained request. Each grammar is compiled and validated once
(compiling the language's grammar costs far more than copying a matcher), then every
constrained sequence gets its own `SequenceMatcher`: before sampling, its mask hides the
tokens the grammar forbids; after sampling, the token is consumed so the matcher follows the
sequence. (llguidance's own `llguidance.torch` helper uses `torch.compile`, which needs a C
compiler and seconds of warm-up on CPU; unpacking the bits with numpy is fast enough.)
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray


class GrammarError(ValueError):
    """The grammar text was rejected, or the matcher entered an error state."""


class GrammarConstraint:
    """Builds per-sequence matchers against one model vocabulary."""

    def __init__(self, make_tokenizer: Callable[[], Any], vocab_size: int, *,
                 cache_size: int = 32) -> None:
        self._make_tokenizer = make_tokenizer
        self.vocab_size = vocab_size
        self._tokenizer: Any = None
        self._prototypes: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def for_llama(cls, vocab: Any, vocab_size: int) -> GrammarConstraint:
        """Matchers over a llama.cpp vocabulary (`llama_model_get_vocab`)."""

        def make() -> Any:
            from llguidance.llamacpp import lltokenizer_from_vocab

            # It calls llama_cpp's deprecated `llama_token_get_attr` once per token (49k
            # warnings); the call is correct, only its name is old.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return lltokenizer_from_vocab(vocab, n_vocab=vocab_size)

        return cls(make, vocab_size)

    @classmethod
    def for_hf(cls, tokenizer: Any) -> GrammarConstraint:
        """Matchers over a Hugging Face tokenizer's vocabulary."""

        def make() -> Any:
            import llguidance.hf

            return llguidance.hf.from_tokenizer(tokenizer)

        return cls(make, len(tokenizer))

    def _lltokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = self._make_tokenizer()
        return self._tokenizer

    def matcher(self, lark_text: str) -> SequenceMatcher:
        """A fresh matcher for one sequence; raises GrammarError for a bad grammar."""
        from llguidance import LLMatcher

        prototype = self._prototypes.get(lark_text)
        if prototype is None:
            compiled = LLMatcher.grammar_from_lark(lark_text)
            is_error, messages = LLMatcher.validate_grammar_with_warnings(
                compiled, self._lltokenizer())
            if is_error:
                raise GrammarError(f"grammar rejected: {'; '.join(messages)}")
            prototype = LLMatcher(self._lltokenizer(), compiled, log_level=0)
            if prototype.is_error():
                raise GrammarError(f"grammar rejected: {prototype.get_error()}")
            self._prototypes[lark_text] = prototype
            if len(self._prototypes) > self._cache_size:
                self._prototypes.popitem(last=False)
        else:
            self._prototypes.move_to_end(lark_text)
        return SequenceMatcher(prototype.deep_copy(), self.vocab_size)


class SequenceMatcher:
    """One sequence's grammar state: which tokens may come next, and consuming them."""

    def __init__(self, matcher: Any, vocab_size: int) -> None:
        self._matcher = matcher
        self._vocab_size = vocab_size

    def allowed_tokens(self, size: int | None = None) -> NDArray[np.bool_]:
        """A boolean mask of the tokens the grammar allows next, over `size` ids (default:
        the vocabulary; a model's logits may be padded past it: those ids are never allowed)."""
        words = np.frombuffer(self._matcher.compute_bitmask(), dtype=np.uint8)
        if self._matcher.is_error():
            raise GrammarError(f"grammar matcher failed: {self._matcher.get_error()}")
        bits = np.unpackbits(words, bitorder="little").astype(np.bool_)
        size = self._vocab_size if size is None else size
        usable = min(size, self._vocab_size, bits.shape[0])
        if usable == size:
            return bits[:size]
        mask = np.zeros(size, dtype=np.bool_)
        mask[:usable] = bits[:usable]
        return mask

    def consume(self, token: int) -> None:
        """Advance past `token`; raises GrammarError when the grammar does not accept it."""
        if not self._matcher.consume_token(token):
            raise GrammarError(f"grammar refused token {token}: {self._matcher.get_error()}")

    def is_finished(self) -> bool:
        """True when the grammar admits no further token (the output is complete)."""
        return bool(self._matcher.is_stopped())

"""Lark-grammar-constrained decoding for llama.cpp models with llguidance.

llguidance needs the model's vocabulary as token bytes; `llguidance.llamacpp` builds its
`LLTokenizer` from a llama.cpp vocab pointer (about a second for 49k tokens, so it is built
once per engine, on the first constrained request). Each constrained sequence then gets its
own `LLMatcher`: before sampling, its bitmask hides the tokens the grammar forbids; after
sampling, the token is consumed so the matcher follows the sequence.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray


class GrammarError(ValueError):
    """The grammar text was rejected, or the matcher entered an error state."""


class GrammarConstraint:
    """Builds per-sequence matchers against one model vocabulary."""

    def __init__(self, vocab: Any, vocab_size: int) -> None:
        self._vocab = vocab
        self._vocab_size = vocab_size
        self._tokenizer: Any = None
        self._compiled: dict[str, str] = {}

    def _lltokenizer(self) -> Any:
        if self._tokenizer is None:
            from llguidance.llamacpp import lltokenizer_from_vocab

            # It calls llama_cpp's deprecated `llama_token_get_attr` once per token (49k
            # warnings); the call is correct, only its name is old.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                self._tokenizer = lltokenizer_from_vocab(self._vocab, n_vocab=self._vocab_size)
        return self._tokenizer

    def matcher(self, lark_text: str) -> SequenceMatcher:
        """A fresh matcher for one sequence; raises GrammarError for a bad grammar."""
        from llguidance import LLMatcher

        compiled = self._compiled.get(lark_text)
        if compiled is None:
            compiled = LLMatcher.grammar_from_lark(lark_text)
            is_error, messages = LLMatcher.validate_grammar_with_warnings(
                compiled, self._lltokenizer()
            )
            if is_error:
                raise GrammarError(f"grammar rejected: {'; '.join(messages)}")
            self._compiled[lark_text] = compiled
        matcher = LLMatcher(self._lltokenizer(), compiled, log_level=0)
        if matcher.is_error():
            raise GrammarError(f"grammar rejected: {matcher.get_error()}")
        return SequenceMatcher(matcher, self._vocab_size)


class SequenceMatcher:
    """One sequence's grammar state: which tokens may come next, and consuming them."""

    def __init__(self, matcher: Any, vocab_size: int) -> None:
        self._matcher = matcher
        self._vocab_size = vocab_size

    def allowed_tokens(self) -> NDArray[np.bool_]:
        """A boolean mask over the vocabulary of the tokens the grammar allows next."""
        words = np.frombuffer(self._matcher.compute_bitmask(), dtype=np.uint8)
        bits = np.unpackbits(words, bitorder="little")[: self._vocab_size]
        if self._matcher.is_error():
            raise GrammarError(f"grammar matcher failed: {self._matcher.get_error()}")
        return bits.astype(np.bool_)

    def consume(self, token: int) -> None:
        """Advance past `token`; raises GrammarError when the grammar does not accept it."""
        if not self._matcher.consume_token(token):
            raise GrammarError(f"grammar refused token {token}: {self._matcher.get_error()}")

    def is_finished(self) -> bool:
        """True when the grammar admits no further token (the output is complete)."""
        return bool(self._matcher.is_stopped())

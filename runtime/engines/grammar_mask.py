"""Grammar-constrained decoding for local engines: Lark grammar → llguidance matcher → logits mask.

One `GrammarMasker` serves one tokenizer. It compiles each grammar once (a prototype matcher
that later requests deep-copy, because compiling the language's grammar costs far more than
copying it) and turns a matcher's token bitmask into a boolean tensor over the vocabulary.
llguidance's own `llguidance.torch` helper uses `torch.compile`, which needs a C compiler and
seconds of warm-up on CPU; unpacking the bits with numpy is fast enough for one row per step.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


class GrammarError(ValueError):
    """A grammar that llguidance rejects; the message says where and why."""


class GrammarMasker:
    """Builds llguidance matchers for one Hugging Face tokenizer and masks logits with them."""

    def __init__(self, hf_tokenizer: Any, *, cache_size: int = 16) -> None:
        import llguidance.hf

        # Building the llguidance tokenizer walks the whole vocabulary (~0.3 s): once per engine.
        self._tokenizer = llguidance.hf.from_tokenizer(hf_tokenizer)
        self._prototypes: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size

    @property
    def vocab_size(self) -> int:
        """Size of the vocabulary the masks cover."""
        return int(self._tokenizer.vocab_size)

    def matcher(self, lark_grammar: str) -> Any:
        """A fresh `llguidance.LLMatcher` for `lark_grammar`; raises `GrammarError` if invalid."""
        import llguidance

        prototype = self._prototypes.get(lark_grammar)
        if prototype is None:
            grammar = llguidance.LLMatcher.grammar_from_lark(lark_grammar)
            problem = llguidance.LLMatcher.validate_grammar(grammar, self._tokenizer)
            if problem:
                raise GrammarError(f"grammar rejected by llguidance: {problem.strip()}")
            prototype = llguidance.LLMatcher(self._tokenizer, grammar, log_level=0)
            if prototype.is_error():
                raise GrammarError(f"grammar rejected by llguidance: {prototype.get_error()}")
            self._prototypes[lark_grammar] = prototype
            if len(self._prototypes) > self._cache_size:
                self._prototypes.popitem(last=False)
        else:
            self._prototypes.move_to_end(lark_grammar)
        return prototype.deep_copy()

    def allowed_tokens(self, matcher: Any, logits_size: int) -> torch.Tensor:
        """Boolean tensor of length `logits_size`: True where the grammar allows the token next."""
        import numpy as np
        import torch

        packed = np.frombuffer(matcher.compute_bitmask(), dtype=np.uint8)
        bits = np.unpackbits(packed, bitorder="little").astype(bool)
        allowed = torch.zeros(logits_size, dtype=torch.bool)
        usable = min(logits_size, bits.shape[0], self.vocab_size)
        allowed[:usable] = torch.from_numpy(bits[:usable].copy())
        return allowed

"""Test double: an engine that walks a grammar at random instead of running a model.

`GrammarWalkEngine` answers each request by picking, at every step, a token uniformly at
random among those the request's grammar allows (the real vocabulary of the embedded model,
the real llguidance matchers of the llama.cpp engine), until the grammar is complete or
`max_tokens` runs out. No model weights are involved, so what it samples is any text the
grammar admits, not what a model finds likely: a property test over the grammar's language.
It honours `continue_from` by ignoring it (the grammar alone decides what may follow).
Each request walks with its own generator, seeded by the engine's seed and the request's, so
walks do not depend on how concurrent requests interleave.

With `favour`, a step picks (with probability `favour_rate`) among the allowed tokens whose
text is exactly one of the favoured pieces (say `" if"`), when there are any, and right
after such a token, among the allowed tokens that start with a space (ending the keyword
rather than growing it into a name such as `iffy`). A uniform walk almost never spells a
keyword where thousands of name tokens are also allowed, so a property test that must
reach every construct favours the keywords that open them.
"""

from __future__ import annotations

import numpy as np

from runtime.engines.base import Capabilities, ChatRequest, Completion, FinishReason
from runtime.engines.grammar_constraint import GrammarConstraint
from runtime.engines.llama_native import LlamaModel


class GrammarWalkEngine:
    name = "grammar-walk"
    capabilities = Capabilities(batching=True, logprobs=True, grammar=True, token_ids=True,
                                max_context=1 << 20, continuation=True)

    def __init__(self, model: LlamaModel, seed: int, favour: frozenset[str] = frozenset(),
                 favour_rate: float = 0.3) -> None:
        self.model = model
        self.favour_rate = favour_rate
        self.favoured = np.zeros(model.vocab_size, dtype=np.bool_)
        self.spaced = np.zeros(model.vocab_size, dtype=np.bool_)
        for token in range(model.vocab_size):
            piece = model.piece(token)
            self.favoured[token] = piece.decode("utf-8", "replace") in favour
            self.spaced[token] = piece.startswith(b" ")
        self.constraint = GrammarConstraint.for_llama(model.vocab, model.vocab_size)
        self.seed = seed
        ends = [token for token in range(model.vocab_size) if model.is_end_of_generation(token)]
        self.not_end = np.ones(model.vocab_size, dtype=np.bool_)
        self.not_end[ends] = False
        self.requests: list[ChatRequest] = []

    def walk(self, request: ChatRequest) -> Completion:
        assert request.grammar is not None, "the walk needs a grammar"
        matcher = self.constraint.matcher(request.grammar)
        # one generator per request: a walk does not depend on the order requests arrive in
        rng = np.random.default_rng((self.seed, request.sampling.seed or 0))
        tokens: list[int] = []
        text = bytearray()
        finish: FinishReason = "length"
        after_keyword = False
        while len(tokens) < request.sampling.max_tokens:
            mask = matcher.allowed_tokens() & self.not_end
            preferred = self.spaced if after_keyword else self.favoured
            if rng.random() < self.favour_rate and (mask & preferred).any():
                mask &= preferred
            allowed = np.flatnonzero(mask)
            token = int(rng.choice(allowed))
            after_keyword = bool(self.favoured[token])
            matcher.consume(token)
            tokens.append(token)
            text += self.model.piece(token)
            if matcher.is_finished():
                finish = "stop"
                break
        return Completion(text=text.decode("utf-8"), prompt_token_ids=(1, *request.continue_from),
                          token_ids=tuple(tokens), logprobs=tuple(-1.0 for _ in tokens),
                          finish_reason=finish)

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        self.requests.extend(requests)
        return [self.walk(request) for request in requests]

    async def close(self) -> None:
        return None

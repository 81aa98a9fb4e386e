"""The decoding state of one sequence, shared by every local engine (llama.cpp, transformers).

An engine samples a token from its logits and hands it to `DecodeState.accept`; the state
decides whether the sequence is finished and, at the end, builds the `Completion`. The rules
that make the completion contract (`runtime.engines.base`) hold live here, once:

* **End of turn.** A sampled end-of-turn token (EOS/EOT) finishes the sequence with "stop". It
  is kept in `token_ids` (the model chose to stop, a trainer should learn that), unless the
  request is grammar-constrained: then it only closes a finished grammar and is dropped, so
  a reply sampled in stages (typed design decoding) never holds end-of-turn tokens inside it.
* **Grammar.** Each non-EOT token is consumed by the sequence's matcher; a refused token fails
  the sequence. When the grammar admits no further token, the sequence stops right there,
  without sampling an end-of-turn token at all.
* **Stop strings.** When the text reaches a stop string, tokens are dropped from the one in
  which the stop string begins, so the text is still exactly the detokenised token ids.
* **Length.** `max_tokens` sampled tokens finish the sequence with "length".

`text` is always `detokenize(token_ids)` with special tokens left out, computed by the engine's
own detokeniser; there is exactly one logprob per token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from runtime.engines.base import ChatRequest, Completion, FinishReason
from runtime.engines.grammar_constraint import GrammarConstraint, GrammarError
from runtime.engines.prompt import PromptEncoder, PromptError

Detokenize = Callable[[Sequence[int]], str]
"""Token ids -> text, special tokens left out (the engine's tokenizer)."""


class GrammarCursor(Protocol):
    """What the decode state needs of a grammar matcher (`grammar_constraint.SequenceMatcher`)."""

    def consume(self, token: int) -> None:
        """Advance past `token`; raise `GrammarError` when the grammar refuses it."""
        ...

    def is_finished(self) -> bool:
        """True when the grammar admits no further token."""
        ...


@dataclass
class DecodeState:
    """One sequence's sampled tokens and finish state (mutable; one thread owns it)."""

    request: ChatRequest
    prompt_text: str
    prompt_token_ids: tuple[int, ...]
    max_tokens: int
    detokenize: Detokenize
    is_end_of_turn: Callable[[int], bool]
    matcher: GrammarCursor | None = None
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    forced: list[bool] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def accept(self, token: int, logprob: float, forced: bool = False) -> None:
        """Record one sampled token (`forced`: the grammar allowed no other) and decide
        whether the sequence is finished."""
        if self.is_end_of_turn(token):
            if self.request.grammar is None:
                self.token_ids.append(token)
                self.logprobs.append(logprob)
                self.forced.append(forced)
            self.finish_reason = "stop"
            return
        if self.matcher is not None:
            try:
                self.matcher.consume(token)
            except ValueError as error:  # GrammarError: the token broke the grammar
                self.fail(str(error))
                return
        self.token_ids.append(token)
        self.logprobs.append(logprob)
        self.forced.append(forced)
        stopped = bool(self.request.sampling.stop) and self._cut_at_stop()
        if stopped or (self.matcher is not None and self.matcher.is_finished()):
            self.finish_reason = "stop"
        elif len(self.token_ids) >= self.max_tokens:
            self.finish_reason = "length"

    def fail(self, message: str) -> None:
        """Finish the sequence with an error (what it sampled so far is kept)."""
        self.finish_reason, self.error = "error", message

    def _cut_at_stop(self) -> bool:
        """If the text holds a stop string, drop the tokens from the one where it begins."""
        text = self.detokenize(self.token_ids)
        found = [at for at in (text.find(stop) for stop in self.request.sampling.stop if stop)
                 if at >= 0]
        if not found:
            return False
        cut = min(found)
        while self.token_ids and len(self.detokenize(self.token_ids)) > cut:
            self.token_ids.pop()
            self.logprobs.pop()
            self.forced.pop()
        return True

    def completion(self) -> Completion:
        """The finished sequence as a `Completion` (a sequence never finished counts as
        "length": it ran out of room). A failed sequence gives `Completion.failure`."""
        if self.error is not None:
            return Completion.failure(self.error, self.prompt_text, self.prompt_token_ids)
        return Completion(
            text=self.detokenize(self.token_ids),
            prompt_token_ids=self.prompt_token_ids,
            token_ids=tuple(self.token_ids),
            logprobs=tuple(self.logprobs),
            forced=tuple(self.forced),
            finish_reason=self.finish_reason or "length",
            prompt_text=self.prompt_text,
        )


def replayed_completion(request: ChatRequest, prompt_text: str,
                        prompt_token_ids: tuple[int, ...], token_ids: Sequence[int],
                        logprobs: Sequence[float], finish_reason: FinishReason,
                        detokenize: Detokenize,
                        is_end_of_turn: Callable[[int], bool]) -> Completion:
    """The contract's `Completion` for tokens a remote sampler (vLLM) already chose: they are
    fed through a `DecodeState` (the grammar was enforced remotely, so no matcher), which
    drops a grammar's closing end-of-turn token and cuts at stop strings exactly as the local
    engines do; `finish_reason` is the sampler's, for sequences the rules did not finish."""
    if len(logprobs) != len(token_ids):
        return Completion.failure(f"{len(logprobs)} logprobs for {len(token_ids)} tokens",
                                  prompt_text, prompt_token_ids)
    state = DecodeState(request=request, prompt_text=prompt_text,
                        prompt_token_ids=prompt_token_ids,
                        max_tokens=max(len(token_ids), request.sampling.max_tokens),
                        detokenize=detokenize, is_end_of_turn=is_end_of_turn)
    for token, logprob in zip(token_ids, logprobs, strict=True):
        state.accept(int(token), float(logprob))
        if state.finished:
            break
    if not state.finished:
        if finish_reason == "error":
            state.fail("the engine aborted the request")
        else:
            state.finish_reason = finish_reason
    # the remote sampler applied the mask; which tokens it forced is not known here
    return replace(state.completion(), forced=())


def start_sequence(request: ChatRequest, encoder: PromptEncoder,
                   grammar: Callable[[], GrammarConstraint], detokenize: Detokenize,
                   is_end_of_turn: Callable[[int], bool]) -> DecodeState | Completion:
    """A local engine's request made ready to decode: its prompt encoded (chat template,
    ids, continuation, context check) and its grammar matcher built (`grammar()` gives the
    engine's constraint, built on first use), or the error completion saying why not."""
    try:
        prompt = encoder.encode(request)
    except PromptError as error:
        return error.completion()
    matcher = None
    if request.grammar is not None:
        try:
            matcher = grammar().matcher(request.grammar)
        except GrammarError as error:
            return Completion.failure(str(error), prompt.text, prompt.token_ids)
    return DecodeState(request=request, prompt_text=prompt.text,
                       prompt_token_ids=prompt.token_ids, max_tokens=prompt.max_new_tokens,
                       detokenize=detokenize, is_end_of_turn=is_end_of_turn, matcher=matcher)

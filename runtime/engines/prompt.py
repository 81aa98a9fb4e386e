"""The one prompt encoder: chat messages -> prompt text -> token ids (+ continuation), checked
against the context.

Every engine that tokenizes for itself (llama.cpp, transformers, vLLM workers and OpenRLHF's
rollout adapter) encodes a request here, with two functions of its own: how to render messages
(the model's chat template) and how to tokenize the rendered text (special tokens in the
template parsed as special, no extra BOS unless the model wants one). `continue_from` ids are
appended unchanged, never re-tokenized, so a reply sampled in stages is exactly the tokens
that were sampled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from runtime.engines.base import ChatRequest, Completion, Message

Render = Callable[[Sequence[Message]], str]
Tokenize = Callable[[str], Sequence[int]]


class PromptError(ValueError):
    """A request that cannot be encoded or does not fit the context (a per-request failure)."""

    def __init__(self, message: str, prompt_text: str = "",
                 prompt_token_ids: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.prompt_text = prompt_text
        self.prompt_token_ids = prompt_token_ids

    def completion(self) -> Completion:
        """This failure as the request's error completion."""
        return Completion.failure(str(self), self.prompt_text, self.prompt_token_ids)


@dataclass(frozen=True)
class EncodedPrompt:
    """A request ready to decode: its prompt text, all ids to feed (prompt + continuation)
    and how many tokens may be sampled (the request's `max_tokens`, lowered to fit)."""

    text: str
    token_ids: tuple[int, ...]
    max_new_tokens: int


@dataclass(frozen=True)
class PromptEncoder:
    """Encodes requests for one model: `render` (chat template) and `tokenize` are the
    model's own; `max_context` is how many tokens one sequence may hold in all."""

    render: Render
    tokenize: Tokenize
    max_context: int

    def encode(self, request: ChatRequest) -> EncodedPrompt:
        """Render, tokenize and append the continuation; raise `PromptError` when the chat
        template fails, the prompt is empty or leaves no room to generate."""
        try:
            text = self.render(request.messages)
        except Exception as error:  # templates come from model files: any error is theirs
            raise PromptError(f"chat template failed: {error}") from error
        ids = tuple(int(token) for token in self.tokenize(text)) + tuple(request.continue_from)
        if not ids:
            raise PromptError("the prompt is empty", text)
        room = self.max_context - len(ids)
        if room <= 0 and request.sampling.max_tokens > 0:
            raise PromptError(f"the prompt has {len(ids)} tokens; the context holds "
                              f"{self.max_context}: shorten the messages or raise the "
                              "context size", text, ids)
        return EncodedPrompt(text, ids, max(0, min(request.sampling.max_tokens, room)))


def hf_renderer(tokenizer: Any) -> Render:
    """The chat template of a Hugging Face tokenizer (generation turn open); tokenizers
    without one (base models) get a plain `role: content` transcript."""

    def render(messages: Sequence[Message]) -> str:
        chat = [{"role": message.role, "content": message.content} for message in messages]
        if getattr(tokenizer, "chat_template", None):
            return str(tokenizer.apply_chat_template(chat, add_generation_prompt=True,
                                                     tokenize=False))
        lines = [f"{message.role}: {message.content}" for message in messages]
        return "\n".join([*lines, "assistant: "])

    return render


def hf_tokenizer(tokenizer: Any) -> Tokenize:
    """Tokenize rendered prompts with a Hugging Face tokenizer: the template already holds
    the special tokens, so none are added."""

    def tokenize(text: str) -> Sequence[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    return tokenize


def hf_encoder(tokenizer: Any, max_context: int) -> PromptEncoder:
    """The `PromptEncoder` of a Hugging Face tokenizer (transformers, vLLM, OpenRLHF)."""
    return PromptEncoder(hf_renderer(tokenizer), hf_tokenizer(tokenizer), max_context)


def hf_detokenizer(tokenizer: Any) -> Callable[[Sequence[int]], str]:
    """Completion text of token ids under the contract: special tokens left out, no cleanup."""

    def detokenize(token_ids: Sequence[int]) -> str:
        return str(tokenizer.decode(list(token_ids), skip_special_tokens=True,
                                    clean_up_tokenization_spaces=False))

    return detokenize


def hf_end_of_turn_ids(tokenizer: Any, generation_config: Any = None) -> frozenset[int]:
    """Every token id that ends a turn: the tokenizer's EOS and the generation config's.
    Raises ValueError when neither names one."""
    ids: set[int] = set()
    candidates: list[Any] = [tokenizer.eos_token_id]
    if generation_config is not None:
        candidates.append(getattr(generation_config, "eos_token_id", None))
    for candidate in candidates:
        if isinstance(candidate, int):
            ids.add(candidate)
        elif isinstance(candidate, list | tuple):
            ids.update(int(value) for value in candidate)
    if not ids:
        raise ValueError("the tokenizer and generation config name no end-of-sequence token")
    return frozenset(ids)

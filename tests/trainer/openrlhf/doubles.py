"""Test doubles for the OpenRLHF backend: a character tokenizer and a scripted stand-in for
OpenRLHF's vLLM rollout actor (`llm_engine` in `execute()`). Tests only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from runtime.engines.base import ChatRequest


class CharTokenizerDouble:
    """One token per character (the token id is the code point); a tiny chat template;
    the end-of-turn token is 3 (ETX), which no reply contains."""

    eos_token_id = 3
    chat_template = "<role>content (rendered by apply_chat_template below)"

    def apply_chat_template(self, chat: list[dict[str, str]], add_generation_prompt: bool,
                            tokenize: bool) -> str:
        text = "".join(f"<{m['role']}>{m['content']}\n" for m in chat)
        return text + ("<assistant>" if add_generation_prompt else "")

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [ord(c) for c in text]}

    def decode(self, token_ids: Sequence[int], **kwargs: Any) -> str:
        return "".join(chr(t) for t in token_ids)


class ScriptedLLMEngineDouble:
    """Answers `generate(prompt_token_ids, params)` like OpenRLHF's vLLM actor, with a vLLM
    `RequestOutput`-shaped object. `params` is whatever the adapter's params factory built;
    the tests pass the `ChatRequest` itself, so replies can depend on role and grammar."""

    def __init__(self, reply: Callable[[ChatRequest], str], logprob: float = -0.25) -> None:
        self.reply = reply
        self.logprob = logprob
        self.calls: list[tuple[list[int], Any]] = []

    async def generate(self, prompt_token_ids: list[int], params: Any,
                       multi_modal_data: Any = None) -> Any:
        self.calls.append((prompt_token_ids, params))
        text = self.reply(params)[: params.sampling.max_tokens]
        ids = [ord(c) for c in text]
        entries = [{token: SimpleNamespace(logprob=self.logprob)} for token in ids]
        finish = "length" if len(text) == params.sampling.max_tokens else "stop"
        return SimpleNamespace(outputs=[SimpleNamespace(token_ids=ids, text=text,
                                                        finish_reason=finish,
                                                        logprobs=entries)])

"""OpenRLHF's vLLM rollout actor as a `runtime.engines.base.Engine`.

Inside `AgentExecutor.execute()` OpenRLHF hands us `llm_engine`, its vLLM actor, whose
`generate(prompt_token_ids, sampling_params)` returns a vLLM `RequestOutput`. Those engines
hold the weights being trained (OpenRLHF syncs them after every step), so rollouts must go
through them rather than through engines of our own. This adapter gives our runtime the
`Engine` it expects: chat templating with the policy's tokenizer, our per-request sampling
(temperature, seed, stop) and the Lark grammar as vLLM structured output
(`runtime.engines.vllm_engine.sampling_params`), and vLLM results turned into `Completion`s
with token ids and sampled-token logprobs.

A request vLLM refuses fails that one completion (finish reason `error`), never the job:
vLLM 0.29 raises `VLLMValidationError` (a `VLLMClientError`, no longer a `ValueError`) for a
bad request and `EngineGenerateError` for a recoverable failure of one request, and it can
finish a request with the reason `"error"`. Only a dead engine (`EngineDeadError`) stops
the rollout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from runtime.engines.base import (
    Capabilities,
    ChatRequest,
    Completion,
    EngineError,
    FinishReason,
)

ParamsFactory = Callable[[ChatRequest], Any]
"""Builds the engine's sampling parameters for one request."""


def vllm_params(request: ChatRequest) -> Any:
    """vLLM `SamplingParams` for a request (sampled-token logprobs, grammar when set)."""
    from runtime.engines.vllm_engine import sampling_params

    return sampling_params(request)


def request_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of one failed request: vLLM's client errors (`VLLMValidationError`
    and its siblings) and recoverable request failures (`EngineGenerateError`) when vLLM is
    installed, and `ValueError` (what vLLM raised for a bad request before 0.29)."""
    errors: list[type[BaseException]] = [ValueError]
    try:
        from vllm.exceptions import VLLMClientError

        errors.append(VLLMClientError)
    except ImportError:  # vLLM before 0.29 (ValueError), or not installed
        pass
    try:
        from vllm.v1.engine.exceptions import EngineGenerateError

        errors.append(EngineGenerateError)
    except ImportError:
        pass
    return tuple(errors)


def _finish_reason(reason: object) -> FinishReason:
    """vLLM's finish reason in our terms (the vLLM engine's own mapping, with `"error"` an
    error: vLLM 0.29's `FinishReason.ERROR`, a request-level engine failure)."""
    from runtime.engines.vllm_engine import finish_reason_of

    if str(reason) == "error":
        return "error"
    return finish_reason_of(reason)


def completion_from_output(output: Any, prompt_ids: tuple[int, ...],
                           prompt_text: str) -> Completion:
    """A `Completion` from a vLLM `RequestOutput` (first sequence). A missing logprob entry
    (vLLM returned none for a token) is an error: the trainer needs every one."""
    if output is None or not output.outputs:
        return Completion("", prompt_ids, (), (), "error", prompt_text, "no output")
    sequence = output.outputs[0]
    token_ids = tuple(int(token) for token in sequence.token_ids)
    entries = list(sequence.logprobs or [])
    if len(entries) != len(token_ids):
        return Completion(sequence.text, prompt_ids, token_ids, (), "error", prompt_text,
                          f"{len(entries)} logprob entries for {len(token_ids)} tokens")
    logprobs = tuple(float(entry[token].logprob) for token, entry in zip(token_ids, entries,
                                                                          strict=True))
    reason = _finish_reason(sequence.finish_reason)
    error = (f"vLLM finished the request with reason {str(sequence.finish_reason)!r}"
             if reason == "error" else None)
    return Completion(text=sequence.text, prompt_token_ids=prompt_ids, token_ids=token_ids,
                      logprobs=logprobs, finish_reason=reason, prompt_text=prompt_text,
                      error=error)


class OpenRLHFEngine:
    """An `Engine` over one OpenRLHF vLLM actor (`llm_engine` in `execute()`)."""

    def __init__(self, llm_engine: Any, tokenizer: Any, max_length: int, *,
                 make_params: ParamsFactory = vllm_params, name: str = "openrlhf-vllm",
                 failed_request: tuple[type[BaseException], ...] | None = None) -> None:
        self.name = name
        self._llm_engine = llm_engine
        self._tokenizer = tokenizer
        self._max_length = max_length
        self._make_params = make_params
        self._failed_request = failed_request or request_errors()
        self.capabilities = Capabilities(batching=True, logprobs=True, grammar=True,
                                         token_ids=True, max_context=max_length,
                                         continuation=True)

    def encode(self, request: ChatRequest) -> tuple[str, tuple[int, ...]]:
        """The templated prompt text and its token ids (the policy's chat template)."""
        chat = [{"role": message.role, "content": message.content}
                for message in request.messages]
        text = str(self._tokenizer.apply_chat_template(chat, add_generation_prompt=True,
                                                       tokenize=False))
        ids = tuple(int(t) for t in self._tokenizer(text, add_special_tokens=False)["input_ids"])
        return text, ids + request.continue_from

    async def _complete(self, request: ChatRequest) -> Completion:
        prompt_text, prompt_ids = self.encode(request)
        room = self._max_length - len(prompt_ids)
        if room <= 0:
            return Completion("", prompt_ids, (), (), "error", prompt_text,
                              f"prompt of {len(prompt_ids)} tokens leaves no room within "
                              f"max_len {self._max_length}")
        if request.sampling.max_tokens > room:
            request = replace(request, sampling=replace(request.sampling, max_tokens=room))
        try:
            output = await self._llm_engine.generate(list(prompt_ids),
                                                     self._make_params(request))
        except self._failed_request as error:  # vLLM refused or failed this one request
            return Completion("", prompt_ids, (), (), "error", prompt_text,
                              f"{type(error).__name__}: {error}")
        except Exception as error:
            raise EngineError(f"OpenRLHF vLLM engine failed: {error}") from error
        return completion_from_output(output, prompt_ids, prompt_text)

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        """Send every request at once; vLLM batches them with all other rollouts."""
        return list(await asyncio.gather(*(self._complete(request) for request in requests)))

    async def close(self) -> None:
        """Nothing to release: OpenRLHF owns the vLLM actor."""
        return None

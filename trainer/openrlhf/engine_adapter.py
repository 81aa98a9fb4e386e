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

from runtime.engines.base import Capabilities, ChatRequest, Completion, EngineError
from runtime.engines.prompt import PromptError, hf_encoder
from runtime.engines.vllm_engine import completion_from_output

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
        self._encoder = hf_encoder(tokenizer, max_length)
        self._failed_request = failed_request or request_errors()
        self.capabilities = Capabilities(batching=True, logprobs=True, grammar=True,
                                         token_ids=True, max_context=max_length,
                                         continuation=True)

    def encode(self, request: ChatRequest) -> tuple[str, tuple[int, ...]]:
        """The templated prompt text and its token ids (the policy's chat template), with the
        continuation appended; raises `PromptError` when it leaves no room within max_len."""
        prompt = self._encoder.encode(request)
        return prompt.text, prompt.token_ids

    async def _complete(self, request: ChatRequest) -> Completion:
        try:
            prompt = self._encoder.encode(request)
        except PromptError as error:
            return error.completion()
        sized = replace(request, sampling=replace(request.sampling,
                                                  max_tokens=prompt.max_new_tokens))
        try:
            output = await self._llm_engine.generate(list(prompt.token_ids),
                                                     self._make_params(sized))
        except self._failed_request as error:  # vLLM refused or failed this one request
            return Completion.failure(f"{type(error).__name__}: {error}", prompt.text,
                                      prompt.token_ids)
        except Exception as error:
            raise EngineError(f"OpenRLHF vLLM engine failed: {error}") from error
        return completion_from_output(output, request, prompt.text, prompt.token_ids,
                                      self._tokenizer)

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        """Send every request at once; vLLM batches them with all other rollouts."""
        return list(await asyncio.gather(*(self._complete(request) for request in requests)))

    async def close(self) -> None:
        """Nothing to release: OpenRLHF owns the vLLM actor."""
        return None

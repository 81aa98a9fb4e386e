"""Engine for any OpenAI-compatible chat server: `vllm serve`, `llama_cpp.server`, hosted APIs.

Requests go out concurrently (bounded by `max_concurrency`); the server does the batching.
Connection errors, timeouts, HTTP 429 and 5xx are retried with exponential backoff; after the
last try the call raises `EngineUnavailable` (an `EngineError`). Other 4xx answers are the
caller's mistake and raise `EngineError` at once, with the server's message.

What a server can do depends on its kind (`server_kind`):
- "vllm": logprobs, token ids (`return_token_ids`), and Lark grammars as structured outputs
  (`structured_outputs: {"grammar": ...}` in the request body; vLLM ≥ 0.12).
- "llamacpp": logprobs; its `grammar` field takes GBNF, not Lark, so `capabilities.grammar` is
  False and a request with a grammar is refused instead of silently unconstrained.
- "openai" (hosted or unknown servers): logprobs only.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from runtime.engines.base import (
    Capabilities,
    ChatRequest,
    Completion,
    EngineError,
    FinishReason,
)

ServerKind = Literal["vllm", "llamacpp", "openai"]
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class EngineUnavailable(EngineError):
    """The server could not be reached or kept failing after every retry."""

    def __init__(self, message: str, *, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class OpenAIConfig:
    """Where the server is and how to talk to it."""

    base_url: str
    """Root of the API, e.g. "http://127.0.0.1:8000/v1"."""
    model: str
    server_kind: ServerKind = "openai"
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (never the key itself)."""
    max_concurrency: int = 16
    max_retries: int = 4
    """Retries after the first try, so at most `max_retries + 1` attempts per request."""
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    timeout_s: float = 120.0
    connect_timeout_s: float = 5.0
    max_context: int = 8192
    extra_body: dict[str, Any] = field(default_factory=dict)
    """Extra fields merged into every request body (server-specific options)."""


class OpenAIEngine:
    """An `Engine` that sends chat completions over HTTP with `httpx`."""

    def __init__(self, config: OpenAIConfig, *, name: str = "openai") -> None:
        if config.max_concurrency < 1:
            raise EngineError(f"max_concurrency must be at least 1, got {config.max_concurrency}")
        if config.max_retries < 0:
            raise EngineError(f"max_retries must be at least 0, got {config.max_retries}")
        self.name = name
        self.config = config
        self.capabilities = Capabilities(
            batching=True,
            logprobs=True,
            grammar=config.server_kind == "vllm",
            token_ids=config.server_kind == "vllm",
            max_context=config.max_context,
        )
        self._api_key = self._read_api_key(config.api_key_env)
        self._client: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def _read_api_key(variable: str | None) -> str | None:
        if variable is None:
            return None
        key = os.environ.get(variable)
        if not key:
            raise EngineError(f"the API key variable {variable!r} is not set in the environment")
        return key

    def _bind_to_running_loop(self) -> asyncio.Semaphore:
        """Semaphore and connection pool belong to one event loop; a new loop gets new ones."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._semaphore is None:
            self._loop = loop
            self._semaphore = asyncio.Semaphore(self.config.max_concurrency)
            self._client = None  # a pool from a closed loop cannot be reused
        return self._semaphore

    def _http(self) -> Any:
        import httpx

        if self._client is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._client = httpx.AsyncClient(
                base_url=self.config.base_url.rstrip("/") + "/",
                headers=headers,
                timeout=httpx.Timeout(self.config.timeout_s, connect=self.config.connect_timeout_s),
            )
        return self._client

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        """Send every request (concurrently, within the limit); completions come back in order."""
        for index, request in enumerate(requests):
            if request.grammar is not None and not self.capabilities.grammar:
                raise EngineError(
                    f"request {index} has a grammar, but a {self.config.server_kind!r} server "
                    "cannot constrain decoding with a Lark grammar (only server_kind='vllm' can)"
                )
            if request.continue_from:
                raise EngineError(
                    f"request {index} continues a reply from token ids, which a chat-completions "
                    "server cannot do; use the llamacpp, transformers or vllm engine"
                )
        semaphore = self._bind_to_running_loop()
        completions = asyncio.gather(*(self._complete(request, semaphore) for request in requests))
        return list(await completions)

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
            self._client = None

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body for one chat completion (public so callers can log or inspect it)."""
        sampling = request.sampling
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "logprobs": True,
            "top_logprobs": 1,  # llama_cpp.server returns no logprobs without it
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if self.config.server_kind == "vllm":
            body["return_token_ids"] = True
            if request.grammar is not None:
                body["structured_outputs"] = {"grammar": request.grammar}
        body.update(self.config.extra_body)
        return body

    async def _complete(self, request: ChatRequest, semaphore: asyncio.Semaphore) -> Completion:
        async with semaphore:
            payload = await self._post_with_retries(self.request_body(request))
        return parse_chat_response(payload)

    async def _post_with_retries(self, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        attempts = self.config.max_retries + 1
        last_problem = ""
        for attempt in range(attempts):
            if attempt > 0:
                delay = self.config.backoff_initial_s * 2 ** (attempt - 1)
                await asyncio.sleep(min(delay, self.config.backoff_max_s))
            try:
                response = await self._http().post("chat/completions", json=body)
            except httpx.TransportError as error:  # connect refused, reset, timeouts
                last_problem = f"{type(error).__name__}: {error}"
                continue
            if response.status_code in RETRYABLE_STATUS:
                last_problem = f"HTTP {response.status_code}: {response.text[:300]}"
                continue
            if response.status_code >= 400:
                raise EngineError(
                    f"{self.config.base_url} refused the request (HTTP {response.status_code}): "
                    f"{response.text[:500]}"
                )
            try:
                payload: dict[str, Any] = response.json()
            except ValueError as error:
                raise EngineError(f"{self.config.base_url} answered with invalid JSON") from error
            return payload
        raise EngineUnavailable(
            f"{self.config.base_url} failed {attempts} attempt(s); last: {last_problem}",
            attempts=attempts,
        )


def parse_chat_response(payload: dict[str, Any]) -> Completion:
    """Turn an OpenAI-style chat completion body into a `Completion` (first choice)."""
    choices = payload.get("choices") or []
    if not choices:
        raise EngineError(f"the server's answer has no choices: {str(payload)[:300]}")
    choice = choices[0]
    text = (choice.get("message") or {}).get("content") or ""
    logprob_items = (choice.get("logprobs") or {}).get("content") or []
    token_ids = tuple(int(token) for token in choice.get("token_ids") or ())
    prompt_token_ids = tuple(int(token) for token in payload.get("prompt_token_ids") or ())
    finish = _finish_reason(choice.get("finish_reason"))
    if finish == "error":
        return Completion.failure(f"the server ended the request: {choice.get('finish_reason')}",
                                  prompt_token_ids=prompt_token_ids)
    # One logprob per token: servers that return no token ids give nothing to attach them to.
    logprobs = tuple(float(item["logprob"]) for item in logprob_items) if token_ids else ()
    if len(logprobs) != len(token_ids):
        return Completion.failure(f"the server returned {len(logprobs)} logprobs for "
                                  f"{len(token_ids)} tokens", prompt_token_ids=prompt_token_ids)
    return Completion(
        text=text,
        prompt_token_ids=prompt_token_ids,
        token_ids=token_ids,
        logprobs=logprobs,
        finish_reason=finish,
    )


def _finish_reason(reason: object) -> FinishReason:
    if reason == "length":
        return "length"
    if reason in {"abort", "error"}:
        return "error"
    return "stop"  # "stop", "tool_calls", "content_filter", None (some servers omit it)

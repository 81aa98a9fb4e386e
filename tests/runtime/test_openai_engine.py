"""OpenAIEngine against a real llama_cpp.server on loopback, a down port, and a flaky double.

The llama_cpp.server subprocess serves the embedded SmolLM2 GGUF for the whole module; tests
skip with the reason when it cannot start (missing server extras or model).
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from typing import ClassVar

import pytest

from runtime.engines.base import ChatRequest, EngineError, Message, Sampling
from runtime.engines.openai_engine import (
    EngineUnavailable,
    OpenAIConfig,
    OpenAIEngine,
    parse_chat_response,
)
from tests.runtime.conftest import free_port

httpx = pytest.importorskip("httpx")

QUESTION = (Message("user", "Name three colours."),)


def llamacpp_engine(url: str, **options: object) -> OpenAIEngine:
    return OpenAIEngine(OpenAIConfig(base_url=url, model="smollm2", server_kind="llamacpp",
                                     **options))  # type: ignore[arg-type]


def greedy(max_tokens: int, stop: tuple[str, ...] = ()) -> ChatRequest:
    sampling = Sampling(temperature=0.0, max_tokens=max_tokens, seed=1, stop=stop)
    return ChatRequest(QUESTION, sampling)


def test_generate_returns_text_and_no_logprobs_without_token_ids(server_url: str) -> None:
    engine = llamacpp_engine(server_url)
    assert not engine.capabilities.grammar and not engine.capabilities.token_ids
    [completion] = asyncio.run(engine.generate([greedy(4)]))
    assert completion.text
    assert completion.finish_reason == "length"
    # llama_cpp.server returns logprobs but no token ids: the contract's one logprob per
    # token leaves nothing to attach them to, so neither is returned.
    assert completion.token_ids == () and completion.logprobs == ()


def test_concurrent_requests_keep_their_order(server_url: str) -> None:
    engine = llamacpp_engine(server_url, max_concurrency=2)
    requests = [greedy(tokens) for tokens in (3, 1, 2)]
    completions = asyncio.run(engine.generate(requests))
    texts = [completion.text for completion in completions]  # greedy: prefixes of each other
    assert texts[1] != texts[2] != texts[0]
    assert texts[0].startswith(texts[2]) and texts[2].startswith(texts[1])


def test_stop_strings_reach_the_server(server_url: str) -> None:
    engine = llamacpp_engine(server_url)
    [baseline] = asyncio.run(engine.generate([greedy(8)]))
    words = baseline.text.split()
    assert len(words) >= 2, baseline.text
    stop = words[1]
    [stopped] = asyncio.run(engine.generate([greedy(8, stop=(stop,))]))
    assert stopped.finish_reason == "stop"
    assert stopped.text == baseline.text[: baseline.text.find(stop)]


def test_lark_grammar_is_refused_by_a_llamacpp_server(server_url: str) -> None:
    engine = llamacpp_engine(server_url)
    request = ChatRequest(QUESTION, Sampling(max_tokens=2), grammar='start: "yes"')
    with pytest.raises(EngineError, match="cannot constrain"):
        asyncio.run(engine.generate([request]))


def test_client_errors_are_not_retried(server_url: str) -> None:
    # A wrong base path: the real server answers 404, which no retry could fix.
    engine = llamacpp_engine(server_url + "/wrong-prefix", backoff_initial_s=5.0)
    started = time.monotonic()
    with pytest.raises(EngineError, match="HTTP 404") as caught:
        asyncio.run(engine.generate([greedy(1)]))
    assert not isinstance(caught.value, EngineUnavailable)
    assert time.monotonic() - started < 4.0


def test_down_server_fails_after_retries_quickly() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: connection refused
    engine = OpenAIEngine(OpenAIConfig(base_url=url, model="m", max_retries=2,
                                       backoff_initial_s=0.01, connect_timeout_s=1.0))
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match="3 attempt") as caught:
        asyncio.run(engine.generate([greedy(1)]))
    assert caught.value.attempts == 3
    assert "ConnectError" in str(caught.value)
    assert time.monotonic() - started < 3.0


class FlakyServerDouble(http.server.BaseHTTPRequestHandler):
    """Test double: answers 503 to the first `failures` posts, then a fixed vLLM-style reply."""

    failures: ClassVar[int] = 2
    hits: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FlakyServerDouble.hits.append(body)
        if len(FlakyServerDouble.hits) <= FlakyServerDouble.failures:
            self.send_response(503)
            self.end_headers()
            return
        reply = json.dumps(VLLM_REPLY).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


VLLM_REPLY = {
    "prompt_token_ids": [1, 2, 3],
    "choices": [{
        "message": {"role": "assistant", "content": "yes"},
        "finish_reason": "stop",
        "token_ids": [42, 2],
        "logprobs": {"content": [{"token": "yes", "logprob": -0.5},
                                 {"token": "", "logprob": -0.1}]},
    }],
}


def test_server_errors_are_retried_with_backoff_and_vllm_fields_are_sent() -> None:
    FlakyServerDouble.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyServerDouble)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        engine = OpenAIEngine(OpenAIConfig(base_url=url, model="m", server_kind="vllm",
                                           max_retries=3, backoff_initial_s=0.01))
        request = ChatRequest(QUESTION, Sampling(max_tokens=4, seed=5), grammar='start: "yes"')
        [completion] = asyncio.run(engine.generate([request]))
    finally:
        server.shutdown()
    assert len(FlakyServerDouble.hits) == 3
    sent = FlakyServerDouble.hits[-1]
    assert sent["structured_outputs"] == {"grammar": 'start: "yes"'}
    assert sent["return_token_ids"] is True and sent["seed"] == 5
    assert completion.text == "yes" and completion.finish_reason == "stop"
    assert completion.token_ids == (42, 2) and completion.prompt_token_ids == (1, 2, 3)
    assert completion.logprobs == (-0.5, -0.1)


def test_missing_api_key_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASDSL_TEST_MISSING_KEY", raising=False)
    with pytest.raises(EngineError, match="MASDSL_TEST_MISSING_KEY"):
        OpenAIEngine(OpenAIConfig(base_url="http://127.0.0.1:1/v1", model="m",
                                  api_key_env="MASDSL_TEST_MISSING_KEY"))


def test_response_without_choices_is_an_engine_error() -> None:
    with pytest.raises(EngineError, match="no choices"):
        parse_chat_response({"choices": []})

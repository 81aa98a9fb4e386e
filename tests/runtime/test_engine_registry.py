"""The engine registry: built-in names, clear errors, user-registered engines, lazy imports."""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
import uuid

import pytest

from runtime.engines import create_engine, default_registry, register_engine
from runtime.engines.base import Capabilities, ChatRequest, Completion, EngineError, Message
from runtime.engines.openai_engine import OpenAIEngine


class ScriptedEngineDouble:
    """Test double: answers every request with a fixed text."""

    def __init__(self, model: str | None, reply: str = "ok") -> None:
        self.name = "scripted"
        self.model = model
        self.reply = reply
        self.capabilities = Capabilities(
            batching=False, logprobs=False, grammar=False, token_ids=False, max_context=100
        )

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        return [Completion(self.reply, (), (), (), "stop") for _ in requests]

    async def close(self) -> None:
        pass


def scripted_factory(*, model: str | None = None, **options: str) -> ScriptedEngineDouble:
    return ScriptedEngineDouble(model, **options)


def test_builtin_engines_are_registered() -> None:
    assert default_registry().names() == ("llamacpp", "openai", "transformers", "vllm")


def test_unknown_engine_lists_the_known_ones() -> None:
    with pytest.raises(EngineError, match=r"unknown engine 'nope'; known engines: llamacpp, op"):
        create_engine("nope")


def test_user_engine_is_created_with_model_and_options() -> None:
    registry = default_registry()
    registry.register("scripted", scripted_factory)
    engine = create_engine("scripted", model="tiny", reply="hi", registry=registry)
    assert isinstance(engine, ScriptedEngineDouble)
    assert engine.model == "tiny"
    [completion] = asyncio.run(engine.generate([ChatRequest((Message("user", "x"),))]))
    assert completion.text == "hi"
    assert "scripted" in registry.names()
    with pytest.raises(ValueError, match="already registered"):
        registry.register("scripted", scripted_factory)
    registry.register("scripted", lambda **_: ScriptedEngineDouble("other"), replace=True)
    assert create_engine("scripted", registry=registry).model == "other"  # type: ignore[attr-defined]


def test_register_engine_reaches_the_process_registry() -> None:
    name = f"scripted_{uuid.uuid4().hex[:8]}"
    register_engine(name, scripted_factory)
    assert isinstance(create_engine(name, model="m"), ScriptedEngineDouble)


def test_invalid_engine_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="identifier"):
        default_registry().register("two words", scripted_factory)


def test_openai_engine_from_options() -> None:
    engine = create_engine(
        "openai", model="m", base_url="http://127.0.0.1:9/v1", server_kind="vllm", max_retries=1
    )
    assert isinstance(engine, OpenAIEngine)
    assert engine.config.max_retries == 1 and engine.capabilities.grammar
    with pytest.raises(EngineError, match="bad option"):
        create_engine("openai", model="m", base_url="http://x/v1", colour="red")
    with pytest.raises(EngineError, match="base_url"):
        create_engine("openai", model="m")


def test_vllm_without_gpu_stack_is_a_clear_error() -> None:
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed: construction is covered by the gpu tests")
    with pytest.raises(EngineError, match="vllm"):
        create_engine("vllm", model="/models/any")


def test_llamacpp_missing_module_is_an_engine_error() -> None:
    if importlib.util.find_spec("runtime.engines.llamacpp") is not None:
        pytest.skip("the llamacpp engine is present; its own tests cover construction")
    with pytest.raises(EngineError, match="llamacpp engine is unavailable"):
        create_engine("llamacpp")


def test_importing_the_registry_imports_no_heavy_library() -> None:
    code = (
        "import sys, runtime.engines; "
        "print(sorted(m for m in ('torch', 'transformers', 'llama_cpp', 'ray', 'vllm', 'httpx')"
        " if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"

"""Engine registry: build an engine by name, and let users register their own factories.

A registry is a plain object (no module-level mutable state): `default_registry()` returns a
fresh one knowing the built-in engines. Each builder imports its engine module only when called,
so listing or choosing engines never imports torch, llama_cpp, ray or vllm.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from runtime.engines.base import Engine, EngineError

EngineFactory = Callable[..., Engine]
"""Called as `factory(model=..., **options)`; returns a ready engine."""


class EngineRegistry:
    """Names → engine factories."""

    def __init__(self) -> None:
        self._factories: dict[str, EngineFactory] = {}

    def register(self, name: str, factory: EngineFactory, *, replace: bool = False) -> None:
        """Make `create(name, ...)` call `factory`; re-registering a name needs `replace=True`."""
        if not name or not name.replace("-", "_").isidentifier():
            raise ValueError(f"engine name {name!r} must be a non-empty identifier")
        if name in self._factories and not replace:
            raise ValueError(f"engine {name!r} is already registered (pass replace=True)")
        self._factories[name] = factory

    def names(self) -> tuple[str, ...]:
        """Registered engine names, sorted."""
        return tuple(sorted(self._factories))

    def create(self, name: str, *, model: str | None = None, **options: Any) -> Engine:
        """Build the engine registered as `name`; unknown names list the known ones."""
        factory = self._factories.get(name)
        if factory is None:
            raise EngineError(
                f"unknown engine {name!r}; known engines: {', '.join(self.names())}"
            )
        return factory(model=model, **options)


def build_llamacpp(*, model: str | None = None, **options: Any) -> Engine:
    """`llamacpp`: `runtime.engines.llamacpp.LlamaCppEngine` (default: the embedded SmolLM2)."""
    try:
        module = importlib.import_module("runtime.engines.llamacpp")
    except ImportError as error:
        raise EngineError(f"the llamacpp engine is unavailable: {error}") from error
    engine: Engine = module.LlamaCppEngine(model, **options)
    return engine


def build_transformers(*, model: str | None = None, **options: Any) -> Engine:
    """`transformers`: a local model directory or GGUF file; default the embedded SmolLM2."""
    from runtime.engines.embedded import embedded_gguf_path
    from runtime.engines.transformers_engine import TransformersEngine

    return TransformersEngine.from_pretrained(model or embedded_gguf_path(), **options)


def build_openai(*, model: str | None = None, **options: Any) -> Engine:
    """`openai`: needs `base_url`; other `OpenAIConfig` fields are keyword options."""
    from runtime.engines.openai_engine import OpenAIConfig, OpenAIEngine

    if model is None or "base_url" not in options:
        raise EngineError("the openai engine needs model=... and base_url=...")
    name = options.pop("name", "openai")
    try:
        config = OpenAIConfig(model=model, **options)
    except TypeError as error:
        raise EngineError(f"bad option for the openai engine: {error}") from error
    return OpenAIEngine(config, name=name)


def build_vllm(*, model: str | None = None, **options: Any) -> Engine:
    """`vllm`: a local model path; other `VLLMConfig` fields are keyword options."""
    from runtime.engines.vllm_engine import VLLMConfig, VLLMEngine

    if model is None:
        raise EngineError("the vllm engine needs model=<local model path>")
    name = options.pop("name", "vllm")
    try:
        config = VLLMConfig(model=model, **options)
    except TypeError as error:
        raise EngineError(f"bad option for the vllm engine: {error}") from error
    return VLLMEngine(config, name=name)


def default_registry() -> EngineRegistry:
    """A new registry with the built-in engines: llamacpp, transformers, openai, vllm."""
    registry = EngineRegistry()
    registry.register("llamacpp", build_llamacpp)
    registry.register("transformers", build_transformers)
    registry.register("openai", build_openai)
    registry.register("vllm", build_vllm)
    return registry

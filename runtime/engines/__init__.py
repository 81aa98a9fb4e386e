"""LLM engines behind one interface (`runtime.engines.base.Engine`), built by name.

    engine = create_engine("transformers")                     # embedded SmolLM2 on torch
    engine = create_engine("openai", model="m", base_url="http://127.0.0.1:8000/v1",
                           server_kind="vllm")
    register_engine("mine", lambda *, model=None, **options: MyEngine(model, **options))

`create_engine` / `register_engine` act on the process's default `EngineRegistry`; code that
wants isolation (tests, libraries) builds its own with `default_registry()` and passes it as
`registry=`.
"""

from __future__ import annotations

from typing import Any

from runtime.engines.base import Engine
from runtime.engines.registry import EngineFactory, EngineRegistry, default_registry

__all__ = [
    "EngineFactory",
    "EngineRegistry",
    "create_engine",
    "default_registry",
    "register_engine",
]

# The one deliberate piece of module state: the registry `register_engine` adds to, so that a
# user's plug-in engine becomes available to every `create_engine` caller (the CLI included).
_PROCESS_REGISTRY = default_registry()


def create_engine(
    name: str, *, model: str | None = None, registry: EngineRegistry | None = None, **options: Any
) -> Engine:
    """Build the engine called `name` (llamacpp, transformers, openai, vllm, or registered).

    Unknown names raise `EngineError` listing the known ones.
    """
    return (registry or _PROCESS_REGISTRY).create(name, model=model, **options)


def register_engine(
    name: str,
    factory: EngineFactory,
    *,
    replace: bool = False,
    registry: EngineRegistry | None = None,
) -> None:
    """Make `create_engine(name, model=..., **options)` call `factory(model=..., **options)`."""
    (registry or _PROCESS_REGISTRY).register(name, factory, replace=replace)

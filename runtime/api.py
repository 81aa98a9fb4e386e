"""The runtime's Python API: run a spec on inputs with an engine.

`run(spec, inputs)` compiles the spec (text, a path, or a `CompiledSpec`), converts the inputs
to the declared types, and executes once per input set (× `samples`), all concurrently in one
event loop so the engine batches their LLM calls. `masdsl.run` forwards here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from compiler.api import CompiledSpec
from compiler.api import compile as compile_spec
from runtime.budget import Budget
from runtime.engines.base import Engine
from runtime.executor import ExecutionResult, Executor
from runtime.inputs import coerce_inputs
from runtime.tools.binding import ToolBindingError, bind_tools
from runtime.tools.mcp_client import McpError, connect_mcp
from runtime.tools.registry import ToolRegistry
from runtime.trace import TurnRecord

__all__ = ["McpError", "ToolBindingError", "ToolRegistry", "engine_models", "load_spec",
           "make_engine", "run", "run_async"]


def load_spec(spec: str | Path | CompiledSpec) -> CompiledSpec:
    """A compiled spec from a `CompiledSpec`, a path to a `.mas` file, or spec text."""
    if isinstance(spec, CompiledSpec):
        return spec
    if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith(".mas")
                                  and "\n" not in spec):
        path = Path(spec)
        return compile_spec(path.read_bytes(), path=str(path))
    return compile_spec(spec)


def engine_models(compiled: CompiledSpec) -> set[str]:
    """Every model name the spec's agents use (`executor` always included)."""
    return {node.agent.model for node in compiled.ir.agent_nodes()} | {"executor"}


def make_engine(engine: str | Engine, model: str | None = None, **options: Any) -> Engine:
    """An engine instance from a registered name (`llamacpp`, `transformers`, `openai`,
    `vllm`, ...) or an engine object given as is."""
    if not isinstance(engine, str):
        return engine
    from runtime.engines import create_engine

    return create_engine(engine, model=model, **options)


async def run_async(spec: str | Path | CompiledSpec,
                    inputs: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
                    engine: str | Engine = "llamacpp", model: str | None = None,
                    engines: Mapping[str, Engine] | None = None, samples: int = 1,
                    seed: int = 0, budget: Budget | None = None,
                    tools: ToolRegistry | None = None,
                    mcp: Sequence[str | Sequence[str]] = (), concurrency: int = 64,
                    on_turn: Callable[[TurnRecord], None] | None = None,
                    on_done: Callable[[ExecutionResult], None] | None = None,
                    from_command_line: bool = False) -> list[ExecutionResult]:
    """Execute `spec` on every input set (`samples` times each); see `run`."""
    compiled = load_spec(spec)
    batch = [inputs] if isinstance(inputs, Mapping) else list(inputs)
    typed = [coerce_inputs(item, compiled.ir.inputs, from_command_line=from_command_line)
             for item in batch]
    jobs = [values for values in typed for _ in range(samples)]
    async with AsyncExitStack() as stack:
        # Tools first: a declared tool nothing implements (ToolBindingError) or an MCP server
        # that does not start (McpError) stops the run before an engine is loaded.
        servers = [await stack.enter_async_context(connect_mcp(command)) for command in mcp]
        bound = bind_tools(compiled.ir, tools, servers)
        owned = engines is None
        if engines is None:
            shared = make_engine(engine, model)
            engines = {name: shared for name in engine_models(compiled)}
        missing = engine_models(compiled) - set(engines)
        if missing:
            raise ValueError(f"no engine given for model(s) {', '.join(sorted(missing))} "
                             "used by the spec's agents")
        executor = Executor(compiled.ir, engines, tools=bound, budget=budget)
        try:
            return await executor.run_many(jobs, seed=seed, concurrency=concurrency,
                                           on_turn=on_turn, on_done=on_done)
        finally:
            if owned:
                for instance in {id(e): e for e in engines.values()}.values():
                    await instance.close()


def run(spec: str | Path | CompiledSpec,
        inputs: Mapping[str, Any] | Sequence[Mapping[str, Any]], **options: Any,
        ) -> list[ExecutionResult]:
    """Run a spec and return one `ExecutionResult` per execution (input sets in order, each
    repeated `samples` times). Options: `engine` (name or instance; default the embedded
    llama.cpp model), `model`, `engines` (by model name), `samples`, `seed`, `budget`,
    `tools` (a `ToolRegistry`: builtins, and functions for the spec's declared tools), `mcp`
    (stdio MCP server command lines whose tools implement declared tools; each server is
    started before the run and stopped after it), `concurrency`, `on_turn`, `on_done`.
    Raises `ToolBindingError` when a declared tool has no fitting implementation and
    `McpError` when a server does not start, both before any LLM call."""
    return asyncio.run(run_async(spec, inputs, **options))

"""The registry holds the built-in and user tools; each tool answers through ToolResult."""

from __future__ import annotations

import asyncio

import pytest

from runtime.tools.registry import (
    CalculatorTool,
    FunctionTool,
    PythonTool,
    Tool,
    ToolRegistry,
    ToolResult,
    UnknownToolError,
    default_tools,
)
from runtime.tools.sandbox import SandboxLimits


def test_default_tools_are_python_and_calculator() -> None:
    registry = default_tools()
    assert registry.names() == ("calculator", "python")
    assert isinstance(registry.get("python"), PythonTool)
    assert "python" in registry and "search" not in registry
    names = [name for name, _ in registry.descriptions(["calculator"])]
    assert names == ["calculator"]


def test_calculator_tool_results() -> None:
    tool = CalculatorTool()
    assert asyncio.run(tool.call("6 * 7")) == ToolResult("42", True)
    failed = asyncio.run(tool.call("1/0"))
    assert not failed.ok and failed.text.startswith("error: division by zero")


def test_python_tool_runs_code_and_reports_errors_and_limits() -> None:
    tool = PythonTool(SandboxLimits(wall_seconds=0.5))
    assert asyncio.run(tool.call("print(sum(range(10)))")) == ToolResult("45", True)
    error = asyncio.run(tool.call("1/0"))
    assert not error.ok and "ZeroDivisionError" in error.text and error.text.startswith("stderr:")
    slow = asyncio.run(tool.call("import time\ntime.sleep(5)"))
    assert not slow.ok and slow.text == "[stopped: took longer than 0.5 s]"
    silent = asyncio.run(tool.call("x = 1"))
    assert silent.ok and "use print()" in silent.text


def test_user_function_tools_sync_and_async() -> None:
    async def shout(text: str) -> str:
        return text.upper()

    def fail(text: str) -> str:
        raise LookupError(f"no entry for {text}")

    registry = default_tools()
    registry.register(FunctionTool("shout", "Upper-case text.", shout))
    registry.register(FunctionTool("lookup", "Look a word up.", fail))
    registry.register(FunctionTool("length", "Count characters.", lambda s: str(len(s))))
    assert asyncio.run(registry.get("shout").call("hi")) == ToolResult("HI", True)
    assert asyncio.run(registry.get("length").call("four")) == ToolResult("4", True)
    assert asyncio.run(registry.get("lookup").call("cat")) == ToolResult(
        "error: LookupError: no entry for cat", False)
    assert registry.names() == ("calculator", "length", "lookup", "python", "shout")


def test_registration_errors_are_clear() -> None:
    registry = default_tools()
    with pytest.raises(ValueError, match="already registered"):
        registry.register(CalculatorTool())
    registry.register(CalculatorTool(description="Maths."), replace=True)
    assert registry.get("calculator").description == "Maths."
    with pytest.raises(ValueError, match="must start with a letter or `_`"):
        registry.register(FunctionTool("Web Search", "x", str))
    with pytest.raises(TypeError, match="not a tool"):
        registry.register("calculator")  # type: ignore[arg-type]
    message = r"unknown tool 'search' \(known: calculator, python\)"
    with pytest.raises(UnknownToolError, match=message):
        registry.get("search")


def test_tool_protocol_is_structural() -> None:
    assert isinstance(CalculatorTool(), Tool)
    assert ToolRegistry().names() == ()

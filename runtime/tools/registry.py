"""Tools an agent may call, by name: the built-ins (python, calculator) and the user's own.

A tool is anything with a `name`, a one-line `description` for the prompt, and an async
`call(argument) -> ToolResult`. Users extend the set from Python:

    registry = default_tools()
    registry.register(FunctionTool("lookup", "Look up a word in the glossary.", glossary.get))

Tool names are lower-case identifiers, the same names a `.mas` agent lists in `tools [...]`.
A registry is an ordinary object passed to the runtime; there is no global one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from runtime.tools.calculator_worker import CalculatorProcess
from runtime.tools.protocol import TOOL_NAME
from runtime.tools.sandbox import SandboxLimits, SandboxResult, run_python_async

MAX_RESULT_CHARS = 4000


@dataclass(frozen=True)
class ToolResult:
    """What a tool gives back to the model; `ok` is false when the tool reported an error."""

    text: str
    ok: bool


@runtime_checkable
class Tool(Protocol):
    """The tool interface: a name, a description for the prompt, an async call."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    async def call(self, argument: str) -> ToolResult: ...


def _clip(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "\n[output truncated]"


@dataclass(frozen=True)
class CalculatorTool:
    """Arithmetic with `runtime.tools.calculator`: exact and bounded, evaluated in a worker
    process with a timeout (`calculator_worker`), so it can never freeze the event loop."""

    name: str = "calculator"
    description: str = ("Evaluate an arithmetic expression, e.g. (3 + 4) * 2 or sqrt(2). "
                        "Functions: sqrt log exp sin cos tan abs round floor ceil; pi, e.")
    worker: CalculatorProcess = field(default_factory=CalculatorProcess, compare=False,
                                      repr=False)

    async def call(self, argument: str) -> ToolResult:
        text = await self.worker.calculate_async(argument)
        return ToolResult(text, not text.startswith("error:"))


def describe_sandbox_result(result: SandboxResult, limits: SandboxLimits) -> str:
    """The text a model sees for a sandboxed run: output, errors, and why it stopped."""
    parts = [result.stdout.rstrip()] if result.stdout.strip() else []
    if result.stderr.strip():
        parts.append("stderr:\n" + result.stderr.rstrip())
    reasons = {
        "wall": f"stopped: took longer than {limits.wall_seconds:g} s",
        "cpu": f"stopped: used more than {limits.cpu_seconds} s of CPU",
        "memory": f"stopped: used more than {limits.memory_bytes // 2**20} MiB of memory",
        "output": f"stopped: printed more than {limits.max_output_bytes} bytes",
    }
    if result.killed_reason is not None:
        parts.append(f"[{reasons[result.killed_reason]}]")
    elif result.truncated:
        parts.append("[output truncated]")
    if not parts:
        parts.append("(no output; use print() to see values)")
    return _clip("\n".join(parts))


@dataclass(frozen=True)
class PythonTool:
    """Run Python code in `runtime.tools.sandbox` and return what it printed."""

    limits: SandboxLimits = field(
        default_factory=lambda: SandboxLimits(wall_seconds=10.0, max_output_bytes=8192))
    name: str = "python"
    description: str = ("Run a Python program (standard library only) and see what it prints. "
                        "Use print() to show results.")

    async def call(self, argument: str) -> ToolResult:
        result = await run_python_async(argument, limits=self.limits)
        return ToolResult(describe_sandbox_result(result, self.limits), result.ok)


@dataclass(frozen=True)
class FunctionTool:
    """A user's function as a tool: `function(argument)` may be sync or async and returns text.
    A sync function runs in a worker thread; an exception becomes an error result."""

    name: str
    description: str
    function: Callable[[str], str] | Callable[[str], Awaitable[str]]

    async def call(self, argument: str) -> ToolResult:
        try:
            if inspect.iscoroutinefunction(self.function):
                text = await self.function(argument)
            else:
                text = await asyncio.to_thread(self.function, argument)
        except Exception as error:  # the model sees the error, the run goes on
            return ToolResult(f"error: {type(error).__name__}: {error}", False)
        return ToolResult(_clip(str(text)), True)


class UnknownToolError(KeyError):
    """A tool name that is not registered; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0])


class ToolRegistry:
    """Tools by name. Registering a name twice is an error, so a user tool never silently
    replaces a built-in; `replace=True` says it is meant."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool, *, replace: bool = False) -> None:
        if not isinstance(tool, Tool):
            raise TypeError(f"not a tool (needs name, description and async call): {tool!r}")
        if not TOOL_NAME.match(tool.name):
            raise ValueError(f"tool name {tool.name!r} must be a lower-case identifier")
        if tool.name in self._tools and not replace:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise UnknownToolError(f"unknown tool {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._tools))

    def descriptions(self, names: Iterable[str]) -> list[tuple[str, str]]:
        """(name, description) for the given tools, for `protocol.tool_instructions`."""
        return [(name, self.get(name).description) for name in names]


def default_tools(python_limits: SandboxLimits | None = None) -> ToolRegistry:
    """A registry holding the built-in tools: `python` (sandboxed) and `calculator`."""
    python = PythonTool(python_limits) if python_limits is not None else PythonTool()
    return ToolRegistry([python, CalculatorTool()])

"""Tools an agent may call, by name: the built-ins (python, calculator) and the user's own.

A tool is anything with a `name`, a one-line `description` for the prompt, and an async
`call(argument) -> ToolResult`. Users extend the set from Python:

    registry = default_tools()
    registry.register(FunctionTool("lookup", "Look up a word in the glossary.", glossary.get))

Tool names are the names a `.mas` agent lists in `tools [...]` (letters, digits, `_ - .`).
A registry is an ordinary object passed to the runtime; there is no global one.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from runtime.tools.calculator_worker import CalculatorProcess
from runtime.tools.protocol import TOOL_NAME
from runtime.tools.sandbox import SandboxLimits, SandboxResult, run_python_async
from runtime.values import JSONValue

MAX_RESULT_CHARS = 4000
DEFAULT_TOOL_TIMEOUT_S = 60.0
"""How long one call of a user's tool (a Python function or an MCP tool) may take."""


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


def clip(text: str, limit: int = MAX_RESULT_CHARS) -> str:
    """`text` cut to `limit` characters, saying so."""
    return text if len(text) <= limit else text[:limit] + "\n[output truncated]"


class ToolCallError(Exception):
    """A failure the model should read (the message is shown as is after `error: `)."""


def error_text(error: Exception) -> str:
    """How a failed call reads to the model."""
    if isinstance(error, ToolCallError):
        return f"error: {error}"
    return f"error: {type(error).__name__}: {error}"


def as_text(raw: object) -> str:
    """A raw result as text: strings as they are, anything else as JSON when it can be."""
    if isinstance(raw, str):
        return raw
    try:
        return json.dumps(raw, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(raw)




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
    return clip("\n".join(parts))


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
        return ToolResult(clip(str(text)), True)


@dataclass(frozen=True)
class PythonFunction:
    """A Python callable as a tool implementation: called with the arguments as keywords,
    sync functions in a worker thread, coroutine functions awaited. As a plain `Tool` (for
    an undeclared use) it reads its argument as a JSON object without type checks."""

    name: str
    function: Callable[..., Any]
    description: str = ""
    timeout_s: float = DEFAULT_TOOL_TIMEOUT_S

    @property
    def where(self) -> str:
        qualified = getattr(self.function, "__qualname__", repr(self.function))
        return f"Python function {getattr(self.function, '__module__', '?')}.{qualified}"

    async def invoke(self, arguments: Mapping[str, JSONValue]) -> object:
        """Call the function; a call over `timeout_s` becomes an error for the model (a sync
        function's thread cannot be stopped and finishes in the background)."""
        if inspect.iscoroutinefunction(self.function):
            running = self.function(**arguments)
        else:
            running = asyncio.to_thread(self.function, **arguments)
        try:
            return await asyncio.wait_for(running, self.timeout_s)
        except TimeoutError:
            raise ToolCallError(f"the tool took longer than {self.timeout_s:g} s") from None

    def accepts(self, names: list[str]) -> str | None:
        """None when the function can be called with exactly these keywords, else why not."""
        try:
            signature = inspect.signature(self.function)
        except (TypeError, ValueError):
            return None  # a builtin without a signature: trust it
        try:
            signature.bind(**{name: None for name in names})
        except TypeError as error:
            return str(error)
        return None

    async def call(self, argument: str) -> ToolResult:
        try:
            data = json.loads(argument) if argument.strip() else {}
            if not isinstance(data, dict):
                raise ToolCallError("give the arguments as a JSON object")
            return ToolResult(clip(as_text(await self.invoke(data))), True)
        except Exception as error:  # the model sees the error, the run goes on
            return ToolResult(error_text(error), False)


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
            raise ValueError(f"tool name {tool.name!r} must start with a letter or `_` and "
                             "hold only letters, digits, `_`, `-` and `.`")
        if tool.name in self._tools and not replace:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def register_function(self, name: str, function: Callable[..., Any], *,
                          description: str = "", timeout_s: float = DEFAULT_TOOL_TIMEOUT_S,
                          replace: bool = False) -> None:
        """Register a Python function under a tool name the spec declares
        (`tool name(params) -> result`). At run time it is called with the declared
        parameters as keyword arguments (JSON-safe values: str, int/float, bool, list, dict
        for records), after they were checked against their types; its return value is
        converted to the declared result type. Sync functions run in a worker thread; a call
        over `timeout_s` seconds is reported to the model as an error."""
        if not callable(function):
            raise TypeError(f"not callable: {function!r}")
        self.register(PythonFunction(name, function, description, timeout_s), replace=replace)

    def items(self) -> list[tuple[str, Tool]]:
        """(name, tool) pairs, sorted by name."""
        return sorted(self._tools.items())

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

"""Declared tools implemented by a REAL stdio MCP server (`mcp_echo_server.py`, started by
the test through the runtime's `mcp` SDK client): listing, schema checks, calls during agent
tool turns, error results, and a clean shutdown. No part of MCP is mocked; the engine is a
scripted test double."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the mcp extra is not installed")

from compiler.api import compile as compile_spec
from runtime.api import run_async
from runtime.engines.base import ChatRequest
from runtime.tools.binding import ToolBindingError, bind_tools
from runtime.tools.mcp_client import McpError, connect_mcp
from runtime.tools.registry import ToolCallError
from tests.runtime.scripted_engine import ScriptedEngine, last_user

SERVER = [sys.executable, str(Path(__file__).with_name("mcp_echo_server.py"))]

SPEC = """
mas words {
  input sentence: text
  output count: number
  output shout: text

  tool word.count(text: text) -> number { description "Count the words." }
  tool echo-text(text: text, times: number) -> text { description "Repeat a text." }
  tool fail(reason: text) { description "Always fails." }

  agent counter -> number {
    role "COUNTER"
    tools [word.count, fail]
  }

  agent shouter {
    role "SHOUTER"
    tools [echo-text]
  }

  flow {
    count = counter(sentence)
    shout = shouter(sentence)
  }
}
"""


def _reply(request: ChatRequest) -> str:
    system, turns = request.messages[0].content, len(request.messages)
    if system.startswith("COUNTER"):
        if turns == 2:
            return '<tool name="fail">{"reason": "out of ink"}</tool>'
        if turns == 4:
            return "<tool name=\"word.count\">the quick brown fox</tool>"
        return "ANSWER: " + last_user(request).splitlines()[1]
    if turns == 2:
        return '<tool name="echo-text">{"text": "ho", "times": 3}</tool>'
    return last_user(request).splitlines()[1]


def test_agents_call_tools_of_a_real_mcp_server() -> None:
    compiled = compile_spec(SPEC)
    engine = ScriptedEngine(_reply)
    [result] = asyncio.run(run_async(compiled, {"sentence": "s"}, engine=engine,
                                     mcp=[SERVER]))
    assert result.outputs == {"count": 4, "shout": "hohoho"}
    calls = {call.tool: call for turn in result.turns for call in turn.tool_calls}
    assert calls["fail"].ok is False and "out of ink" in calls["fail"].result
    assert (calls["word.count"].ok, calls["word.count"].result) == (True, "4")
    assert calls["echo-text"].result == "hohoho"
    counter_prompt = next(r.messages[0].content for r in engine.requests
                          if r.messages[0].content.startswith("COUNTER"))
    assert '- word.count: Count the words. Arguments: {"text": text}, or just the text ' \
        "itself. Returns number." in counter_prompt


def test_the_server_lists_its_tools_and_stops_when_the_session_ends() -> None:
    async def main() -> tuple[list[str], object]:
        async with connect_mcp(SERVER) as server:
            names = sorted(server.tools)
            assert server.tools["echo-text"].input_schema["required"] == ["text"]
            pid = await server.call("pid", {})
        return names, pid

    names, pid = asyncio.run(main())
    assert names == ["echo-text", "fail", "pid", "sleep", "split", "word.count"]
    assert isinstance(pid, int) and pid != os.getpid()
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(pid, 0)


def test_a_declaration_that_does_not_fit_the_servers_schema_is_a_clear_error() -> None:
    compiled = compile_spec("""
    mas bad {
      input s: text
      output n: number
      tool echo-text(words: list[text], times: text) -> number { description "x" }
      tool split(text: text) -> list[text] { description "y" }
      agent a -> number { role "r" tools [echo-text, split, missing-tool] }
      tool missing-tool(x: text) { description "z" }
      flow { n = a(s) }
    }""")

    async def main() -> str:
        async with connect_mcp(SERVER) as server:
            with pytest.raises(ToolBindingError) as caught:
                bind_tools(compiled.ir, None, [server])
            bound_split = bind_tools(compile_spec("""mas ok { input s: text output n: text
              tool split(text: text) -> list[text] { description "y" }
              agent a { role "r" tools [split] } flow { n = a(s) } }""").ir, None, [server])
            result = await bound_split.get("split").call("a b  c")
            assert (result.ok, result.text) == (True, '["a", "b", "c"]')
            return str(caught.value)

    message = asyncio.run(main())
    assert "tool 'echo-text' (MCP server" in message
    assert "the server's tool has no parameter 'words'" in message
    assert "parameter 'times' is declared text but the server expects integer" in message
    assert "the server's tool requires the parameter 'text', which the declaration lacks" \
        in message
    assert "tool 'missing-tool' is declared and used but nothing implements it" in message
    assert "split" not in message.split("missing-tool")[0].split("echo-text")[0]


def test_a_call_over_the_timeout_is_an_error_and_the_server_still_stops() -> None:
    async def main() -> tuple[str, object, float]:
        async with connect_mcp(SERVER, call_timeout_s=0.3) as server:
            with pytest.raises(ToolCallError) as caught:
                await server.call("sleep", {"seconds": 30})
            awake = await server.call("sleep", {"seconds": 0})
            started = time.monotonic()
        return str(caught.value), awake, time.monotonic() - started

    message, awake, shutdown_s = asyncio.run(main())
    assert "failed" in message and awake == "awake"
    assert shutdown_s < 10


def test_a_server_that_cannot_start_is_a_clear_error() -> None:
    async def main() -> None:
        async with connect_mcp(["/nonexistent/mcp-server-binary"]):
            pass

    with pytest.raises(McpError, match="cannot start MCP server '/nonexistent/mcp-server"):
        asyncio.run(main())


@pytest.fixture()
def spec_file(tmp_path: Path) -> Path:
    from runtime.engines import register_engine

    register_engine("scripted-mcp", lambda **_: ScriptedEngine(_reply), replace=True)
    path = tmp_path / "words.mas"
    path.write_text(SPEC, encoding="utf-8")
    return path


def test_masc_run_binds_tools_from_mcp_servers(spec_file: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from masdsl.cli import main

    server = " ".join(shlex.quote(word) for word in SERVER)
    code = main(["run", str(spec_file), "-i", "sentence=s", "--engine", "scripted-mcp",
                 "--mcp", server])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, captured.err
    assert "count: 4" in out and "shout: hohoho" in out


def test_masc_run_without_a_binding_stops_before_any_llm_call(
        spec_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from masdsl.cli import main

    code = main(["run", str(spec_file), "-i", "sentence=s", "--engine", "scripted-mcp"])
    err = capsys.readouterr().err
    assert code == 2
    assert "masc: cannot bind the spec's tools:" in err
    assert "tool 'word.count' is declared and used but nothing implements it" in err


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _physicist(request: ChatRequest) -> str:
    """Looks up c, converts 3 mi to km, then answers with the last tool result."""
    turns = len(request.messages)
    if turns == 2:
        return '<tool name="constants.lookup">speed of light</tool>'
    if turns == 4:
        return ('<tool name="unit-convert">{"value": 3, "from_unit": "mi", '
                '"to_unit": "km"}</tool>')
    return "ANSWER: " + last_user(request).splitlines()[1]


@pytest.mark.parametrize("binding", ["python", "mcp"])
def test_the_custom_tool_example_runs_with_its_server_or_its_functions(binding: str) -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        import units_server
    finally:
        sys.path.remove(str(EXAMPLES))
    registry = None
    servers: list[list[str]] = []
    if binding == "python":
        from runtime.tools.registry import ToolRegistry

        registry = ToolRegistry()
        registry.register_function("unit-convert", units_server.convert)
        registry.register_function("constants.lookup", units_server.lookup)
    else:
        servers = [[sys.executable, str(EXAMPLES / "units_server.py")]]
    engine = ScriptedEngine(_physicist)
    [result] = asyncio.run(run_async(EXAMPLES / "custom_tool.mas", {"question": "q"},
                                     engine=engine, tools=registry, mcp=servers))
    assert result.outputs["answer"] == pytest.approx(4.828032)
    calls = [call for turn in result.turns for call in turn.tool_calls]
    assert [(call.tool, call.ok) for call in calls] == [("constants.lookup", True),
                                                        ("unit-convert", True)]
    assert calls[0].result == "299792458.0"

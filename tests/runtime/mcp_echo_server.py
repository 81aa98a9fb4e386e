"""A tiny real MCP server for the tests, run as `python tests/runtime/mcp_echo_server.py`:
it serves over stdio with the `mcp` SDK's server API (`MCPServer`), so the runtime's MCP
client talks to a real server process. Its tools:

- `echo-text(text, times=1) -> str`: the text repeated (a hyphenated name, as MCP allows);
- `word.count(text) -> int`: how many words (a dotted name);
- `split(text) -> list[str]`: the words;
- `sleep(seconds) -> str`: answers late (for the call timeout);
- `pid() -> int`: the server's process id (to check that it stops);
- `fail(reason) -> str`: always fails with `reason`, so the client sees an error result.
"""

from __future__ import annotations

import os

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("masdsl-test-echo")


@server.tool(name="echo-text", description="Repeat a text.")
def echo_text(text: str, times: int = 1) -> str:
    return text * times


@server.tool(name="word.count", description="Count the words of a text.")
def word_count(text: str) -> int:
    return len(text.split())


@server.tool(name="split", description="The words of a text.")
def split(text: str) -> list[str]:
    return text.split()


@server.tool(name="fail", description="Always fails.")
def fail(reason: str) -> str:
    raise ToolError(reason)  # a ToolError's message reaches the client; others are hidden


@server.tool(name="sleep", description="Sleep, then answer.")
async def sleep(seconds: float) -> str:
    await anyio.sleep(seconds)
    return "awake"


@server.tool(name="pid", description="The server's process id.")
def pid() -> int:
    return os.getpid()


if __name__ == "__main__":
    import logging

    logging.disable(logging.CRITICAL)  # keep the test output free of the server's logs
    server.run("stdio")

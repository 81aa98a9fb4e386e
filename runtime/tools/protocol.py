"""How a model asks for a tool in its completion text, and how the answer comes back.

The protocol is one tag, chosen because a 135M model copies it reliably from one example and
because it cannot be confused with a code answer (a fenced block is an *answer* for `code`
outputs, never a tool call):

    <tool name="calculator">12 * (3 + 4)</tool>

    <tool name="python">
    print(sum(range(10)))
    </tool>

Rules, all lenient in the direction a small model errs:
- the first call in the text wins; text after it is ignored (the model must wait for the
  result; the runtime should pass `STOP_SEQUENCE` so generation ends right after the call);
- a missing `</tool>` at the end of the text is accepted (generation stopped at the stop
  sequence, or the model forgot it);
- quotes around the name are optional, the name is case-insensitive, and the short form
  `<python>...</python>` (the tool's own name as the tag) is accepted too;
- a fence inside the tag is unwrapped, so `<tool name="python">` + a ```python block +
  `</tool>` runs the code inside;
- a call naming a tool the agent does not have is not a call (`extract_tool_call` returns None,
  and `unknown_tool_names` lets the runtime tell the model).

The result goes back as the next user message, `tool_result_message(call, result_text)`:

    <tool_result name="calculator">
    84
    </tool_result>

The turn loop: keep the assistant text up to `call.end`, append the result message, generate
again; at most `max_tool_turns` times, after which the model must answer.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Collection, Sequence
from dataclasses import dataclass

STOP_SEQUENCE = "</tool>"
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
"""A tool's name: the grammar's TOOL_NAME, MCP's characters (letters, digits, `_ - .`)."""
_LONG_FORM = re.compile(
    r"<tool\s+name\s*=\s*[\"']?(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)[\"']?\s*>"
    r"(?P<body>.*?)(?:</tool\s*>|\Z)",
    re.DOTALL,
)
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_+-]*[ \t]*\n?(?P<code>.*?)\n?```\s*$", re.DOTALL)


@dataclass(frozen=True)
class ToolCall:
    """One request for a tool: its name, the argument text, and where it sits in the reply
    (`start`/`end` are character offsets; the runtime keeps `text[:end]` as the turn)."""

    name: str
    argument: str
    start: int
    end: int


def _short_form(name: str) -> re.Pattern[str]:
    return re.compile(rf"<{name}\s*>(?P<body>.*?)(?:</{name}\s*>|\Z)", re.DOTALL | re.IGNORECASE)


def _clean_argument(body: str) -> str:
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group("code")
    return textwrap.dedent(body.strip("\n")).strip()


def extract_tool_call(text: str, available: Collection[str]) -> ToolCall | None:
    """The first call in `text` to one of the `available` tools, or None when there is none.
    Names match case-insensitively; the call carries the name as `available` spells it."""
    names = {name.lower(): name for name in available}
    candidates: list[ToolCall] = []
    for match in _LONG_FORM.finditer(text):
        name = match.group("name").lower()
        if name in names:
            candidates.append(ToolCall(names[name], _clean_argument(match.group("body")),
                                       match.start(), match.end()))
            break
    for name in sorted(names):
        short = _short_form(re.escape(name)).search(text)
        if short:
            candidates.append(ToolCall(names[name], _clean_argument(short.group("body")),
                                       short.start(), short.end()))
    if not candidates:
        return None
    return min(candidates, key=lambda call: call.start)


def unknown_tool_names(text: str, available: Collection[str]) -> list[str]:
    """Names in `<tool name=...>` tags that are not available, in order, for an error reply."""
    names = {name.lower() for name in available}
    return [m.group("name") for m in _LONG_FORM.finditer(text)
            if m.group("name").lower() not in names]


def tool_result_message(call: ToolCall, result_text: str) -> str:
    """The text of the message that gives the model a tool's result."""
    return f'<tool_result name="{call.name}">\n{result_text.rstrip()}\n</tool_result>'


def tool_instructions(tools: Sequence[tuple[str, str]], max_tool_turns: int) -> str:
    """The prompt section that lists the tools (name, description) and shows the protocol."""
    if not tools or max_tool_turns <= 0:
        return ""
    lines = ["You can use tools. To use one, write exactly:",
             f'<tool name="{tools[0][0]}">input</tool>',
             "then stop and wait for the result. Tools:"]
    lines += [f"- {name}: {description}" for name, description in tools]
    lines.append(f"You may use tools at most {max_tool_turns} times, then give your answer.")
    return "\n".join(lines)

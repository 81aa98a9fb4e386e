"""The tool-call protocol: what counts as a call, what does not, and how results come back."""

from __future__ import annotations

import pytest

from runtime.tools.protocol import (
    STOP_SEQUENCE,
    ToolCall,
    extract_tool_call,
    tool_instructions,
    tool_result_message,
    unknown_tool_names,
)

BOTH = ("python", "calculator")

CALLS = [
    ('<tool name="calculator">12 * (3 + 4)</tool>', "calculator", "12 * (3 + 4)"),
    ("Let me compute. <tool name='calculator'> 2+2 </tool> done", "calculator", "2+2"),
    ("<tool name=calculator>5/2</tool>", "calculator", "5/2"),
    ('<tool name="Calculator">1+1</tool>', "calculator", "1+1"),
    ('<tool name="python">\nprint(1)\n</tool>', "python", "print(1)"),
    ('<tool name="python">\n    for i in range(2):\n        print(i)\n</tool>', "python",
     "for i in range(2):\n    print(i)"),
    ('<tool name="python">\n```python\nprint(2)\n```\n</tool>', "python", "print(2)"),
    ('<tool name="python">print(3)', "python", "print(3)"),
    ("<python>print(4)</python>", "python", "print(4)"),
    ("<calculator>3*3</calculator>", "calculator", "3*3"),
    ('<tool name="calculator">1+1</tool> then <tool name="calculator">2+2</tool>',
     "calculator", "1+1"),
    ('<calculator>9</calculator> <tool name="python">print(1)</tool>', "calculator", "9"),
    ('<tool name="search">x</tool><tool name="calculator">7</tool>', "calculator", "7"),
]


@pytest.mark.parametrize(("text", "name", "argument"), CALLS)
def test_calls_are_found(text: str, name: str, argument: str) -> None:
    call = extract_tool_call(text, BOTH)
    assert call is not None
    assert (call.name, call.argument) == (name, argument)
    assert text[call.start:call.end].lstrip().startswith("<")


NOT_CALLS = [
    "The answer is 42.\nANSWER: 42",
    "```python\nprint(1)\n```",  # a fenced block is an answer, never a call
    '<tool name="search">cats</tool>',
    '<tool name="python">print(1)</tool>',  # python is not available to this agent
    "use the <tool> tag",
]


@pytest.mark.parametrize("text", NOT_CALLS)
def test_non_calls_are_not_found(text: str) -> None:
    assert extract_tool_call(text, ("calculator",)) is None


def test_text_after_the_call_is_excluded_by_end() -> None:
    text = 'Step 1. <tool name="calculator">6*7</tool>\n<tool_result>43</tool_result> ANSWER: 43'
    call = extract_tool_call(text, BOTH)
    assert call is not None
    assert text[: call.end] == 'Step 1. <tool name="calculator">6*7</tool>'


def test_unknown_tool_names_are_listed() -> None:
    text = '<tool name="search">x</tool> <tool name="calculator">1</tool> <tool name="web">y</tool>'
    assert unknown_tool_names(text, BOTH) == ["search", "web"]


def test_result_message_and_instructions() -> None:
    call = ToolCall("calculator", "6*7", 0, 10)
    expected = '<tool_result name="calculator">\n42\n</tool_result>'
    assert tool_result_message(call, "42\n") == expected
    text = tool_instructions([("calculator", "Arithmetic.")], max_tool_turns=2)
    assert '<tool name="calculator">input</tool>' in text
    assert "- calculator: Arithmetic." in text and "at most 2 times" in text
    assert tool_instructions([("calculator", "Arithmetic.")], max_tool_turns=0) == ""
    assert STOP_SEQUENCE == "</tool>"


def test_instructions_example_round_trips_through_the_parser() -> None:
    text = tool_instructions([("python", "Run code.")], max_tool_turns=1)
    example = text.splitlines()[1]
    call = extract_tool_call(example, ("python",))
    assert call is not None and call.argument == "input"

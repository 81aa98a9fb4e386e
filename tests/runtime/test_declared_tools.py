"""Declared tools at run time: a Python function bound through `ToolRegistry`, driven by a
scripted engine (a test double) through real agent tool turns; argument checking, result
conversion and binding errors."""

from __future__ import annotations

import asyncio
import json

import pytest

from compiler.api import compile as compile_spec
from compiler.ir import ToolDeclaration, ToolParameter
from masdsl.spans import NO_SPAN
from masdsl.types import NUMBER, TEXT, Enum, List, Record, RecordField
from runtime.api import run_async
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from runtime.tools.binding import ToolBindingError, bind_tools
from runtime.tools.declared import (
    DeclaredTool,
    PythonFunction,
    ToolCallError,
    convert_result,
    describe,
    parse_arguments,
)
from runtime.tools.registry import FunctionTool, ToolRegistry, ToolResult
from tests.runtime.scripted_engine import ScriptedEngine, last_user

SPEC = """
mas lookup {
  input question: text
  output answer: number

  tool word-count(text: text, min_length: number) -> number {
    description "Count the words of at least min_length letters."
  }

  agent counter -> number {
    role "Count words."
    tools [word-count]
    max_tool_turns 2
  }

  flow {
    answer = counter(question)
  }
}
"""


def _declaration(**params: object) -> ToolDeclaration:
    return ToolDeclaration(
        name="t", description="A tool.", result=NUMBER, span=NO_SPAN,
        parameters=tuple(ToolParameter(name=name, type=kind)  # type: ignore[arg-type]
                         for name, kind in params.items()))


def count_words(text: str, min_length: float) -> int:
    return sum(1 for word in text.split() if len(word) >= min_length)


def test_a_python_tool_runs_in_a_tool_turn_and_its_typed_result_reaches_the_model() -> None:
    compiled = compile_spec(SPEC)
    assert [tool.name for tool in compiled.ir.tools] == ["word-count"]
    seen: list[str] = []

    def reply(request: ChatRequest) -> str:
        if len(request.messages) == 2:
            seen.append(request.messages[0].content)
            return '<tool name="word-count">{"text": "a bb ccc dddd", "min_length": "2"}</tool>'
        seen.append(last_user(request))
        return "ANSWER: " + last_user(request).splitlines()[1]

    registry = ToolRegistry()
    registry.register_function("word-count", count_words)
    engine = ScriptedEngine(reply)
    [result] = asyncio.run(run_async(compiled, {"question": "q"}, engine=engine,
                                     tools=registry))
    assert result.outputs == {"answer": 3}
    system, tool_message = seen
    assert "- word-count: Count the words of at least min_length letters." in system
    assert 'Arguments as JSON: {"text": text, "min_length": number}. Returns number.' in system
    assert tool_message == '<tool_result name="word-count">\n3\n</tool_result>'
    [call] = [call for turn in result.turns for call in turn.tool_calls]
    assert (call.tool, call.ok, call.result) == ("word-count", True, "3")


def test_tool_errors_become_messages_and_count_against_max_tool_turns() -> None:
    compiled = compile_spec(SPEC)
    results: list[str] = []

    def reply(request: ChatRequest) -> str:
        if request.messages[-1].role == "user" and "tool_result" in last_user(request):
            results.append(last_user(request))
        if len(results) < 2:
            return '<tool name="word-count">{"text": 5}</tool>'
        return "ANSWER: 1"

    def broken(text: str, min_length: float) -> int:
        raise RuntimeError("disk on fire")

    registry = ToolRegistry()
    registry.register_function("word-count", broken)
    [result] = asyncio.run(run_async(compiled, {"question": "q"}, engine=ScriptedEngine(reply),
                                     tools=registry))
    assert result.outputs == {"answer": 1}
    assert "error: text: expected a string, got 5" in results[0]
    # max_tool_turns 2: both turns used on bad calls, then the model must answer
    assert len([turn for turn in result.turns if turn.tool_calls]) == 2


def test_a_function_that_raises_gives_an_error_result() -> None:
    def broken(text: str) -> str:
        raise RuntimeError("disk on fire")

    declaration = ToolDeclaration(name="t", description="", result=TEXT, span=NO_SPAN,
                                  parameters=(ToolParameter(name="text", type=TEXT),))
    result = asyncio.run(DeclaredTool(declaration, PythonFunction("t", broken)).call("hi"))
    assert not result.ok and result.text == "error: RuntimeError: disk on fire"


def test_arguments_are_checked_against_the_declared_types() -> None:
    verdict = Enum(members=("yes", "no"))
    declaration = _declaration(query=TEXT, limit=NUMBER, mode=verdict)
    assert parse_arguments('{"query": "x", "limit": 3, "mode": "no"}', declaration) == \
        {"query": "x", "limit": 3, "mode": "no"}
    assert parse_arguments('{"query": "x", "limit": "2.5", "mode": "yes"}', declaration)[
        "limit"] == 2.5
    for text, message in [
            ('{"query": "x", "limit": 3}', "the parameter 'mode' (enum { yes, no }) is missing"),
            ('{"query": "x", "limit": 3, "mode": "maybe"}', "mode: expected one of yes, no"),
            ('{"query": "x", "limit": 3, "mode": "no", "x": 1}', "unknown parameter 'x'"),
            ("just text", "give the arguments as a JSON object")]:
        with pytest.raises(ToolCallError, match=message.replace("{", r"\{")
                           .replace("}", r"\}").replace("(", r"\(").replace(")", r"\)")):
            parse_arguments(text, declaration)
    one = _declaration(items=List(element=NUMBER))
    assert parse_arguments("[1, 2]", one) == {"items": [1, 2]}
    assert parse_arguments("lookup words", _declaration(word=TEXT)) == {"word": "lookup words"}
    assert parse_arguments("", _declaration()) == {}


def test_results_are_converted_to_the_declared_type() -> None:
    record = Record(fields=(RecordField(name="title", type=TEXT),
                            RecordField(name="score", type=NUMBER)))
    assert convert_result({"title": "a", "score": "2"}, record) == ("a", 2)
    assert convert_result('["a", "b"]', List(element=TEXT)) == ("a", "b")
    assert convert_result(("a",), List(element=TEXT)) == ("a",)
    assert convert_result({"x": 1}, TEXT) == '{"x": 1}'
    assert convert_result("The answer is 42", NUMBER) == 42
    with pytest.raises(ToolCallError, match="not a number"):
        convert_result("no digits here", NUMBER)
    with pytest.raises(ToolCallError, match="the field 'score' is missing"):
        convert_result({"title": "a"}, record)


def test_the_prompt_line_shows_arguments_and_result() -> None:
    assert describe(_declaration(word=TEXT)) == \
        'A tool. Arguments: {"word": text}, or just the word itself. Returns number.'
    assert describe(_declaration()) == "A tool. No arguments: write {}. Returns number."


def test_an_unbound_declared_tool_is_an_error_before_any_llm_call() -> None:
    compiled = compile_spec(SPEC)
    engine = ScriptedEngine(lambda request: "ANSWER: 1")
    with pytest.raises(ToolBindingError, match="tool 'word-count' is declared and used but "
                       "nothing implements it"):
        asyncio.run(run_async(compiled, {"question": "q"}, engine=engine))
    with pytest.raises(ToolBindingError):
        Executor(compiled.ir, {"executor": engine})
    assert engine.requests == []


def test_a_function_that_cannot_take_the_declared_parameters_is_rejected() -> None:
    registry = ToolRegistry()
    registry.register_function("word-count", lambda text: 1)
    with pytest.raises(ToolBindingError, match="cannot take the declared parameters"):
        bind_tools(compile_spec(SPEC).ir, registry)


def test_a_plain_tool_under_a_declared_name_gets_json_arguments() -> None:
    registry = ToolRegistry()
    registry.register(FunctionTool("word-count", "counts", lambda text: str(len(text))))
    bound = bind_tools(compile_spec(SPEC).ir, registry)
    result = asyncio.run(bound.get("word-count").call('{"text": "ab", "min_length": 1}'))
    assert result.ok
    assert result.text == str(len(json.dumps({"text": "ab", "min_length": 1})))


def test_specs_without_declared_tools_keep_the_registry_as_given() -> None:
    compiled = compile_spec("""mas s { input q: text output a: text
      agent x { role "r" tools [python] } flow { a = x(q) } }""")
    registry = ToolRegistry()
    assert bind_tools(compiled.ir, registry) is registry
    assert "python" in bind_tools(compiled.ir, None)


def test_ray_refuses_declared_tools_before_starting() -> None:
    from runtime.distributed import run_on_ray

    with pytest.raises(ValueError, match=r"declared tools \(word-count\) cannot run on Ray"):
        run_on_ray(compile_spec(SPEC), [{"question": "q"}])


def test_mcp_style_names_are_recognised_in_replies_and_keep_their_spelling() -> None:
    from runtime.tools.protocol import extract_tool_call

    call = extract_tool_call('ok <tool name="files.read-all">a.txt</tool>', ["files.read-all"])
    assert call is not None and (call.name, call.argument) == ("files.read-all", "a.txt")
    call = extract_tool_call('<tool name="getuser">{"id": 1}</tool>', ["getUser"])
    assert call is not None and call.name == "getUser"
    short = extract_tool_call("<web-search>llm</web-search>", ["web-search"])
    assert short is not None and short.argument == "llm"


def test_masc_explain_shows_the_declared_tools_as_the_model_sees_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from masdsl.cli import main

    spec = Path(__file__).resolve().parents[2] / "examples" / "custom_tool.mas"
    assert main(["explain", str(spec), "physicist"]) == 0
    out = capsys.readouterr().out
    assert ('- unit-convert: Convert a quantity between units, e.g. 3 mi to km. Arguments as '
            'JSON: {"value": number, "from_unit": text, "to_unit": text}. Returns number.'
            ) in out
    assert "- constants.lookup: " in out and "- calculator: " in out


def test_a_slow_function_times_out_into_an_error_for_the_model() -> None:
    async def slow(text: str) -> str:
        await asyncio.sleep(5)
        return text

    registry = ToolRegistry()
    registry.register_function("t", slow, timeout_s=0.05)
    declaration = ToolDeclaration(name="t", description="", result=TEXT, span=NO_SPAN,
                                  parameters=(ToolParameter(name="text", type=TEXT),))
    implementation = registry.get("t")
    assert isinstance(implementation, PythonFunction)
    result = asyncio.run(DeclaredTool(declaration, implementation).call("hi"))
    assert result == ToolResult("error: the tool took longer than 0.05 s", False)

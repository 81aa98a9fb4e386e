"""Declared tools in the IR: lowered from the checker's signatures, serialised only when a
spec declares some (so every other spec's IR JSON is unchanged), loaded back intact, and
neutral for the worst-case cost (a user tool's turns count like a builtin's)."""

from __future__ import annotations

import json

from compiler.api import compile as compile_spec
from compiler.export_json import load, to_json
from masdsl.types import NUMBER, TEXT, Enum, List, Record, RecordField

SPEC = """
mas tooled {
  input question: text
  output answer: number

  type Mode = enum { fast, exact }

  tool web-search(query: text, limit: number, mode: Mode) -> list[{ title: text, score: number }] {
    description "Search."
  }
  tool clock.now() { description "The time." }
  tool spare(x: text) { description "Declared, never listed." }

  agent solver -> number {
    role "Solve."
    tools [web-search, clock.now, python]
    max_tool_turns 4
    retries 1
  }

  flow {
    answer = solver(question)
  }
}
"""


def test_declared_tools_are_lowered_with_their_resolved_types() -> None:
    compiled = compile_spec(SPEC)
    ir = compiled.ir
    assert [tool.name for tool in ir.tools] == ["web-search", "clock.now", "spare"]
    search = ir.tool("web-search")
    assert search is not None and search.description == "Search."
    assert [(p.name, p.type) for p in search.parameters] == [
        ("query", TEXT), ("limit", NUMBER), ("mode", Enum(members=("fast", "exact"),
                                                          name="Mode"))]
    assert search.result == List(element=Record(fields=(
        RecordField(name="title", type=TEXT), RecordField(name="score", type=NUMBER))))
    now = ir.tool("clock.now")
    assert now is not None and now.parameters == () and now.result == TEXT
    assert ir.used_tools() == ["clock.now", "python", "web-search"]
    assert [d.code for d in compiled.diagnostics] == ["MAS124"]


def test_tools_survive_the_json_round_trip_and_are_absent_when_none_are_declared() -> None:
    ir = compile_spec(SPEC).ir
    text = to_json(ir, indent=2)
    assert load(text) == ir and load(text).tools == ir.tools
    assert [tool["name"] for tool in json.loads(text)["tools"]] == \
        ["web-search", "clock.now", "spare"]
    plain = compile_spec("""mas p { input q: text output a: text
      agent x { role "r" tools [python] } flow { a = x(q) } }""").ir
    assert "tools" not in json.loads(to_json(plain))
    assert load(to_json(plain)).tools == ()


def test_user_tool_turns_count_like_builtin_turns_in_the_worst_case() -> None:
    with_user_tools = compile_spec(SPEC).stats
    builtin_only = compile_spec(SPEC.replace("tools [web-search, clock.now, python]",
                                             "tools [python]")).stats
    assert with_user_tools.llm_calls == builtin_only.llm_calls == (1 + 4) * (1 + 1)
    assert with_user_tools.split.tool_turns == 4


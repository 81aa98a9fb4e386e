"""The designer at inference time: prompt, spec extraction, compile, interface check."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from benchmarks.systems import FOLDER, few_shot
from runtime.designer import Interface, design, designer_messages, extract_spec
from tests.runtime.scripted_engine import ScriptedEngine

SPEC = """mas tiny {
  input question: text
  output answer: number
  agent solver -> number { role "Solve it." }
  flow { answer = solver(question) }
}"""


def grammar_engine(reply: str) -> ScriptedEngine:
    engine = ScriptedEngine(lambda request: reply)
    engine.capabilities = replace(engine.capabilities, grammar=True)
    return engine


def test_library_has_the_baseline_systems_and_the_prompt_shows_them() -> None:
    systems = few_shot(sorted(path.stem for path in FOLDER.glob("*.mas")))
    assert len(systems) >= 6 and all(text.lstrip().startswith("#") for text in systems)
    messages = designer_messages("What is 2+3?", Interface(), systems[:2])
    assert "ensemble(" in messages[0].content and "mas " in messages[0].content
    assert "input question: text" in messages[1].content
    assert "What is 2+3?" in messages[1].content
    assert "# Baseline" not in messages[0].content  # comments are stripped from examples


def test_grammar_design_sends_the_grammar_and_compiles() -> None:
    engine = grammar_engine(SPEC)
    [result] = asyncio.run(design(engine, "What is 2+3?", decoding="grammar"))
    assert result.ok and result.compiled is not None
    assert result.compiled.stats.llm_calls >= 1
    assert engine.requests[0].grammar is not None and "spec:" in engine.requests[0].grammar


def test_unconstrained_design_extracts_the_spec_from_prose() -> None:
    engine = ScriptedEngine(lambda request: f"Here is my system:\n```mas\n{SPEC}\n```\nDone.")
    [result] = asyncio.run(design(engine, "q", decoding="free"))
    assert result.ok and result.text.startswith("mas tiny")
    assert engine.requests[0].grammar is None
    assert result.completion.text[result.offset:].startswith("mas tiny")


def test_a_design_with_the_wrong_interface_or_errors_keeps_its_diagnostics() -> None:
    wrong = SPEC.replace("answer: number", "answer: text").replace("-> number", "")
    [mismatch] = asyncio.run(design(grammar_engine(wrong), "q", decoding="grammar"))
    assert not mismatch.ok and [d.code for d in mismatch.diagnostics] == ["MAS310"]
    [broken] = asyncio.run(design(grammar_engine(SPEC.replace("solver(question)", "x(q)")),
                                  "q", decoding="grammar"))
    assert not broken.ok and {d.code for d in broken.diagnostics} >= {"MAS101"}


def test_constrained_design_needs_a_grammar_capable_engine() -> None:
    for decoding in ("typed", "grammar"):
        with pytest.raises(ValueError, match="cannot constrain"):
            asyncio.run(design(ScriptedEngine(lambda request: SPEC), "q", decoding=decoding))


def test_typed_design_needs_an_engine_that_continues_replies() -> None:
    with pytest.raises(ValueError, match="cannot continue a reply"):
        asyncio.run(design(grammar_engine(SPEC), "q"))


def test_extract_spec_without_fence() -> None:
    text, offset = extract_spec("Sure! mas a { }")
    assert text == "mas a { }" and offset == 6

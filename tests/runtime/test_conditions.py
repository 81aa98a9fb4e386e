"""Conditions computed without an LLM call, run by the scheduler (scripted engine, a test
double) and evaluated directly (`runtime.conditions.evaluate`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from compiler.api import compile as compile_spec
from compiler.ir import Term
from runtime.conditions import evaluate
from runtime.engines.base import ChatRequest
from runtime.executor import ABSENT, Executor
from tests.runtime.scripted_engine import ScriptedEngine, role_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "judge_on_split.mas"


def run_example(drafts: list[str], verdicts: list[str]) -> tuple[dict[str, object], list[str]]:
    """Run `judge_on_split` with scripted solver replies and checker verdicts; returns the
    outputs and the role (first word) of every agent called, in order."""
    ir = compile_spec(EXAMPLE.read_text(), path=str(EXAMPLE)).ir
    solver_replies, verdict_replies = iter(drafts), iter(verdicts)
    called: list[str] = []

    def reply(request: ChatRequest) -> str:
        role = role_of(request)
        if "Several solutions disagree" in role:
            called.append("judge")
            return "ANSWER: 42"
        if "Is the proposed answer correct" in role:
            called.append("checker")
            return f"ANSWER: {next(verdict_replies)}"
        called.append("solver")
        return f"ANSWER: {next(solver_replies)}"

    engine = ScriptedEngine(reply)
    result = asyncio.run(Executor(ir, {"executor": engine}).run({"question": "q"}))
    return result.outputs, called


def test_unanimous_votes_skip_the_judge() -> None:
    outputs, called = run_example(["7", "7", "7"], ["true"])
    assert outputs == {"answer": 7}
    assert called == ["solver"] * 3 + ["checker"]


def test_split_votes_call_the_judge() -> None:
    outputs, called = run_example(["7", "8", "7"], ["true"])
    assert outputs == {"answer": 42}
    assert called == ["solver"] * 3 + ["judge", "checker"]


def test_loop_until_a_computed_condition_stops_when_it_holds() -> None:
    # the checker rejects, the solver revises to a negative answer: `answer < 0` stops
    outputs, called = run_example(["7", "7", "7", "-1"], ["false"])
    assert outputs == {"answer": -1}
    assert called == ["solver"] * 3 + ["checker", "solver"]


def port(name: str) -> Term:
    return Term(op="port", port=name)


def const(value: object) -> Term:
    return Term.model_validate({"op": "const", "value": value})


@pytest.mark.parametrize(("term", "ports", "expected"), [
    (Term(op="all_equal", port="xs"), {"xs": (1, 1.0, 1)}, True),
    (Term(op="all_equal", port="xs"), {"xs": ("Yes ", "yes")}, True),
    (Term(op="all_equal", port="xs"), {"xs": (1, 2)}, False),
    (Term(op="all_equal", port="xs"), {"xs": ()}, True),
    (Term(op="empty", port="xs"), {"xs": ()}, True),
    (Term(op=">", operands=(Term(op="len", port="xs"), const(1))), {"xs": (1, 2)}, True),
    (Term(op="==", operands=(port("k"), const("algebra"))), {"k": "algebra"}, True),
    (Term(op="!=", operands=(port("a"), port("b"))), {"a": 1, "b": True}, True),
    (Term(op="<=", operands=(port("a"), const(2))), {"a": 2}, True),
    (Term(op="or", operands=(Term(op="truth", operands=(port("f"),)),
                             Term(op="not", operands=(port("g"),)))),
     {"f": False, "g": False}, True),
    (Term(op="and", operands=(Term(op="truth", operands=(port("f"),)), port("g"))),
     {"f": True, "g": False}, False),
])
def test_evaluate(term: Term, ports: dict[str, object], expected: bool) -> None:
    assert evaluate(term, ports, ABSENT) is expected


def test_a_condition_reading_an_absent_value_is_absent() -> None:
    term = Term(op="or", operands=(const(True), Term(op="truth", operands=(port("f"),))))
    assert evaluate(term, {"f": ABSENT}, ABSENT) is None
    assert evaluate(term, {}, ABSENT) is None

"""An agent's `default`: the value it gives when no reply parses (scripted engine, a test
double), so a router falls back instead of running no branch."""

from __future__ import annotations

import asyncio
from pathlib import Path

from compiler.api import compile as compile_spec
from runtime.engines.base import ChatRequest
from runtime.executor import Executor
from tests.runtime.scripted_engine import ScriptedEngine, role_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "router_fallback.mas"


def run(router_reply: str, source: str | None = None):  # type: ignore[no-untyped-def]
    ir = compile_spec(source or EXAMPLE.read_text(), path="router_fallback.mas").ir
    roles: list[str] = []

    def reply(request: ChatRequest) -> str:
        role = role_of(request)
        roles.append(role.split(".")[0])
        return router_reply if role.startswith("Classify") else "ANSWER: done"

    engine = ScriptedEngine(reply)
    return asyncio.run(Executor(ir, {"executor": engine}).run({"question": "q"})), roles


def test_a_router_whose_reply_never_parses_falls_back_to_its_default() -> None:
    result, roles = run("I am not sure what this is.")
    assert result.outputs == {"answer": "done"}
    assert result.record.status == "ok"
    # the router's format retry ran first, then the default routed to the generalist
    assert roles == ["Classify the question as math, code or other"] * 2 + [
        "You are a generalist"]
    [failure] = result.record.failures.values()
    assert failure.startswith("format:") and failure.endswith("(used the default)")


def test_a_reply_that_parses_is_used_and_the_default_is_not() -> None:
    result, roles = run("ANSWER: math")
    assert roles[-1] == "You are a mathematician"
    assert result.record.failures == {}


def test_without_a_default_the_value_is_absent() -> None:
    source = EXAMPLE.read_text().replace("    default other\n", "")
    result, roles = run("I am not sure what this is.", source)
    assert result.outputs == {}
    assert result.record.status == "failed"
    assert len(roles) == 2  # no branch ran

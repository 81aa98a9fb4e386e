"""Lists at run time: indexing, head/rest/len, the bounded `map`, an ensemble of a flow, and
labelled builtin inputs (scripted engine, a test double)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from compiler.api import compile as compile_spec
from compiler.ir import ListOpNode
from runtime.engines.base import ChatRequest
from runtime.executor import ABSENT, Executor
from runtime.list_ops import evaluate_list_op
from tests.runtime.scripted_engine import ScriptedEngine, last_user, role_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(source: str, reply: object, inputs: dict[str, object]) -> tuple[object, list[str]]:
    """Compile and run once; the outputs and every user prompt, in request order."""
    ir = compile_spec(source).ir
    engine = ScriptedEngine(reply)  # type: ignore[arg-type]
    result = asyncio.run(Executor(ir, {"executor": engine}).run(inputs))  # type: ignore[arg-type]
    return result, [last_user(request) for request in engine.requests]


PICKS = """mas picks {
  input question: text
  output first: number
  output last: number
  output chosen: number
  output count: number
  output others: list[number]
  output missing: number
  agent solver -> number { role "Solve." }
  agent chooser -> number { role "Choose an index." }
  flow {
    xs = ensemble(solver, n: 3, question)
    first = head(xs)
    last = xs[-1]
    k = chooser(xs)
    chosen = xs[k]
    count = len(xs)
    others = rest(xs)
    missing = xs[2]
  }
}
"""


def test_indexing_head_rest_and_len_pick_items_verbatim_without_a_call() -> None:
    answers = iter(["ANSWER: 10", "ANSWER: 20", "no number here"])  # the third never parses

    def reply(request: ChatRequest) -> str:
        if "index" in role_of(request):
            return "ANSWER: 1"
        return next(answers, "still no number")

    result, _ = run(PICKS, reply, {"question": "q"})
    outputs = result.outputs  # type: ignore[attr-defined]
    # The third member never parsed: the list holds two items, and xs[2] is absent.
    assert outputs == {"first": 10, "last": 20, "chosen": 20, "count": 2, "others": [20]}
    assert result.record.failures["output:missing"] == "absent"  # type: ignore[attr-defined]


def test_a_position_that_is_not_a_whole_number_is_absent() -> None:
    node = ListOpNode(id="n1", span={"start": 0, "end": 1, "line": 1, "column": 1,
                                     "end_line": 1, "end_column": 2},
                      label="xs[k]", op="index")
    assert evaluate_list_op(node, {"list": (1, 2, 3), "position": 1.0}, ABSENT) == 2
    assert evaluate_list_op(node, {"list": (1, 2, 3), "position": 1.5}, ABSENT) is ABSENT
    assert evaluate_list_op(node, {"list": (1, 2, 3), "position": -4}, ABSENT) is ABSENT
    assert evaluate_list_op(node, {"list": ABSENT, "position": 0}, ABSENT) is ABSENT


def test_map_calls_the_agent_once_per_item_up_to_the_list_length() -> None:
    source = (EXAMPLES / "map_over_list.mas").read_text()
    solver_prompts: list[str] = []
    writer_prompts: list[str] = []

    def reply(request: ChatRequest) -> str:
        role = role_of(request)
        if role.startswith("Split"):
            return 'ANSWER: ["What is 2+2?", "What is 3+3?"]'
        if role.startswith("Answer the one"):
            prompt = last_user(request)
            solver_prompts.append(prompt)
            match = re.search(r"What is (\d)\+(\d)", prompt)
            assert match is not None
            return f"ANSWER: {int(match[1]) + int(match[2])}"
        writer_prompts.append(last_user(request))
        return "ANSWER: 4 then 6"

    result, _ = run(source, reply, {"task": "Add things."})
    assert result.outputs == {"answer": "4 then 6", "steps": 2}  # type: ignore[attr-defined]
    # max: 4, but only two items: two calls, each seeing its item and the labelled input.
    assert solver_prompts == ["item:\nWhat is 2+2?\n\ncontext:\nAdd things.",
                              "item:\nWhat is 3+3?\n\ncontext:\nAdd things."]
    [writer] = writer_prompts
    assert writer == ("task:\nAdd things.\n\nfirst:\n4\n\nothers:\n1. 6\n\nlast:\n6")
    assert result.record.llm_calls == 4  # type: ignore[attr-defined]


def test_an_ensemble_of_reflections_runs_the_whole_flow_per_sample() -> None:
    source = (EXAMPLES / "ensemble_of_reflections.mas").read_text()
    seen: list[tuple[str, str]] = []
    answers = iter(["ANSWER: 41", "ANSWER: 42", "ANSWER: 42"])

    def reply(request: ChatRequest) -> str:
        role = role_of(request)
        prompt = last_user(request)
        if role.startswith("Check"):
            seen.append(("checker", prompt))
            return "Line 2 is wrong."
        if role.startswith("Several"):
            seen.append(("judge", prompt))
            return "ANSWER: 42"
        seen.append(("solver", prompt))
        return "ANSWER: 40" if "critique" not in prompt else next(answers)

    result, _ = run(source, reply, {"question": "6 x 7?"})
    assert result.outputs == {"answer": 42}  # type: ignore[attr-defined]
    roles = [role for role, _ in seen]
    assert roles.count("solver") == 6 and roles.count("checker") == 3
    assert roles[-1] == "judge"
    judge_prompt = seen[-1][1]
    assert judge_prompt == "candidates:\n1. 41\n2. 42\n3. 42\n\nproblem:\n6 x 7?"


GRAPH_READ = """mas graph_len {
  input question: text
  output answer: number
  agent solver -> number { role "Solve." }
  agent counter -> number { role "Count." }
  flow {
    graph max_steps 4 {
      start START
      node a = ensemble(solver, n: 2, question)
      node b = len(a)
      node c = counter(question, b)
      edge b -> a
      edge a -> c
      edge c -> end
    }
    answer = c
  }
}
"""


def test_a_list_builtin_in_a_graph_reads_a_node_only_once_it_has_run() -> None:
    """`len(a)` in a node that can run before `a` has no value in that step (like `node b =
    a` there) instead of failing to compile; once `a` has run it counts its items."""
    def reply(request: ChatRequest) -> str:
        return "ANSWER: 3"

    early, prompts = run(GRAPH_READ.replace("START", "b"), reply, {"question": "q"})
    assert early.outputs == {"answer": 3}  # type: ignore[attr-defined]
    assert "b:" not in prompts[-1]  # b had no value when it ran: c is not shown one
    late = GRAPH_READ.replace("START", "a").replace("edge b -> a\n      edge a -> c",
                                                      "edge a -> b\n      edge b -> c")
    result, prompts = run(late, reply, {"question": "q"})
    assert result.outputs == {"answer": 3}  # type: ignore[attr-defined]
    assert "b:\n2" in prompts[-1]  # c sees b = len(a) = 2

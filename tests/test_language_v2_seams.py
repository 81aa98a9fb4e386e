"""Where the language-v2 features meet (issue 12: tools, lists, state): specs that combine
them are compiled and run on the scripted engine (a test double), and the exact messages
the agents receive are asserted. Each feature has its own tests; these pin the seams."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable
from pathlib import Path

from compiler.api import compile as compile_spec
from compiler.ir import AgentNode
from runtime.api import run_async
from runtime.engines.base import ChatRequest
from runtime.executor import ExecutionResult, Executor
from runtime.tools.registry import ToolRegistry
from tests.runtime.scripted_engine import ScriptedEngine, last_user, role_of

Conversation = list[tuple[str, str]]


def run(source: str, reply: Callable[[ChatRequest], str],
        **inputs: object) -> tuple[ExecutionResult, list[ChatRequest]]:
    engine = ScriptedEngine(reply)
    ir = compile_spec(source).ir
    result = asyncio.run(Executor(ir, {"executor": engine}).run(dict(inputs)))  # type: ignore[arg-type]
    return result, engine.requests


def conversation(request: ChatRequest) -> Conversation:
    """The messages after the system prompt, as (role, content)."""
    return [(message.role, message.content) for message in request.messages[1:]]


def by_role(requests: list[ChatRequest], prefix: str) -> list[ChatRequest]:
    return [request for request in requests if role_of(request).startswith(prefix)]


def numbered() -> Callable[[ChatRequest], str]:
    """A reply function answering `<name><n>`: the name is the last word of the role's
    first sentence (`Expert in physics.` -> `physics`), n counts that role's calls (so the
    numbers do not depend on how calls of different agents interleave)."""
    counters: dict[str, itertools.count[int]] = {}

    def reply(request: ChatRequest) -> str:
        name = role_of(request).split(".")[0].split()[-1]
        return f"ANSWER: {name}{next(counters.setdefault(name, itertools.count()))}"

    return reply


TEMPLATE_MEMORY_LOOP = """mas seam_memory {
  input task: text
  output answer: text
  output history: list[text]
  output other: text
  agent expert(field) { role "Expert in {field}." memory 2 }
  agent physicist = expert(field: "physics")
  agent chemist = expert(field: "chemistry") { memory 1 }
  flow {
    loop max 3 {
      answer = physicist(task, previous: answer)
      other = chemist(task, answer)
    }
    history = rounds(answer)
  }
}
"""


def test_template_instances_remember_their_own_earlier_loop_iterations() -> None:
    """Memory across loop iterations (it used to be dropped: iterations were taken for
    siblings), per instance (each its own conversation), with the instance's own override
    (`memory 1`), and `rounds` of the remembered value."""
    result, requests = run(TEMPLATE_MEMORY_LOOP, numbered(), task="T")
    assert result.outputs == {"history": ["physics0", "physics1", "physics2"],
                              "answer": "physics2", "other": "chemistry2"}
    physics = by_role(requests, "Expert in physics.")
    chemistry = by_role(requests, "Expert in chemistry.")
    assert len(physics) == len(chemistry) == 3
    assert conversation(physics[2]) == [
        ("user", "task:\nT"), ("assistant", "ANSWER: physics0"),
        ("user", "task:\nT\n\nprevious:\nphysics0"), ("assistant", "ANSWER: physics1"),
        ("user", "task:\nT\n\nprevious:\nphysics1")]
    # memory 1: only the previous iteration's exchange; never the physicist's
    assert conversation(chemistry[2]) == [
        ("user", "task:\nT\n\nanswer:\nphysics1"), ("assistant", "ANSWER: chemistry1"),
        ("user", "task:\nT\n\nanswer:\nphysics2")]
    assert result.record.llm_calls == 6


GRAPH_MEMORY = """mas seam_graph_memory {
  input task: text
  output steps: list[text]
  agent worker { role "Work." memory 2 }
  flow {
    graph max_steps 3 {
      start step
      node step = worker(task)
      edge step -> step
    }
    steps = rounds(step)
  }
}
"""


def test_a_graph_step_remembers_the_steps_before_it() -> None:
    result, requests = run(GRAPH_MEMORY, numbered(), task="T")
    assert result.outputs == {"steps": ["Work0", "Work1", "Work2"]}
    assert [len(request.messages) for request in requests] == [2, 4, 6]
    assert conversation(requests[2])[:4] == [
        ("user", "task:\nT"), ("assistant", "ANSWER: Work0"),
        ("user", "task:\nT"), ("assistant", "ANSWER: Work1")]


FLOW_ENSEMBLE_MEMORY = """mas seam_flow_members {
  input q: text
  output o: list[text]
  agent solver { role "Solve." memory 3 }
  agent critic { role "Critique." }
  flow { o = ensemble(reflect(solver, critic: critic, rounds: 1, q), n: 2) }
}
"""


def test_members_of_a_flow_ensemble_do_not_share_an_agents_memory() -> None:
    """Each member of an ensemble of a flow runs alongside the others: its solver remembers
    its own first answer, never the other member's calls (they used to leak in)."""
    compiled = compile_spec(FLOW_ENSEMBLE_MEMORY).ir
    solvers = [node for node in compiled.agent_nodes() if node.agent.name == "solver"]
    memory_sources = {node.id: sorted(edge.source for edge in compiled.in_edges(node.id)
                                      if edge.target_port.startswith("memory."))
                      for node in solvers}
    first_0, revise_0, first_1, revise_1 = (node.id for node in solvers)
    assert memory_sources == {first_0: [], revise_0: [first_0],
                              first_1: [], revise_1: [first_1]}
    result, requests = run(FLOW_ENSEMBLE_MEMORY, numbered(), q="Q")
    revisions = [request for request in by_role(requests, "Solve.")
                 if "critique:" in last_user(request)]
    assert [len(request.messages) for request in revisions] == [4, 4]
    assert result.record.llm_calls == 6


ROUNDS_MAP_REPLY = """mas seam_rounds_map {
  input task: text
  output answer: text
  output picked: text
  agent writer { role "Write." }
  agent reviewer { role "Review." }
  agent final { role "Final." }
  flow {
    loop max 3 { draft = writer(task, previous: draft) }
    drafts = rounds(draft)
    reviews = map(reviewer, drafts, task: task)
    picked = reviews[-1]
    answer = final(reply(reviews), first: drafts[0], count: len(reviews))
  }
}
"""


def test_rounds_mapped_indexed_and_the_map_result_handed_on_as_full_replies() -> None:
    """`rounds(x)` has the loop's bound as its static length, so `map` needs no `max`;
    the map's labelled input reaches every item's call; `reply()` of the map result shows
    each item's full reply, numbered."""
    counter = itertools.count()

    def reply(request: ChatRequest) -> str:
        word = role_of(request).split()[0].rstrip(".")
        return f"thinking {word}\nANSWER: {word}{next(counter)}"

    result, requests = run(ROUNDS_MAP_REPLY, reply, task="T")
    assert result.outputs == {"picked": "Review5", "answer": "Final6"}
    assert [last_user(request) for request in by_role(requests, "Review.")] == [
        "item:\nWrite0\n\ntask:\nT", "item:\nWrite1\n\ntask:\nT", "item:\nWrite2\n\ntask:\nT"]
    (final,) = by_role(requests, "Final.")
    assert last_user(final) == (
        "reviews_reply:\n1. thinking Review\nANSWER: Review3\n"
        "2. thinking Review\nANSWER: Review4\n3. thinking Review\nANSWER: Review5\n\n"
        "first:\nWrite0\n\ncount:\n3")


VOTE_OVER_FLOWS = """mas seam_vote_flows {
  input task: text
  output answer: text
  output winner: number
  agent solver -> number { role "Solve." }
  agent critic { role "Critique." }
  agent judge -> number { role "Judge." }
  agent final { role "Final." }
  flow {
    candidates = ensemble(reflect(solver, critic: critic, rounds: 1, task), n: 2)
    winner = vote(candidates, strategy: consensus, judge: judge, show: replies, question: task)
    answer = final(reply(winner), all: reply(candidates))
  }
}
"""


def test_a_vote_over_an_ensemble_of_flows_with_labelled_input_and_replies() -> None:
    """The judge sees the candidates (each member's revised answer), their full replies and
    the labelled input; `reply()` of the winner and of the candidates reach the next agent."""
    def reply(request: ChatRequest) -> str:
        role, text = role_of(request), last_user(request)
        if role.startswith("Solve."):
            return "revised\nANSWER: 5" if "critique:" in text else "first try\nANSWER: 4"
        if role.startswith("Critique."):
            return "ANSWER: check the sum"
        if role.startswith("Judge."):
            return "both agree\nANSWER: 5"
        return "ANSWER: done"

    result, requests = run(VOTE_OVER_FLOWS, reply, task="T")
    assert result.outputs == {"winner": 5, "answer": "done"}
    (judge,) = by_role(requests, "Judge.")
    assert last_user(judge) == (
        "candidates:\n1. 5\n2. 5\n\n"
        "replies:\n1. revised\nANSWER: 5\n2. revised\nANSWER: 5\n\nquestion:\nT")
    (final,) = by_role(requests, "Final.")
    assert last_user(final) == (
        "winner_reply:\nboth agree\nANSWER: 5\n\n"
        "all:\n1. revised\nANSWER: 5\n2. revised\nANSWER: 5")
    assert result.record.llm_calls == 8  # 2 × (answer, critique, revision), judge, final


TOOL_TEMPLATE = """mas seam_tool_template {
  input question: text
  output answer: number
  output all: list[number]
  tool unit-convert(value: number, to_unit: text) -> number {
    description "Convert a length in miles to to_unit."
  }
  agent converter(unit) -> number {
    role "Answer in {unit}. Use the tool."
    tools [unit-convert]
    max_tool_turns 2
  }
  agent metric = converter(unit: "km")
  agent imperial = converter(unit: "ft") { max_tool_turns 1 }
  flow {
    a = metric(question)
    b = imperial(question)
    all = map(metric, [a, b], max: 2, question: question)
    answer = vote(all, strategy: majority)
  }
}
"""


def test_a_declared_tool_used_by_template_instances_and_mapped() -> None:
    compiled = compile_spec(TOOL_TEMPLATE)
    turns = {node.agent.name: node.agent.max_tool_turns for node in compiled.ir.agent_nodes()
             if isinstance(node, AgentNode)}
    assert turns == {"metric": 2, "imperial": 1}
    systems: list[str] = []

    def reply(request: ChatRequest) -> str:
        text = last_user(request)
        if text.startswith("<tool_result"):
            return "ANSWER: " + text.splitlines()[1]
        systems.append(role_of(request))
        unit = "km" if role_of(request).startswith("Answer in km") else "ft"
        return f'<tool name="unit-convert">{{"value": 2, "to_unit": "{unit}"}}</tool>'

    def convert(value: float, to_unit: str) -> float:
        return value * (1.5 if to_unit == "km" else 5000)

    registry = ToolRegistry()
    registry.register_function("unit-convert", convert)
    engine = ScriptedEngine(reply)
    [result] = asyncio.run(run_async(compiled, {"question": "2 mi?"}, engine=engine,
                                     tools=registry))
    assert result.outputs == {"all": [3, 3], "answer": 3}
    assert {system.split(".")[0] for system in systems} == {"Answer in km", "Answer in ft"}
    assert all("- unit-convert: Convert a length in miles to to_unit." in system
               for system in systems)
    items = [last_user(request) for request in engine.requests
             if last_user(request).startswith("item:")]
    assert items == ["item:\n3\n\nquestion:\n2 mi?", "item:\n10000\n\nquestion:\n2 mi?"]
    calls = [call.tool for turn in result.turns for call in turn.tool_calls]
    assert calls == ["unit-convert"] * 4


README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_spec_of_the_newer_constructs_runs_as_it_says() -> None:
    blocks = re.findall(r"```mas\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (source,) = [block for block in blocks if block.startswith("mas unit_panel {")]
    compiled = compile_spec(source)
    judged: list[str] = []
    drafts = itertools.count(1)

    def reply(request: ChatRequest) -> str:
        role, text = role_of(request), last_user(request)
        if role.startswith("Read every worked answer"):
            judged.append(text)
            return "ANSWER: 3.2"
        if text.startswith("<tool_result"):
            return f"converted\nANSWER: {text.splitlines()[1]}"
        if role.startswith("You are an expert in physics"):
            return f"draft {next(drafts)}\nANSWER: 3.2"
        return '<tool name="unit-convert">{"value": 2, "to_unit": "km"}</tool>'

    registry = ToolRegistry()
    registry.register_function("unit-convert", lambda value, to_unit: value * 1.6)
    engine = ScriptedEngine(reply)
    [result] = asyncio.run(run_async(compiled, {"question": "2 miles in km?"}, engine=engine,
                                     tools=registry))
    assert result.outputs == {"answer": 3.2}
    physicist = by_role(engine.requests, "You are an expert in physics")
    assert conversation(physicist[1]) == [
        ("user", "question:\n2 miles in km?"), ("assistant", "draft 1\nANSWER: 3.2"),
        ("user", "question:\n2 miles in km?\n\nprevious:\n3.2")]
    assert judged == [
        "candidates:\n1. 3.2\n2. 3.2\n\n"
        "replies:\n1. converted\nANSWER: 3.2\n2. converted\nANSWER: 3.2\n\nfirst:\n3.2"]


MAP_DEBATE_MEMORY = """mas seam_map_debate_memory {
  input q: text
  input items: list[text]
  output o: text
  output ys: list[text]
  agent helper { role "Help." memory 3 }
  agent judge { role "Judge." }
  flow {
    first = helper(q)
    ys = map(helper, items, max: 2)
    o = debate([helper, judge], judge: judge, rounds: 2, q)
  }
}
"""


def test_map_items_run_alongside_and_debate_rounds_follow_in_memory() -> None:
    """The items of one map do not see each other (they run side by side); each debate
    round sees the calls before it, the map's items among them."""
    result, requests = run(MAP_DEBATE_MEMORY, numbered(), q="Q", items=["a", "b"])
    helper = by_role(requests, "Help.")
    assert len(helper) == 5 and result.outputs["ys"] == ["Help1", "Help2"]
    assert conversation(helper[1]) == [("user", "q:\nQ"), ("assistant", "ANSWER: Help0"),
                                       ("user", "item:\na")]
    assert conversation(helper[2]) == [("user", "q:\nQ"), ("assistant", "ANSWER: Help0"),
                                       ("user", "item:\nb")]
    assert conversation(helper[3])[:6] == [
        ("user", "q:\nQ"), ("assistant", "ANSWER: Help0"), ("user", "item:\na"),
        ("assistant", "ANSWER: Help1"), ("user", "item:\nb"), ("assistant", "ANSWER: Help2")]
    round_two = conversation(helper[4])
    assert [content for role, content in round_two if role == "assistant"] == [
        "ANSWER: Help1", "ANSWER: Help2", "ANSWER: Help3"]
    assert round_two[-1][1].startswith("q:\nQ\n\nround1_helper:\nANSWER: Help3")

"""State constructs at run time (scripted engine, a test double): `reply(x)`, `rounds(x)`,
agent `memory N`, `reflect(..., history: all)` and agent templates. Each test asserts
exactly what the agents receive."""

from __future__ import annotations

import asyncio
from pathlib import Path

from compiler.api import compile as compile_spec
from runtime.engines.base import ChatRequest
from runtime.executor import ExecutionResult, Executor
from tests.runtime.scripted_engine import ScriptedEngine, last_user, role_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(source: str, engine: ScriptedEngine, **inputs: object) -> ExecutionResult:
    ir = compile_spec(source).ir
    return asyncio.run(Executor(ir, {"executor": engine}).run(dict(inputs)))  # type: ignore[arg-type]


def conversation(request: ChatRequest) -> list[tuple[str, str]]:
    return [(message.role, message.content) for message in request.messages]


REPLY = """mas reply_demo {
  input q: text
  output o: text
  agent solver -> number { role "Solve." }
  agent looper -> number { role "Loop." }
  agent sampler -> number { role "Sample." }
  agent judge { role "Judge." }
  flow {
    x = solver(q)
    loop max 2 { y = looper(q, previous: y) }
    xs = ensemble(sampler, n: 2, q)
    winner = vote(xs)
    o = judge(reply(x), reply(y), reply(q), reply(xs), reply(winner), reply([x, 7]))
  }
}
"""


def test_reply_gives_the_full_reply_behind_a_value_through_merges_lists_and_votes() -> None:
    samples = iter(["sample a\nANSWER: 5", "sample b\nANSWER: 5"])
    prompts: list[str] = []

    def reply(request: ChatRequest) -> str:
        role = role_of(request)
        if role.startswith("Judge."):
            prompts.append(last_user(request))
            return "ANSWER: done"
        if role.startswith("Solve."):
            return "x is 6 x 7.\nANSWER: 42"
        if role.startswith("Loop."):
            return "second y\nANSWER: 2" if "previous" in last_user(request) \
                else "first y\nANSWER: 1"
        return next(samples)

    result = run(REPLY, ScriptedEngine(reply), q="What is 6 x 7?")
    assert result.outputs == {"o": "done"}
    assert prompts == [
        "x_reply:\nx is 6 x 7.\nANSWER: 42\n\n"
        "y_reply:\nsecond y\nANSWER: 2\n\n"           # the loop's value: its last iteration's
        "q_reply:\nWhat is 6 x 7?\n\n"                 # an input: shown as the value itself
        "xs_reply:\n1. sample a\nANSWER: 5\n2. sample b\nANSWER: 5\n\n"
        "winner_reply:\nsample a\nANSWER: 5\n\n"      # the vote's winner: its first holder's
        "reply:\n1. x is 6 x 7.\nANSWER: 42\n2. 7"]    # a literal item: the value


def test_a_vote_over_a_named_list_shows_the_judge_every_reply() -> None:
    source = """mas named {
  input q: text
  output o: number
  agent solver -> number { role "Solve." }
  agent judge -> number { role "Judge." }
  flow {
    a = solver(q)
    b = solver(q, a)
    o = vote([a, b], strategy: consensus, judge: judge, show: replies)
  }
}
"""
    replies = iter(["because A\nANSWER: 1", "because B\nANSWER: 2"])
    seen: list[str] = []

    def reply(request: ChatRequest) -> str:
        if role_of(request).startswith("Judge."):
            seen.append(last_user(request))
            return "ANSWER: 2"
        return next(replies)

    assert run(source, ScriptedEngine(reply), q="?").outputs == {"o": 2}
    assert seen == ["candidates:\n1. 1\n2. 2\n\n"
                    "replies:\n1. because A\nANSWER: 1\n2. because B\nANSWER: 2"]


ROUNDS = """mas rounds_demo {
  input task: text
  output drafts: list[text]
  output steps: list[text]
  type Verdict = enum { pass, fail }
  agent writer { role "Write." }
  agent tester -> Verdict { role "Test." }
  flow {
    loop max 4 until verdict == pass {
      draft = writer(task)
      verdict = tester(draft)
    }
    drafts = rounds(draft)
    graph max_steps 5 {
      start step
      node step = writer(task, drafts)
      node check = tester(step)
      edge step -> check
      edge check -> end when check == pass
      edge check -> step
    }
    steps = rounds(step)
  }
}
"""


def test_rounds_lists_a_names_value_after_each_iteration_and_graph_step_that_ran() -> None:
    drafts = iter(["d1", "d2", "g1", "g2"])
    verdicts = iter(["fail", "pass", "fail", "pass"])
    engine = ScriptedEngine(lambda request: f"ANSWER: {next(verdicts)}"
                            if role_of(request).startswith("Test.")
                            else f"ANSWER: {next(drafts)}")
    result = run(ROUNDS, engine, task="t")
    assert result.outputs == {"drafts": ["d1", "d2"], "steps": ["g1", "g2"]}
    assert result.record.llm_calls == 8  # the loop stopped after 2 of 4, the graph after 4 steps


MEMORY = """mas memory_demo {
  input q: text
  output o: text
  agent tutor { role "Tutor." memory 2 }
  flow {
    xs = ensemble(tutor, n: 2, q)
    a = tutor(q, hint: "one")
    b = tutor(q, hint: "two")
    o = tutor(q, a, b)
  }
}
"""


def test_memory_shows_an_agent_its_last_calls_but_not_its_parallel_siblings() -> None:
    requests: list[ChatRequest] = []
    counter = iter(range(100))

    def reply(request: ChatRequest) -> str:
        requests.append(request)
        return f"ANSWER: r{next(counter)}"

    result = run(MEMORY, ScriptedEngine(reply), q="Q")
    assert result.outputs == {"o": "r4"}
    system = requests[0].messages[0].content
    # The two ensemble samples run side by side: neither sees the other.
    assert [len(request.messages) for request in requests[:2]] == [2, 2]
    # Each later call sees the agent's last two calls before it: `a` the two samples, `b`
    # the second sample and `a`, `o` then `a` and `b`.
    assert conversation(requests[2]) == [
        ("system", system), ("user", "q:\nQ"), ("assistant", "ANSWER: r0"),
        ("user", "q:\nQ"), ("assistant", "ANSWER: r1"), ("user", "q:\nQ\n\nhint:\none")]
    assert conversation(requests[3]) == [
        ("system", system), ("user", "q:\nQ"), ("assistant", "ANSWER: r1"),
        ("user", "q:\nQ\n\nhint:\none"), ("assistant", "ANSWER: r2"),
        ("user", "q:\nQ\n\nhint:\ntwo")]
    assert conversation(requests[4])[1:5] == [
        ("user", "q:\nQ\n\nhint:\none"), ("assistant", "ANSWER: r2"),
        ("user", "q:\nQ\n\nhint:\ntwo"), ("assistant", "ANSWER: r3")]
    assert result.record.llm_calls == 5  # memory adds prompt text, never a call


HISTORY = """mas history_demo {
  input q: text
  output o: text
  agent solver { role "Solve." }
  agent critic { role "Critique." }
  flow { o = reflect(solver, critic: critic, rounds: 2, history: all, q) }
}
"""


def test_reflect_history_all_shows_each_revision_every_earlier_round() -> None:
    counter = iter(range(100))
    revisions: list[str] = []

    def reply(request: ChatRequest) -> str:
        text = f"{role_of(request)[:5]}{next(counter)}"
        if "critique:" in last_user(request):
            revisions.append(last_user(request))
        return f"ANSWER: {text}"

    result = run(HISTORY, ScriptedEngine(reply), q="Q")
    assert result.outputs == {"o": "Solve4"}
    assert revisions == [
        "q:\nQ\n\nanswer:\nANSWER: Solve0\n\ncritique:\nANSWER: Criti1",
        "q:\nQ\n\nround1_answer:\nANSWER: Solve0\n\nround1_critique:\nANSWER: Criti1\n\n"
        "answer:\nANSWER: Solve2\n\ncritique:\nANSWER: Criti3"]


def test_reflect_without_history_keeps_todays_revision_inputs() -> None:
    source = HISTORY.replace("history: all, ", "")
    counter = iter(range(100))
    revisions: list[str] = []

    def reply(request: ChatRequest) -> str:
        if "critique:" in last_user(request):
            revisions.append(last_user(request))
        return f"ANSWER: {next(counter)}"

    run(source, ScriptedEngine(reply), q="Q")
    assert revisions[1] == "q:\nQ\n\nanswer:\nANSWER: 2\n\ncritique:\nANSWER: 3"


def test_template_instances_are_ordinary_agents_with_their_roles_filled_in() -> None:
    example = (EXAMPLES / "expert_panel.mas").read_text()
    requests: list[ChatRequest] = []

    def reply(request: ChatRequest) -> str:
        requests.append(request)
        if role_of(request).startswith("You moderate"):
            return "ANSWER: final"
        field = role_of(request).split("expert in ", 1)[1].split(".", 1)[0]
        return f"As a {field} expert: because.\nANSWER: {field}"

    result = run(example, ScriptedEngine(reply), question="Why is the sky blue?")
    assert result.outputs == {"answer": "final"}
    roles = sorted(role_of(request).split(" Answer", 1)[0] for request in requests[:3])
    assert roles == ["You are an expert in biology.", "You are an expert in chemistry.",
                     "You are an expert in physics."]
    temperatures = {role_of(r).split(".", 1)[0]: r.sampling.temperature for r in requests[:3]}
    assert temperatures["You are an expert in biology"] == 0.3  # the instance's own field
    assert temperatures["You are an expert in physics"] == 0.7  # the template's
    moderator = last_user(requests[3])
    assert moderator.startswith("question:\nWhy is the sky blue?\n\n"
                                "physics_reply:\nAs a physics expert: because.\n"
                                "ANSWER: physics")

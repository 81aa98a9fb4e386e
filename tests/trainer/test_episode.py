"""The episode layer with scripted engines (test doubles): M designs x N executions."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from runtime.engines.base import ChatRequest
from tests.runtime.scripted_engine import ScriptedEngine
from trainer.episode import EpisodeSettings, run_episodes
from trainer.tasks.registry import get_task

GOOD = """mas d {
  input question: text
  output answer: number
  agent solver -> number { role "Solve." }
  flow { answer = solver(question) }
}"""
BAD = GOOD.replace("solver(question)", "solver(nothing)")


def test_rollout_designs_executions_rewards_and_penalised_designs() -> None:
    task = get_task("arithmetic")
    items = task.load("test", limit=2, seed=3)
    designs = iter([GOOD, BAD, GOOD, GOOD])
    designer = ScriptedEngine(lambda request: next(designs))
    designer.capabilities = replace(designer.capabilities, grammar=True)

    def solve(request: ChatRequest) -> str:
        question = request.messages[-1].content
        for item in items:
            if item.inputs["question"] in question:
                return f"ANSWER: {item.reference}"
        return "ANSWER: 0"

    executor = ScriptedEngine(solve)
    settings = EpisodeSettings(designs=2, executions=3, decoding="grammar",
                               executor_temperature=0.3, executor_max_tokens=7)
    rollouts = asyncio.run(run_episodes(items, task, designer=designer, executor=executor,
                                        settings=settings, seed=7, detokenize=None))
    assert [len(q.designs) for q in rollouts] == [2, 2]
    first, second = rollouts[0].designs
    assert first.design.ok and len(first.executions) == 3 and first.mean_reward == 1.0
    assert not second.design.ok and second.executions == () and second.mean_reward is None
    assert {d.code for d in second.design.diagnostics} == {"MAS101", "MAS113"}  # + unused input
    assert all(len(d.executions) == 3 for d in rollouts[1].designs)
    # every designer request carried the grammar and a distinct seed
    seeds = [r.sampling.seed for r in designer.requests]
    assert len(set(seeds)) == 4 and all(r.grammar for r in designer.requests)
    # the executor's sampling settings reach every executor call
    assert {(r.sampling.temperature, r.sampling.max_tokens) for r in executor.requests} \
        == {(0.3, 7)}

"""Runtime records -> credit samples -> token samples, on a real compiled IR."""

from __future__ import annotations

import pytest

from compiler.api import compile as compile_spec
from runtime.engines.base import Completion, ContractError
from runtime.trace import TurnRecord
from trainer.credit import executor_turn_advantages
from trainer.samples import designer_token_sample, execution_sample, executor_token_samples
from trainer.schedule import Role

SPEC = """mas two_step {
  input question: text
  output answer: number
  agent solver -> number { role "Solve." }
  flow { answer = solver(question) }
}
"""


def turn(node_id: str, tokens: tuple[int, ...], execution: str = "e0") -> TurnRecord:
    return TurnRecord(execution_id=execution, node_id=node_id, turn_index=0, agent="solver",
                      prompt_text="p", prompt_token_ids=(1, 2), completion_text="c",
                      completion_token_ids=tokens, logprobs=tuple(-0.5 for _ in tokens))


def test_turn_records_become_execution_and_token_samples() -> None:
    ir = compile_spec(SPEC).ir
    solver = next(node.id for node in ir.nodes() if node.kind == "agent_call")
    good = execution_sample("d0", 1.0, [turn(solver, (5, 6, 7))], ir)
    stray = execution_sample("d0", 0.0, [turn("n99.gone", (8,), "e1")], ir)
    assert [(t.reaches_output, t.token_count) for t in good.turns] == [(True, 3)]
    assert [t.reaches_output for t in stray.turns] == [False]
    advantages = executor_turn_advantages([good, stray], "question", eps=0.0)
    assert advantages == [[1.0], [0.0]]
    samples = executor_token_samples([turn(solver, (5, 6, 7))], advantages[0])
    assert len(samples) == 1
    assert samples[0].role is Role.EXECUTOR
    assert samples[0].advantages == (1.0, 1.0, 1.0)
    assert samples[0].old_logprobs == (-0.5, -0.5, -0.5)
    assert executor_token_samples([turn(solver, ())], [1.0]) == []


def test_designer_completion_becomes_a_token_sample() -> None:
    completion = Completion(text="mas x", prompt_token_ids=(1,), token_ids=(2, 3),
                            logprobs=(-0.1, -0.2), finish_reason="stop")
    sample = designer_token_sample(completion, [0.5, 0.0])
    assert (sample.role, sample.completion_ids, sample.advantages) == (
        Role.DESIGNER, (2, 3), (0.5, 0.0))
    with pytest.raises(ValueError, match="3 advantages for 2 completion tokens"):
        designer_token_sample(completion, [0.5, 0.0, 1.0])
    with pytest.raises(ContractError, match="0 logprobs for 2 tokens"):  # cannot even exist
        Completion(text="mas x", prompt_token_ids=(1,), token_ids=(2, 3), logprobs=(),
                   finish_reason="stop")

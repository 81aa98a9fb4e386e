"""From OpenRLHF's side of the API to the tensors its loss reads: M units of one question
(scripted vLLM stand-in), our generator's rows, concatenated experiences, kept advantages."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runtime.engines.base import ChatRequest
from tests.trainer.openrlhf.doubles import CharTokenizerDouble, ScriptedLLMEngineDouble
from tests.trainer.openrlhf.test_agent_executor import GOOD, config, identity
from tests.trainer.openrlhf.test_credit_layout import SamplesGeneratorDouble
from trainer.openrlhf import install
from trainer.openrlhf.config import OpenRLHFConfig
from trainer.openrlhf.credit_layout import DESIGNER_KEY, finalize_advantages
from trainer.openrlhf.labels import item_label
from trainer.tasks.registry import get_task

BROKEN = GOOD.replace("solver(question)", "solver(nothing)")


def test_two_designs_become_rows_with_node_and_turn_credit() -> None:
    agent_func = pytest.importorskip("trainer.openrlhf.agent_func")
    experience_module = pytest.importorskip("openrlhf.trainer.ppo_utils.experience")
    (item,) = get_task("arithmetic").load("test", limit=1, seed=3)
    label = item_label("arithmetic", item)
    designs = iter([GOOD, BROKEN])

    def reply(request: ChatRequest) -> str:
        if request.grammar is not None:
            return next(designs)
        return f"ANSWER: {item.reference}"

    engine = ScriptedLLMEngineDouble(reply)
    train = config(executions=2).model_copy(update={"schedule": config().schedule.model_copy(
        update={"kind": "coupled"})})
    executor = agent_func.AgentExecutor(train, make_params=identity)

    async def both() -> list[dict[str, Any]]:
        return [await executor.execute(prompt="q", label=label, sampling_params=None,
                                       max_length=4096, hf_tokenizer=CharTokenizerDouble(),
                                       llm_engine=engine) for _ in range(2)]

    responses = asyncio.run(both())
    generator = install.generator_class(SamplesGeneratorDouble, train,
                                        OpenRLHFConfig(model="m"))(responses)
    rows, *_ = generator.generate_samples(max_len=4096)
    roles = [row.info[DESIGNER_KEY].item() for row in rows]
    assert roles == [1.0, 1.0, 0.0, 0.0]  # two designs, then the good design's two turns
    good, broken, turn, _ = rows
    # design returns 1.0 (both executions right) and -1 (compile penalty): +1 / -1
    good_advantages = good.advantages[good.action_mask.bool()]
    assert good_advantages.tolist() == pytest.approx([1.0] * len(GOOD), abs=1e-5)
    broken_advantages = broken.advantages[broken.action_mask.bool()].tolist()
    nothing = BROKEN.index("nothing")
    assert broken_advantages[nothing] == pytest.approx(-1.0, abs=1e-5)  # the error's tokens
    assert broken_advantages[0] == 0.0  # outside the error: no evidence, no credit
    # every execution was right: no preference among executions, zero turn advantages
    assert turn.advantages.abs().sum().item() == 0.0 and turn.action_mask.sum().item() > 0
    batch = experience_module.Experience.concat_experiences(rows, pad_token_id=0)
    (final,) = finalize_advantages([batch])
    assert final.advantages.shape == final.action_mask.shape
    assert (final.advantages * (1 - final.action_mask)).abs().sum().item() == 0.0

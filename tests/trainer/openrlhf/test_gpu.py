"""On a CUDA machine: one rollout unit on a real vLLM engine through the OpenRLHF adapter
(grammar-constrained design, compile, executions). Skipped with a reason where there is no
GPU (tests/conftest.py). That our classes reach OpenRLHF's trainer actor is tested on the CPU
(`test_trainer_actor`: the actor class pickled and built across processes as Ray does) and
confirmed on a real run by the start-up line `benchmarks/gpu_smoke.sh` reports."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.test_vllm_engine import hf_directory_from_embedded_gguf
from tests.trainer.openrlhf.test_agent_executor import config
from trainer.openrlhf.labels import item_label


class VLLMTokenEngine:
    """OpenRLHF's rollout-actor call shape (`generate(prompt_token_ids, sampling_params)`)
    over a real in-process vLLM `AsyncLLMEngine`."""

    def __init__(self, model: Path) -> None:
        import vllm

        self.engine = vllm.AsyncLLMEngine.from_engine_args(vllm.AsyncEngineArgs(
            model=str(model), max_model_len=4096, gpu_memory_utilization=0.3,
            enforce_eager=True, max_logprobs=1))

    async def generate(self, prompt_token_ids: list[int], sampling_params: Any,
                       multi_modal_data: Any = None) -> Any:
        from vllm.inputs import TokensPrompt

        final = None
        async for output in self.engine.generate(TokensPrompt(prompt_token_ids=prompt_token_ids),
                                                 sampling_params, uuid.uuid4().hex):
            final = output
        return final


@pytest.mark.gpu
@pytest.mark.slow
def test_a_unit_runs_on_vllm_with_grammar_constrained_designs(tmp_path: Path) -> None:
    pytest.importorskip("vllm", reason="vllm is not installed on this GPU machine")
    from transformers import AutoTokenizer

    from trainer.openrlhf.unit import UnitRunner
    from trainer.tasks.registry import get_task

    model = hf_directory_from_embedded_gguf(tmp_path / "smollm2")
    tokenizer = AutoTokenizer.from_pretrained(model)
    engine = VLLMTokenEngine(model)
    (item,) = get_task("arithmetic").load("test", limit=1, seed=0)
    runner = UnitRunner(config(executions=2))
    sample = asyncio.run(runner.run(item.inputs["question"], item_label("arithmetic", item),
                                    4096, tokenizer, engine))
    unit = sample["masdsl_unit"]
    designer = unit.designer
    assert designer.error is None and len(designer.token_ids) == len(designer.logprobs) > 0
    assert all(logprob <= 0.0 for logprob in designer.logprobs)
    # grammar-constrained: a design that was not cut short parses (MAS00x: syntax errors)
    if designer.finish_reason == "stop":
        assert not [d for d in unit.design.diagnostics if d.code.startswith("MAS00")]
    assert len(unit.design.token_offsets) == len(designer.token_ids)
    assert len(sample["rollout_log_probs"]) == len(sample["observation_tokens"])

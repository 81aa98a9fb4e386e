"""The file given to OpenRLHF's `--train.agent_func_path`.

OpenRLHF loads this file by path in each vLLM rollout actor and instantiates `AgentExecutor()`
(no arguments), so the configs come from the job's runtime env (`MASDSL_OPENRLHF_SETTINGS`,
written by `trainer.openrlhf.command.job_command`). Each `execute()` runs one hierarchical
rollout unit (`trainer.openrlhf.unit`) on the actor's own vLLM engine.
"""

from __future__ import annotations

import os
from typing import Any

from openrlhf.utils.agent import AgentExecutorBase

from trainer.config import TrainConfig
from trainer.openrlhf.config import SETTINGS_VARIABLE, settings_from_json
from trainer.openrlhf.engine_adapter import ParamsFactory, vllm_params
from trainer.openrlhf.unit import UnitRunner


class AgentExecutor(AgentExecutorBase):  # type: ignore[misc]
    """OpenRLHF's agent API over our hierarchical rollout."""

    def __init__(self, train: TrainConfig | None = None,
                 make_params: ParamsFactory = vllm_params) -> None:
        if train is None:
            text = os.environ.get(SETTINGS_VARIABLE)
            if not text:
                raise RuntimeError(f"{SETTINGS_VARIABLE} is not set: start training with "
                                   "`masc train CONFIG --backend openrlhf`, which sets it")
            train, _ = settings_from_json(text)
        self.runner = UnitRunner(train, make_params=make_params)

    async def execute(self, prompt: str, label: str, sampling_params: Any, max_length: int,
                      hf_tokenizer: Any, llm_engine: Any, images: Any = None) -> dict[str, Any]:
        """One unit: design (grammar-constrained) -> compile -> N executions -> the sample
        dict for the designer completion, with the unit's record for our credit.
        OpenRLHF's `sampling_params` are not used: each request gets its own (the designer's
        from the config, each agent's from its spec) with logprobs on."""
        return await self.runner.run(prompt, label, max_length, hf_tokenizer, llm_engine)

"""Test double: a designer that writes scripted specs, teacher-forced through the real policy.

SmolLM2-135M almost never writes a spec that compiles, so an end-to-end test that needs a
non-zero designer advantage scripts the designs: `ScriptedDesigner` answers the i-th designer
request with `specs[i % len(specs)]`, tokenised by the policy's tokenizer and scored by the
policy's own engine (`TransformersEngine.score`), so the completion carries the real prompt
token ids and the real "old" logprobs of those tokens under the current weights, exactly what
a sampled completion would carry. Every other call goes to the wrapped engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.engines.base import ChatRequest, Completion


class ScriptedDesigner:
    """Wraps a `TransformersEngine`; designs come from `specs` in turn."""

    def __init__(self, engine: Any, specs: Sequence[str]) -> None:
        self.engine = engine
        self.specs = tuple(specs)
        self.name = "scripted-designer"
        self.capabilities = engine.capabilities
        self.count = 0

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        completions = []
        tokenizer = self.engine.tokenizer
        for request in requests:
            spec = self.specs[self.count % len(self.specs)]
            self.count += 1
            prompt = self.engine.encode_prompt(request.messages)
            ids = list(tokenizer(spec, add_special_tokens=False)["input_ids"])
            logprobs = self.engine.score(prompt, ids)
            completions.append(Completion(
                text=spec, prompt_token_ids=tuple(prompt), token_ids=tuple(ids),
                logprobs=tuple(float(x) for x in logprobs), finish_reason="stop",
                prompt_text=self.engine.render_prompt(request.messages)))
        return completions

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return str(self.engine.detokenize(token_ids))

    async def close(self) -> None:
        """The wrapped engine belongs to the trainer."""

"""Typed designs sampled by the real llama.cpp engine, through the trainer's sample and
batch code: the tokens the grammar left no choice for carry no loss, the others do."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.designer import Interface, design_request, sample_designs
from runtime.engines.base import Sampling


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("torch")
    from runtime.engines.embedded import ModelNotFoundError
    from runtime.engines.llama_native import ContextSettings
    from runtime.engines.llamacpp import LlamaCppEngine

    try:
        built = LlamaCppEngine(settings=ContextSettings(sequence_context=1024, max_sequences=4,
                                                        threads=1))
    except ModelNotFoundError as missing:  # pragma: no cover - depends on the environment
        pytest.skip(str(missing))
    yield built
    asyncio.run(built.close())


def test_grammar_forced_design_tokens_are_out_of_the_loss_mask(engine: Any) -> None:
    from trainer.batch import pack
    from trainer.samples import designer_token_sample

    requests = [design_request(f"What is {a} + {b}?", sampling=Sampling(
        temperature=1.0, max_tokens=96, seed=seed)) for seed, (a, b) in enumerate([(3, 4), (6, 2)])]
    designs = asyncio.run(sample_designs(engine, requests, Interface(), "typed"))
    for design in designs:
        completion = design.completion
        assert len(completion.forced) == len(completion.token_ids) > 0
        # typed decoding forces much of a design (keywords, braces, declared names) but
        # leaves choices (names, roles, numbers)
        assert 0 < sum(completion.forced) < len(completion.token_ids)
        sample = designer_token_sample(completion, [1.0] * len(completion.token_ids))
        batch = pack([sample], pad_id=0)
        first = len(completion.prompt_token_ids) - 1
        scored = batch.loss_mask[0, first:first + len(completion.token_ids)].tolist()
        assert scored == [0.0 if forced else 1.0 for forced in completion.forced]
        assert batch.tokens == len(completion.token_ids) - sum(completion.forced)

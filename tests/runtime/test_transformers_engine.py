"""TransformersEngine on the embedded SmolLM2 GGUF: sampling, batching, stops, grammar, scoring.

Loading the model takes ~15 s on 2 cores, so one engine serves the whole module; generations
use a handful of tokens. Marked slow for the model load.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from runtime.engines.base import ChatRequest, EngineError, Message, Sampling

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gguf")

from runtime.engines.embedded import embedded_gguf_path  # noqa: E402
from runtime.engines.transformers_engine import TransformersEngine  # noqa: E402

pytestmark = pytest.mark.slow

QUESTION = (Message("user", "Name three colours."),)
YES_NO = 'start: "yes" | "no"'


@pytest.fixture(scope="module")
def engine() -> Iterator[TransformersEngine]:
    try:
        path = embedded_gguf_path()
    except EngineError as error:
        pytest.skip(f"embedded model unavailable: {error}")
    yield TransformersEngine.from_pretrained(path)


def greedy(max_tokens: int, stop: tuple[str, ...] = ()) -> ChatRequest:
    return ChatRequest(QUESTION, Sampling(temperature=0.0, max_tokens=max_tokens, stop=stop))


def test_completion_fields_are_consistent(engine: TransformersEngine) -> None:
    [completion] = asyncio.run(engine.generate([greedy(4)]))
    assert completion.finish_reason == "length"
    assert completion.error is None
    assert len(completion.token_ids) == len(completion.logprobs) == 4
    assert all(logprob <= 0.0 for logprob in completion.logprobs)
    assert completion.text == engine.tokenizer.decode(
        list(completion.token_ids), skip_special_tokens=True
    )
    assert completion.prompt_text.startswith("<|im_start|>")
    assert completion.prompt_text.endswith("<|im_start|>assistant\n")
    assert list(completion.prompt_token_ids) == engine.encode_prompt(QUESTION)


def test_concurrent_calls_share_a_batch_and_seeds_are_deterministic(
    engine: TransformersEngine,
) -> None:
    seeded = ChatRequest(QUESTION, Sampling(temperature=1.0, max_tokens=4, seed=7))

    async def two_callers() -> list[list[tuple[int, ...]]]:
        results = await asyncio.gather(engine.generate([seeded]), engine.generate([seeded]))
        return [[completion.token_ids for completion in result] for result in results]

    before = len(engine.batch_sizes)
    [[first], [second]] = asyncio.run(two_callers())
    assert engine.batch_sizes[before:] == [2]
    assert first == second
    assert len(first) == 4


def test_stop_string_truncates_text(engine: TransformersEngine) -> None:
    [baseline] = asyncio.run(engine.generate([greedy(6)]))
    tokens = list(baseline.token_ids)
    before = engine.tokenizer.decode(tokens[:2], skip_special_tokens=True)
    stop = engine.tokenizer.decode(tokens[:3], skip_special_tokens=True)[len(before) :]
    assert stop.strip(), f"third token adds no visible text: {baseline.text!r}"
    [stopped] = asyncio.run(engine.generate([greedy(6, stop=(stop,))]))
    assert stopped.finish_reason == "stop"
    assert stopped.text == baseline.text[: baseline.text.find(stop)]
    assert stop not in stopped.text
    assert len(stopped.token_ids) <= 3


def test_grammar_constrains_every_sample(engine: TransformersEngine) -> None:
    requests = [
        ChatRequest(
            (Message("user", "Is water wet? Answer yes or no."),),
            Sampling(temperature=1.0, max_tokens=5, seed=seed),
            grammar=YES_NO,
        )
        for seed in range(3)
    ]
    completions = asyncio.run(engine.generate(requests))
    for completion in completions:
        assert completion.error is None
        assert completion.text in {"yes", "no"}
        assert completion.finish_reason == "stop"
        # the contract: a finished grammar leaves no end-of-turn token behind
        assert engine.tokenizer.eos_token_id not in completion.token_ids
        assert engine.detokenize(completion.token_ids) == completion.text


def test_invalid_grammar_fails_only_its_own_request(engine: TransformersEngine) -> None:
    bad = ChatRequest(QUESTION, Sampling(max_tokens=2), grammar="start: undefined_rule")
    good = greedy(1)
    failed, served = asyncio.run(engine.generate([bad, good]))
    assert failed.finish_reason == "error"
    assert failed.error is not None and "undefined_rule" in failed.error
    assert failed.token_ids == ()
    assert served.error is None and len(served.token_ids) == 1


def test_prompt_longer_than_context_is_an_error_completion(engine: TransformersEngine) -> None:
    huge = ChatRequest((Message("user", "word " * 9000),), Sampling(max_tokens=2))
    [completion] = asyncio.run(engine.generate([huge]))
    assert completion.finish_reason == "error"
    assert completion.error is not None and "context" in completion.error


def test_score_matches_generation_logprobs(engine: TransformersEngine) -> None:
    [completion] = asyncio.run(engine.generate([greedy(5)]))
    scored = engine.score(completion.prompt_token_ids, completion.token_ids)
    assert not scored.requires_grad
    assert scored.shape == (len(completion.token_ids),)
    assert torch.allclose(scored, torch.tensor(completion.logprobs), atol=2e-3)
    batch = engine.score_batch(
        [
            (completion.prompt_token_ids, completion.token_ids),
            (completion.prompt_token_ids[:-3], completion.prompt_token_ids[-3:]),
        ]
    )
    assert torch.allclose(batch[0], scored, atol=1e-4)
    assert batch[1].shape == (3,)


def test_score_with_grad_reaches_the_weights(engine: TransformersEngine) -> None:
    prompt = engine.encode_prompt(QUESTION)
    scored = engine.score(prompt, [504, 2988], grad=True)
    assert scored.requires_grad
    engine.model.zero_grad()
    scored.sum().backward()  # type: ignore[no-untyped-call]
    head = engine.model.get_output_embeddings().weight
    assert head.grad is not None and float(head.grad.abs().sum()) > 0.0
    engine.model.zero_grad(set_to_none=True)


def test_engine_wraps_a_loaded_model_and_close_releases_it(engine: TransformersEngine) -> None:
    wrapper = TransformersEngine(engine.model, engine.tokenizer, name="trainer-policy")
    [completion] = asyncio.run(wrapper.generate([greedy(2)]))
    assert len(completion.token_ids) == 2
    asyncio.run(wrapper.close())
    with pytest.raises(EngineError, match="closed"):
        asyncio.run(wrapper.generate([greedy(1)]))
    assert engine.model is not None  # the owner's engine keeps working


def test_missing_model_path_is_a_clear_error() -> None:
    with pytest.raises(EngineError, match="does not exist"):
        TransformersEngine.from_pretrained("/nonexistent/model-dir")

"""The embedded llama.cpp engine on the real SmolLM2-135M-Instruct model (loads in ~0.2 s)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("llguidance")

from runtime.engines.base import ChatRequest, Completion, Engine, Message, Sampling
from runtime.engines.embedded import ModelNotFoundError
from runtime.engines.embedded import embedded_gguf_path as default_model_path
from runtime.engines.llama_native import ContextSettings
from runtime.engines.llamacpp import LlamaCppEngine

try:
    default_model_path()
except ModelNotFoundError as missing:  # pragma: no cover - depends on the environment
    pytest.skip(str(missing), allow_module_level=True)


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaCppEngine]:
    built = LlamaCppEngine(
        settings=ContextSettings(sequence_context=1024, max_sequences=16, threads=1)
    )
    yield built
    asyncio.run(built.close())


def ask(text: str, **sampling: object) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),), sampling=Sampling(**sampling))  # type: ignore[arg-type]


def run(engine: LlamaCppEngine, requests: list[ChatRequest]) -> list[Completion]:
    return asyncio.run(engine.generate(requests))


def test_satisfies_the_engine_protocol(engine: LlamaCppEngine) -> None:
    assert isinstance(engine, Engine)
    capabilities = engine.capabilities
    assert capabilities.batching and capabilities.logprobs and capabilities.grammar
    assert capabilities.token_ids and capabilities.max_context == 1024


def test_fixed_seed_is_identical_alone_and_inside_a_batch(engine: LlamaCppEngine) -> None:
    target = ask("Write a short poem about the sea.", temperature=1.0, max_tokens=24, seed=7)
    [alone] = run(engine, [target])
    others = [
        ask(f"Name {n} animals that live in the forest.", temperature=0.9, max_tokens=16, seed=n)
        for n in range(7)
    ]
    batched = run(engine, [*others[:3], target, *others[3:]])
    assert batched[3].token_ids == alone.token_ids
    assert batched[3].logprobs == alone.logprobs
    assert batched[3].text == alone.text
    assert len({c.token_ids for c in batched}) > 1  # the batch really held different requests


def test_different_seeds_differ(engine: LlamaCppEngine) -> None:
    first, second = run(
        engine,
        [ask("Tell me a story.", temperature=1.0, max_tokens=16, seed=s) for s in (1, 2)],
    )
    assert first.token_ids != second.token_ids


def test_max_tokens_and_logprobs_and_token_ids(engine: LlamaCppEngine) -> None:
    [completion] = run(engine, [ask("Count from one to fifty.", temperature=0.0, max_tokens=9)])
    assert completion.finish_reason == "length"
    assert len(completion.token_ids) == 9 == len(completion.logprobs)
    assert all(math.isfinite(x) and x <= 0.0 for x in completion.logprobs)
    assert engine.detokenize(completion.token_ids) == completion.text
    assert completion.prompt_token_ids
    assert completion.prompt_text.endswith("<|im_start|>assistant\n")


def test_end_of_sequence_stops_with_its_token_recorded(engine: LlamaCppEngine) -> None:
    [completion] = run(engine, [ask("Say hi.", temperature=0.0, max_tokens=200)])
    assert completion.finish_reason == "stop"
    assert engine.is_end_of_turn(completion.token_ids[-1])
    assert engine.detokenize(completion.token_ids) == completion.text


def test_stop_string_truncates_text(engine: LlamaCppEngine) -> None:
    [free] = run(
        engine, [ask("Count from 1 to 20, separated by commas.", temperature=0.0, max_tokens=40)]
    )
    assert "5" in free.text
    [stopped] = run(
        engine,
        [
            ask(
                "Count from 1 to 20, separated by commas.",
                temperature=0.0,
                max_tokens=40,
                stop=("5",),
            )
        ],
    )
    assert stopped.finish_reason == "stop"
    assert "5" not in stopped.text
    assert stopped.text == free.text[: free.text.index("5")]


def test_over_long_prompt_is_an_error_completion_not_an_exception(engine: LlamaCppEngine) -> None:
    long_prompt = "word " * 3000
    good, bad = run(engine, [ask("Say yes.", max_tokens=4, seed=0), ask(long_prompt)])
    assert bad.finish_reason == "error"
    assert bad.error is not None and "context holds 1024" in bad.error
    assert good.finish_reason in ("stop", "length") and good.error is None


def test_sixteen_concurrent_callers_all_complete(engine: LlamaCppEngine) -> None:
    async def many() -> list[list[Completion]]:
        return await asyncio.gather(
            *(
                engine.generate([ask(f"Say the number {n}.", max_tokens=4, seed=n)])
                for n in range(16)
            )
        )

    results = asyncio.run(many())
    assert len(results) == 16
    assert all(r[0].finish_reason in ("stop", "length") and r[0].token_ids for r in results)


TINY_GRAMMAR = """
start: "The answer is " ANSWER "."
ANSWER: "yes" | "no" | "maybe"
"""


def test_tiny_grammar_constrains_every_sample(engine: LlamaCppEngine) -> None:
    requests = [
        ChatRequest(
            messages=(Message("user", "Is the sky blue?"),),
            sampling=Sampling(temperature=1.0, max_tokens=20, seed=seed),
            grammar=TINY_GRAMMAR,
        )
        for seed in range(10)
    ]
    completions = run(engine, requests)
    allowed = {f"The answer is {word}." for word in ("yes", "no", "maybe")}
    assert [c.text for c in completions if c.text in allowed] == [c.text for c in completions]
    assert all(c.finish_reason == "stop" for c in completions)


def test_bad_grammar_is_an_error_completion(engine: LlamaCppEngine) -> None:
    [completion] = run(
        engine, [ChatRequest(messages=(Message("user", "hi"),), grammar="start: undefined_rule")]
    )
    assert completion.finish_reason == "error"
    assert completion.error and "grammar" in completion.error


def test_close_stops_the_worker_and_refuses_new_work() -> None:
    from runtime.engines.base import EngineError

    engine = LlamaCppEngine(
        settings=ContextSettings(sequence_context=256, max_sequences=2, threads=1)
    )
    asyncio.run(engine.close())
    assert not engine._worker.is_alive()
    with pytest.raises(EngineError, match="closed"):
        asyncio.run(engine.generate([ask("hi")]))


MAS_PROMPT = (
    "Write a masdsl spec. Example:\n"
    'mas qa { input question: text output answer: text agent solver -> text { role "Solve." } '
    "flow { answer = solver(question) } }\n"
    "Now write a spec with a solver and a verifier."
)


@pytest.mark.slow
def test_masdsl_grammar_constrains_every_prefix(engine: LlamaCppEngine) -> None:
    """10 samples under the shipped grammar: each finished one parses with the Lark parser;
    each unfinished one (max_tokens reached) is a prefix llguidance re-validates in full."""
    from llguidance import LLMatcher

    from grammar import grammar_text, parser

    requests = [
        ChatRequest(
            messages=(Message("user", MAS_PROMPT),),
            sampling=Sampling(temperature=0.7, max_tokens=200, seed=seed),
            grammar=grammar_text(),
        )
        for seed in range(10)
    ]
    completions = run(engine, requests)
    tokenizer = engine._grammar._lltokenizer()
    finished = 0
    for completion in completions:
        assert completion.finish_reason in ("stop", "length"), completion.error
        if completion.finish_reason == "stop":
            finished += 1
            parser().parse(completion.text)
        checker = LLMatcher(tokenizer, LLMatcher.grammar_from_lark(grammar_text()), log_level=0)
        assert checker.validate_tokens(list(completion.token_ids)) == len(completion.token_ids)
    print(f"masdsl grammar: {finished}/10 samples finished within 200 tokens")


def test_a_continued_reply_reuses_its_cells_and_decodes_what_a_cold_prefill_decodes(
        engine: LlamaCppEngine) -> None:
    """Typed decoding's next stage (`continue_from`) feeds only what the cache lacks, and the
    kept cells hold the right tokens: greedy decoding picks the same tokens as after a cleared
    cache. (Logprobs agree to the engine's usual batch-shape noise, not bit for bit: cells
    computed one token per step round differently from one prefill; on this Q4_1 model a cold
    decode and a cold teacher-forced score of the same tokens already differ by up to ~0.2.)"""
    [first] = run(engine, [ask("Count from one to twenty.", temperature=1.0, max_tokens=12,
                               seed=3)])
    stage = ChatRequest(messages=(Message("user", "Count from one to twenty."),),
                        sampling=Sampling(temperature=0.0, max_tokens=16, seed=4),
                        continue_from=first.token_ids)
    reused_before, prompt_before = engine.prefix_reuse
    [warm] = run(engine, [stage])
    reused, prompt = (after - before for after, before in
                      zip(engine.prefix_reuse, (reused_before, prompt_before), strict=True))
    assert prompt == len(warm.prompt_token_ids)
    assert reused == prompt - 1  # only the last sampled token of the first stage is fed

    engine.set_adapter(None)  # clears every KV cell
    cold_before = engine.prefix_reuse[0]
    [cold] = run(engine, [stage])
    assert engine.prefix_reuse[0] == cold_before
    assert (cold.token_ids, cold.text) == (warm.token_ids, warm.text)
    assert max(abs(a - b) for a, b in zip(cold.logprobs, warm.logprobs, strict=True)) < 0.5


def test_requests_sharing_a_prompt_share_its_cells(engine: LlamaCppEngine) -> None:
    question = "What is the capital of France? Answer in one word."
    run(engine, [ask(question, temperature=0.0, max_tokens=4, seed=1)])
    reused_before = engine.prefix_reuse[0]
    [again] = run(engine, [ask(question, temperature=0.0, max_tokens=4, seed=2)])
    assert engine.prefix_reuse[0] - reused_before == len(again.prompt_token_ids) - 1


def test_decode_work_counts_every_fed_token_once(engine: LlamaCppEngine) -> None:
    """`decode_work` counts what llama_decode was fed: a cold prompt whole, a cached prefix
    not at all, and every sampled token but the last (nothing decodes after it)."""
    engine.set_adapter(None)  # clears every KV cell
    question = "Name three colours of the rainbow."
    before = engine.decode_work
    [cold] = run(engine, [ask(question, temperature=1.0, max_tokens=6, seed=5)])
    cold_work = engine.decode_work.since(before)
    assert cold_work.tokens == len(cold.prompt_token_ids) + len(cold.token_ids) - 1
    assert cold_work.calls == len(cold.token_ids)  # one prefill call, then one per token
    assert cold_work.seconds > 0.0

    reused_before = engine.prefix_reuse[0]
    before = engine.decode_work
    [warm] = run(engine, [ask(question, temperature=1.0, max_tokens=6, seed=6)])
    reused = engine.prefix_reuse[0] - reused_before
    assert reused == len(warm.prompt_token_ids) - 1
    assert engine.decode_work.since(before).tokens == 1 + len(warm.token_ids) - 1


def test_concurrent_requests_with_one_long_prompt_prefill_it_once() -> None:
    """Eight samples of one long prompt: seven copy the first one's cells instead of
    prefilling, and greedy decoding gives what an engine without the cache gives."""
    role = "You are a careful assistant. " * 20
    requests = [ChatRequest(messages=(Message("system", role), Message("user", "Say hi.")),
                            sampling=Sampling(temperature=0.0, max_tokens=6, seed=s))
                for s in range(8)]
    shared = LlamaCppEngine(settings=ContextSettings(sequence_context=512, max_sequences=8,
                                                     threads=1))
    plain = LlamaCppEngine(settings=ContextSettings(sequence_context=512, max_sequences=8,
                                                    threads=1, prefix_cache=False))
    try:
        with_cache = run(shared, requests)
        without = run(plain, requests)
        reused, prompt = shared.prefix_reuse
        assert plain.prefix_reuse[0] == 0
    finally:
        asyncio.run(shared.close())
        asyncio.run(plain.close())
    length = len(with_cache[0].prompt_token_ids)
    assert prompt == 8 * length
    assert reused == 7 * (length - 1)
    assert [c.token_ids for c in with_cache] == [c.token_ids for c in without]

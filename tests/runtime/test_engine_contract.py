"""The completion contract (`runtime.engines.base`), run over every engine this machine has.

Each engine is a real one on the embedded SmolLM2 model: llama.cpp in process, transformers
(the GGUF dequantised into torch), the OpenAI-compatible client against a real
`llama_cpp.server` on loopback, and OpenRLHF's rollout adapter (`OpenRLHFEngine`) over a vLLM
actor double backed by the real transformers model, which returns what vLLM returns (the
end-of-turn token it samples when a grammar ends stays in its token ids, so the adapter must
drop it). vLLM itself needs a GPU and skips without one.

The rules: `text` is the detokenised `token_ids` (special tokens left out, stop strings cut
the ids too); a grammar that finishes leaves no end-of-turn token, so a reply sampled in
stages with `continue_from` is exactly its stages' tokens and texts; one logprob per token;
failures are `Completion.failure` (no text, no tokens, a message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import pytest

from runtime.engines.base import ChatRequest, Completion, Engine, Message, Sampling

pytestmark = pytest.mark.slow

QUESTION = (Message("user", "Is the sky blue? Answer, then explain in one sentence."),)
YES_NO = 'start: "yes" | "no"\n'


@dataclass
class Subject:
    """An engine under test and what the checks need to know of its tokenizer (None when
    the engine returns no token ids)."""

    engine: Engine
    detokenize: Callable[[Sequence[int]], str] | None
    is_end_of_turn: Callable[[int], bool] | None


class VLLMActorDouble:
    """Test double of OpenRLHF's vLLM actor: samples with the real transformers engine and
    answers with a vLLM `RequestOutput`-shaped object, keeping, as vLLM does, the end-of-turn
    token sampled after a grammar completes. `params` is the `ChatRequest` (the adapter's
    params factory is the identity here)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    async def generate(self, prompt_token_ids: list[int], params: ChatRequest) -> Any:
        [completion] = await self.engine.generate([params])
        ids, logprobs = list(completion.token_ids), list(completion.logprobs)
        if params.grammar is not None and completion.finish_reason == "stop":
            eos = int(self.engine.tokenizer.eos_token_id)
            ids.append(eos)
            logprobs.append(-0.01)
        entries = [{token: SimpleNamespace(logprob=value)} for token, value in zip(
            ids, logprobs, strict=True)]
        output = SimpleNamespace(token_ids=ids, logprobs=entries, text=completion.text,
                                 finish_reason=completion.finish_reason)
        return SimpleNamespace(outputs=[output])


def _embedded_path() -> Any:
    from runtime.engines.base import EngineError
    from runtime.engines.embedded import embedded_gguf_path

    try:
        return embedded_gguf_path()
    except EngineError as error:
        pytest.skip(f"embedded model unavailable: {error}")


@pytest.fixture(scope="module")
def transformers_engine() -> Iterator[Any]:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from runtime.engines.transformers_engine import TransformersEngine

    engine = TransformersEngine.from_pretrained(_embedded_path())
    yield engine
    asyncio.run(engine.close())


ENGINES = ("llamacpp", "transformers", "openrlhf", "openai", "vllm")


@pytest.fixture(scope="module", params=ENGINES)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    name = request.param
    if name == "llamacpp":
        pytest.importorskip("llama_cpp")
        from runtime.engines.llamacpp import LlamaCppEngine

        llama = LlamaCppEngine(_embedded_path())
        yield Subject(llama, llama.detokenize, llama.is_end_of_turn)
        asyncio.run(llama.close())
    elif name == "transformers":
        engine = request.getfixturevalue("transformers_engine")
        yield Subject(engine, engine.detokenize, engine.is_end_of_turn)
    elif name == "openrlhf":
        from trainer.openrlhf.engine_adapter import OpenRLHFEngine

        engine = request.getfixturevalue("transformers_engine")
        adapter = OpenRLHFEngine(VLLMActorDouble(engine), engine.tokenizer, max_length=2048,
                                 make_params=lambda chat_request: chat_request)
        yield Subject(adapter, engine.detokenize, engine.is_end_of_turn)
    elif name == "openai":
        from runtime.engines.openai_engine import OpenAIConfig, OpenAIEngine

        url = request.getfixturevalue("server_url")
        client = OpenAIEngine(OpenAIConfig(base_url=url, model="smollm2",
                                           server_kind="llamacpp"))
        yield Subject(client, None, None)  # llama_cpp.server returns no token ids
        asyncio.run(client.close())
    else:
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("vllm needs a CUDA GPU; this machine has none")
        pytest.importorskip("vllm")
        from runtime.engines.vllm_engine import VLLMConfig, VLLMEngine

        vllm_engine = VLLMEngine(VLLMConfig(model=str(_embedded_path())))
        yield Subject(vllm_engine, None, None)
        asyncio.run(vllm_engine.close())


def generate(subject: Subject, *requests: ChatRequest) -> list[Completion]:
    return asyncio.run(subject.engine.generate(list(requests)))


def check(subject: Subject, request: ChatRequest, completion: Completion) -> None:
    """The rules that hold for every completion."""
    assert len(completion.logprobs) == len(completion.token_ids)
    assert all(value <= 0.0 for value in completion.logprobs)
    if completion.finish_reason == "error":
        assert completion.error and completion.text == "" and completion.token_ids == ()
        return
    assert completion.error is None
    if subject.detokenize is not None:
        assert completion.text == subject.detokenize(completion.token_ids)
    if request.grammar is not None and subject.is_end_of_turn is not None:
        assert not any(subject.is_end_of_turn(token) for token in completion.token_ids)


def ask(max_tokens: int, *, grammar: str | None = None, stop: tuple[str, ...] = (),
        continue_from: tuple[int, ...] = ()) -> ChatRequest:
    return ChatRequest(QUESTION, Sampling(temperature=0.0, max_tokens=max_tokens, seed=3,
                                          stop=stop), grammar=grammar,
                       continue_from=continue_from)


def test_a_plain_completion(subject: Subject) -> None:
    request = ask(12)
    [completion] = generate(subject, request)
    check(subject, request, completion)
    assert completion.text and completion.finish_reason in ("stop", "length")


def test_a_natural_end_of_turn_is_kept(subject: Subject) -> None:
    if subject.is_end_of_turn is None:
        pytest.skip(f"{subject.engine.name} returns no token ids")
    request = replace(ask(200), messages=(Message("user", "Reply with the word OK only."),))
    [completion] = generate(subject, request)
    check(subject, request, completion)
    assert completion.finish_reason == "stop"
    assert subject.is_end_of_turn(completion.token_ids[-1])  # the model chose to stop


def test_a_finished_grammar_leaves_no_end_of_turn(subject: Subject) -> None:
    if not subject.engine.capabilities.grammar:
        pytest.skip(f"{subject.engine.name} does not constrain decoding")
    request = ask(8, grammar=YES_NO)
    [completion] = generate(subject, request)
    check(subject, request, completion)
    assert completion.finish_reason == "stop" and completion.text in ("yes", "no")


def test_a_reply_in_stages_is_its_stages(subject: Subject) -> None:
    if not subject.engine.capabilities.continuation:
        pytest.skip(f"{subject.engine.name} cannot continue a reply from token ids")
    first_request = ask(16, grammar='start: "mas demo {"\n')
    [first] = generate(subject, first_request)
    check(subject, first_request, first)
    second_request = ask(16, grammar='start: "\\n  input question: text"\n',
                         continue_from=first.token_ids)
    [second] = generate(subject, second_request)
    check(subject, second_request, second)
    assert second.prompt_token_ids[-len(first.token_ids):] == first.token_ids
    whole = first.token_ids + second.token_ids
    assert subject.detokenize is not None
    assert subject.detokenize(whole) == first.text + second.text \
        == "mas demo {\n  input question: text"


def test_forced_marks_the_tokens_the_grammar_allowed_alone(
        subject: Subject, request: pytest.FixtureRequest) -> None:
    """Rule 5: an engine that applies the mask itself flags exactly the tokens an independent
    matcher of the same grammar allowed alone; the others report no flags."""
    if not subject.engine.capabilities.grammar:
        pytest.skip(f"{subject.engine.name} does not constrain decoding")
    grammar = 'start: ("yes" | "no") "7"\n'
    asked = ask(8, grammar=grammar)
    [completion] = generate(subject, asked)
    check(subject, asked, completion)
    assert completion.text in ("yes7", "no7")
    if subject.engine.name not in ("llamacpp", "transformers"):  # the mask is applied remotely
        assert completion.forced == ()
        return
    from runtime.engines.grammar_constraint import GrammarConstraint

    tokenizer = request.getfixturevalue("transformers_engine").tokenizer
    matcher = GrammarConstraint.for_hf(tokenizer).matcher(grammar)
    alone = []
    for token in completion.token_ids:
        alone.append(int(matcher.allowed_tokens().sum()) == 1)
        matcher.consume(token)
    assert list(completion.forced) == alone
    assert alone[0] is False and alone[-1] is True  # a choice of words, then only "7"


def test_a_stop_string_cuts_the_token_ids(subject: Subject) -> None:
    request = replace(ask(40, stop=(" ",)), messages=(Message(
        "user", "Name three colours."),))
    [completion] = generate(subject, request)
    check(subject, request, completion)
    assert completion.finish_reason == "stop" and " " not in completion.text


def test_a_bad_grammar_is_a_failure(subject: Subject) -> None:
    if not subject.engine.capabilities.grammar:
        pytest.skip(f"{subject.engine.name} does not constrain decoding")
    request = ask(8, grammar="start: undefined_rule\n")
    [completion] = generate(subject, request)
    check(subject, request, completion)
    assert completion.finish_reason == "error"

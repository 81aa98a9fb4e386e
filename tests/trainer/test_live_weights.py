"""Live weights: a real peft LoRA update on SmolLM2 in torch, exported to GGUF and hot-swapped
into the real llama.cpp engine, moves llama.cpp's logprobs onto torch's."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("gguf")
pytest.importorskip("llama_cpp")

from runtime.engines.base import ChatRequest, EngineError, Message, Sampling
from runtime.engines.embedded import ModelNotFoundError, embedded_gguf_path
from runtime.engines.llama_native import ContextSettings
from runtime.engines.llamacpp import LlamaCppEngine
from trainer.batch import TokenSample
from trainer.config import LossConfig, PolicyConfig
from trainer.gguf_layout import (
    BaseGguf,
    GgufExportError,
    check_base_weights,
    permute_rotary_rows,
)
from trainer.gguf_lora import lora_adapter, write_lora_gguf
from trainer.live_weights import LiveWeights, llamacpp_engine_for, write_base_gguf
from trainer.policy import Policies, build_policies, token_logprobs
from trainer.schedule import Role
from trainer.update import update_policy

try:
    embedded_gguf_path()
except ModelNotFoundError as missing:  # pragma: no cover - depends on the environment
    pytest.skip(str(missing), allow_module_level=True)

PROMPT = "What is 3 + 4? Reply with the number only."
TARGET = "The answer is seven, and that is final."


def test_rotary_permutation_is_the_inverse_of_transformers_load() -> None:
    """transformers' GGUF loader undoes llama.cpp's q/k row permutation; ours redoes it."""
    gguf_utils = pytest.importorskip("transformers.modeling_gguf_pytorch_utils")
    loader = gguf_utils.LlamaTensorProcessor(
        config={"num_attention_heads": 12, "num_key_value_heads": 4})
    rows = np.arange(12 * 64 * 5, dtype=np.float32).reshape(12 * 64, 5)
    for name, heads in (("blk.0.attn_q.weight", 12), ("blk.0.attn_k.weight", 4)):
        permuted = permute_rotary_rows(rows, heads)
        assert not np.array_equal(permuted, rows)
        assert np.array_equal(loader.process(permuted, name).weights, rows)


@pytest.fixture(scope="module")
def policies() -> Policies:
    config = PolicyConfig(lora_rank=8, lora_alpha=16)
    return build_policies(config, LossConfig(learning_rate=3e-3), seed=0)


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaCppEngine]:
    built = llamacpp_engine_for(PolicyConfig(),
                                ContextSettings(sequence_context=512, max_sequences=4, threads=1))
    yield built
    asyncio.run(built.close())


@pytest.fixture(scope="module")
def sequence(engine: LlamaCppEngine) -> tuple[list[int], int]:
    """A chat prompt and a fixed completion, as token ids, and where the completion starts."""
    prompt = list(asyncio.run(engine.generate([ask(max_tokens=1)]))[0].prompt_token_ids)
    completion = engine._model.tokenize(TARGET, add_special=False)
    return prompt + completion, len(prompt)


def ask(**sampling: Any) -> ChatRequest:
    return ChatRequest(messages=(Message("user", PROMPT),), sampling=Sampling(**sampling))


def torch_logprobs(policies: Policies, tokens: list[int], start: int,
                   base: bool = False) -> np.ndarray:
    """Torch's logprobs of `tokens[start:]` with the adapter (or, `base`, without it)."""
    import contextlib

    import torch

    model = policies.executor.model
    model.eval()
    ids = torch.tensor([tokens])
    adapter_off: Any = model.disable_adapter() if base else contextlib.nullcontext()
    with torch.no_grad(), adapter_off:
        values = token_logprobs(model, ids, torch.ones_like(ids))[0, start - 1:]
    return np.asarray(values.numpy(), dtype=np.float64)


def train_towards(policies: Policies, tokens: list[int], start: int, steps: int) -> None:
    """Real on-policy GRPO updates with a positive advantage on the fixed completion."""
    for _ in range(steps):
        old = torch_logprobs(policies, tokens, start)
        sample = TokenSample(role=Role.EXECUTOR, prompt_ids=tuple(tokens[:start]),
                             completion_ids=tuple(tokens[start:]), old_logprobs=tuple(old),
                             advantages=(1.0,) * (len(tokens) - start))
        update_policy(policies.executor, [sample], pad_id=0, loss=LossConfig())


@pytest.mark.slow
def test_adapter_file_follows_llamacpp_conventions(policies: Policies, tmp_path: Path) -> None:
    from gguf import GGUFReader

    base = BaseGguf.read(embedded_gguf_path())
    assert (base.architecture, base.head_count, base.head_count_kv) == ("llama", 9, 3)
    adapter = lora_adapter(policies.executor.model, base)
    assert adapter.alpha == pytest.approx(16.0)  # peft scaling 16/8 = llama.cpp's alpha/rank
    written = GGUFReader(write_lora_gguf(adapter, base, tmp_path / "a.gguf"))
    fields = {key: written.get_field(key).contents() for key in
              ("general.architecture", "general.type", "adapter.type", "adapter.lora.alpha")}
    assert fields == {"general.architecture": "llama", "general.type": "adapter",
                      "adapter.type": "lora", "adapter.lora.alpha": pytest.approx(16.0)}
    shapes = {t.name: tuple(int(n) for n in t.shape) for t in written.tensors}  # ggml ne order
    assert len(shapes) == 2 * 30 * 4
    assert shapes["blk.0.attn_q.weight.lora_a"] == (576, 8)  # ne[0] = the base's input size
    assert shapes["blk.0.attn_k.weight.lora_b"] == (8, 192)  # ne[1] = the base's output size
    assert not list(tmp_path.glob(".*partial"))
    with pytest.raises(GgufExportError, match="no tensor"):
        base.tensor_name("model.layers.99.self_attn.q_proj")


@pytest.mark.slow
def test_live_weights_move_llamacpp_onto_torch(policies: Policies, engine: LlamaCppEngine,
                                               sequence: tuple[list[int], int],
                                               tmp_path: Path) -> None:
    tokens, start = sequence
    live = LiveWeights(engine, policies.executor.model, PolicyConfig(), tmp_path)
    assert live.base_difference == 0.0  # torch holds the GGUF's own weights, permuted back
    engine.set_adapter(None)
    base_scores = np.array(engine.score_tokens(tokens, start))
    before = torch_logprobs(policies, tokens, start, base=True)
    quantisation_gap = np.abs(base_scores - before).mean()

    train_towards(policies, tokens, start, steps=4)
    adapted = torch_logprobs(policies, tokens, start)
    assert adapted.sum() > before.sum() + 5.0  # the update really moved the policy
    first = live.sync()
    assert first.version == 1 and first.bytes > 0 and first.apply_s > 0.0
    with_adapter = np.array(engine.score_tokens(tokens, start))

    gap_with = np.abs(with_adapter - adapted).mean()
    gap_without = np.abs(base_scores - adapted).mean()
    assert gap_with < 0.1 * gap_without
    assert gap_with < 3 * quantisation_gap + 0.02  # no worse than the base model's own gap

    # A sampled completion reports the same raw logprobs torch computes for its tokens.
    [sampled] = asyncio.run(engine.generate([ask(temperature=1.0, max_tokens=12, seed=3)]))
    assert sampled.finish_reason in ("stop", "length") and sampled.token_ids
    full = list(sampled.prompt_token_ids + sampled.token_ids)
    torch_sampled = torch_logprobs(policies, full, len(sampled.prompt_token_ids))
    assert np.abs(np.array(sampled.logprobs) - torch_sampled).max() < 0.5


@pytest.mark.slow
def test_swapping_twice_and_clearing(policies: Policies, engine: LlamaCppEngine,
                                     sequence: tuple[list[int], int], tmp_path: Path) -> None:
    tokens, start = sequence
    engine.set_adapter(None)
    base_scores = engine.score_tokens(tokens, start)
    live = LiveWeights(engine, policies.executor.model, PolicyConfig(), tmp_path)
    live.sync()
    first = engine.score_tokens(tokens, start)
    train_towards(policies, tokens, start, steps=1)
    second_sync = live.sync()
    assert second_sync.version == 2
    second = engine.score_tokens(tokens, start)
    assert first != second != base_scores
    greedy = ask(temperature=0.0, max_tokens=8)
    [adapted_reply] = asyncio.run(engine.generate([greedy]))
    assert adapted_reply.token_ids

    engine.set_adapter(live.adapter_path, scale=0.0)  # scale 0: the base weights
    assert engine.score_tokens(tokens, start) == base_scores
    live.clear()
    assert engine.score_tokens(tokens, start) == base_scores
    [base_reply] = asyncio.run(engine.generate([greedy]))
    assert base_reply.token_ids and base_reply.finish_reason in ("stop", "length")
    engine.set_adapter(live.adapter_path)
    assert engine.score_tokens(tokens, start) == second


@pytest.mark.slow
def test_a_rejected_adapter_keeps_the_old_one(policies: Policies, engine: LlamaCppEngine,
                                              sequence: tuple[list[int], int],
                                              tmp_path: Path) -> None:
    tokens, start = sequence
    live = LiveWeights(engine, policies.executor.model, PolicyConfig(), tmp_path)
    live.sync()
    applied = engine.score_tokens(tokens, start)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    with pytest.raises(EngineError, match="could not load"):
        engine.set_adapter(broken)
    with pytest.raises(EngineError, match="no such"):
        engine.set_adapter(tmp_path / "missing.gguf")
    assert engine.score_tokens(tokens, start) == applied


@pytest.mark.slow
def test_requests_submitted_before_a_swap_finish_on_the_old_weights(
        engine: LlamaCppEngine, tmp_path: Path, policies: Policies) -> None:
    live = LiveWeights(engine, policies.executor.model, PolicyConfig(), tmp_path)
    engine.set_adapter(None)
    requests = [ask(temperature=1.0, max_tokens=24, seed=seed) for seed in range(4)]
    alone = asyncio.run(engine.generate(requests))

    async def generate_while_swapping() -> list[Any]:
        pending = asyncio.ensure_future(engine.generate(requests))
        await asyncio.sleep(0)  # submitted before the swap is queued
        swapper = threading.Thread(target=live.sync)
        await asyncio.sleep(0.05)
        swapper.start()
        results = await pending
        await asyncio.to_thread(swapper.join)
        return results

    during = asyncio.run(generate_while_swapping())
    assert [c.token_ids for c in during] == [c.token_ids for c in alone]
    assert [c.logprobs for c in during] == [c.logprobs for c in alone]
    live.clear()


@pytest.mark.slow
def test_full_fine_tuning_exports_the_merged_model_and_reloads_it(
        sequence: tuple[list[int], int], tmp_path: Path) -> None:
    tokens, start = sequence
    full = build_policies(PolicyConfig(finetune="full"), LossConfig(learning_rate=1e-4), seed=0)
    engine = llamacpp_engine_for(PolicyConfig(), ContextSettings(sequence_context=512,
                                                                 max_sequences=2, threads=1))
    try:
        base_scores = np.array(engine.score_tokens(tokens, start))
        train_towards(full, tokens, start, steps=2)
        adapted = torch_logprobs(full, tokens, start)
        live = LiveWeights(engine, full.executor.model, PolicyConfig(finetune="full"), tmp_path)
        sync = live.sync()
        assert sync.path.name == "policy-full.gguf" and engine.model_path == sync.path
        reloaded = np.array(engine.score_tokens(tokens, start))
        assert np.abs(reloaded - adapted).mean() < 0.2 * np.abs(base_scores - adapted).mean()
        [reply] = asyncio.run(engine.generate([ask(temperature=0.0, max_tokens=6)]))
        assert reply.token_ids
        live.clear()  # back to the base file
        assert np.array_equal(np.array(engine.score_tokens(tokens, start)), base_scores)
    finally:
        asyncio.run(engine.close())


@pytest.mark.slow
def test_weights_of_another_layer_are_refused(policies: Policies) -> None:
    base = BaseGguf.read(embedded_gguf_path())
    inner = policies.executor.model.get_base_model()
    wrong = inner.get_submodule("model.layers.1.self_attn.q_proj").base_layer.weight
    with pytest.raises(GgufExportError, match="differs"):
        check_base_weights(base, [("model.layers.0.self_attn.q_proj", wrong)])


@pytest.mark.slow
def test_an_f16_base_brings_llamacpp_within_rounding_of_torch(
        policies: Policies, sequence: tuple[list[int], int], tmp_path: Path) -> None:
    tokens, start = sequence
    f16 = write_base_gguf(policies.executor.model, PolicyConfig(), tmp_path / "base-f16.gguf")
    engine = llamacpp_engine_for(PolicyConfig(), ContextSettings(
        sequence_context=512, max_sequences=2, threads=1), base_file=f16)
    try:
        live = LiveWeights(engine, policies.executor.model, PolicyConfig(), tmp_path)
        assert live.base_difference is not None
        assert 0.0 < live.base_difference < 1e-2  # F16 rounding
        train_towards(policies, tokens, start, steps=1)
        live.sync()
        adapted = torch_logprobs(policies, tokens, start)
        assert np.abs(np.array(engine.score_tokens(tokens, start)) - adapted).max() < 0.05
    finally:
        asyncio.run(engine.close())

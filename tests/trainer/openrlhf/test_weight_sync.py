"""LoRA with vLLM weight sync: the weights sent are the merged ones, under the names of the
plain model vLLM holds (a real peft LoRA model on a tiny real transformers model)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from trainer.openrlhf.weight_sync import merged_weights, plain_name, sync_names

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")


def tiny_lora_model(seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """A 2-layer Llama with LoRA on q/v (adapters made non-zero, as after training), and
    the plain model's state dict before LoRA was added."""
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, tie_word_embeddings=False)
    model = transformers.LlamaForCausalLM(config)
    plain = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, lora_alpha=8,
                                                      target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, parameter in lora.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.5)
    return lora, plain


def test_plain_names_drop_the_peft_levels() -> None:
    assert plain_name("base_model.model.model.layers.0.self_attn.q_proj.base_layer.weight") \
        == "model.layers.0.self_attn.q_proj.weight"
    assert plain_name("base_model.model.lm_head.weight") == "lm_head.weight"


def test_merged_weights_are_the_merged_model_under_its_plain_names() -> None:
    lora, plain = tiny_lora_model()
    sent = {name: tensor.clone() for name, tensor in merged_weights(lora)}
    assert set(sent) == set(plain)  # exactly the names vLLM's load_weights knows
    assert not any("lora_" in name or "base_layer" in name for name in sent)
    merged = lora.merge_and_unload().state_dict()  # peft's own merge, for reference
    for name, tensor in sent.items():
        assert torch.allclose(tensor, merged[name], atol=1e-6), name
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(sent[q], plain[q])  # the adapters are in it
    k = "model.layers.0.self_attn.k_proj.weight"
    assert torch.equal(sent[k], plain[k])  # no adapter: unchanged


def test_merging_leaves_the_trained_weights_alone_and_keeps_their_dtype() -> None:
    lora, _ = tiny_lora_model()
    lora = lora.to(torch.bfloat16)
    before = {name: tensor.clone() for name, tensor in lora.state_dict().items()}
    sent = dict(merged_weights(lora))
    assert {tensor.dtype for tensor in sent.values()} == {torch.bfloat16}
    for name, tensor in lora.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_every_layer_is_gathered_while_it_is_sent() -> None:
    lora, _ = tiny_lora_model()
    gathered: list[int] = []
    open_now: list[bool] = []

    class GatherDouble:
        """Stands in for DeepSpeed's ZeRO-3 `GatheredParameters`."""

        def __init__(self, parameters: list[Any]) -> None:
            self.parameters = parameters

        def __enter__(self) -> None:
            gathered.append(len(self.parameters))
            open_now.append(True)

        def __exit__(self, *exc: object) -> None:
            open_now.pop()

    for _ in merged_weights(lora, gather=GatherDouble):
        assert open_now == [True]
    # q/v layers: base weight + lora_A + lora_B gathered together; the rest one by one
    assert gathered.count(3) == 4 and len(gathered) == len(sync_names(lora))


class EngineDouble:
    """OpenRLHF's vLLM rollout actor handle: records `update_weight.remote(...)` calls."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any, tuple[int, ...], bool]] = []
        engine = self

        class Method:
            @staticmethod
            def remote(name: str, dtype: Any, shape: Any, empty_cache: bool) -> str:
                engine.received.append((name, dtype, tuple(shape), empty_cache))
                return "ref"

        self.update_weight = Method()


class UpdateGroupDouble:
    """The NCCL group from DeepSpeed rank 0 to the engines: records the broadcasts."""

    def __init__(self) -> None:
        self.tensors: list[Any] = []

    def broadcast(self, tensor: Any, src: int, stream: Any) -> None:
        self.tensors.append(tensor.clone())


def test_broadcast_sends_every_merged_weight_once_then_empties_vllms_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenRLHF's non-colocated transport on rank 0, with the CUDA-only calls stood in for."""
    pytest.importorskip("ray")
    pytest.importorskip("openrlhf.utils.distributed_util")
    import ray

    from trainer.openrlhf import weight_sync

    lora, _ = tiny_lora_model()
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 0)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda: None)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    monkeypatch.setattr(ray, "get", lambda refs: refs)
    monkeypatch.setattr("openrlhf.utils.distributed_util.torch_dist_barrier_and_cuda_sync",
                        lambda: None)
    engines = [EngineDouble(), EngineDouble()]
    group = UpdateGroupDouble()
    args = SimpleNamespace(vllm=SimpleNamespace(enable_prefix_caching=False,
                                                sync_with_ray=False),
                           ds=SimpleNamespace(zero_stage=2, tensor_parallel_size=1))
    trainer = SimpleNamespace(strategy=SimpleNamespace(args=args), vllm_engines=engines,
                              actor=SimpleNamespace(model=SimpleNamespace(module=lora)),
                              use_cuda_ipc=False, _model_update_group=group)
    weight_sync.broadcast_merged_to_vllm(trainer)
    expected = dict(merged_weights(lora))
    for engine in engines:
        assert [name for name, *_ in engine.received] == list(expected)
        assert [last for *_, last in engine.received] == [False] * (len(expected) - 1) + [True]
        assert all(shape == tuple(expected[name].shape) for name, _, shape, _ in engine.received)
    assert all(torch.equal(sent, want) for sent, want in zip(group.tensors, expected.values(),
                                                             strict=True))

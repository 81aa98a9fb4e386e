"""One real optimiser step on SmolLM2 with LoRA r=8, separate role policies, checkpoints."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trainer.config import LossConfig, PolicyConfig
from trainer.schedule import Role

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from trainer.loss import grpo_loss  # noqa: E402
from trainer.policy import (  # noqa: E402
    Policies,
    Policy,
    build_policies,
    load_policy_state,
    optimizer_step,
    save_policy_state,
    token_logprobs,
)


def test_shared_policies_hand_out_one_policy() -> None:
    one = Policy(model=None, optimizer=None)
    shared = Policies(designer=one, executor=one, tokenizer=None)
    assert shared.shared and shared.distinct() == (one,)
    assert shared.for_role(Role.EXECUTOR) is one
    other = Policy(model=None, optimizer=None)
    separate = Policies(designer=one, executor=other, tokenizer=None)
    assert not separate.shared and separate.distinct() == (one, other)
    assert separate.for_role(Role.EXECUTOR) is other


def test_unknown_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="neither 'embedded' nor a model directory"):
        build_policies(PolicyConfig(model=str(tmp_path / "absent")), LossConfig())


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import shutil

    path = tmp_path_factory.mktemp("model-cache")
    yield path
    shutil.rmtree(path, ignore_errors=True)  # ~520 MB: do not leave it to pytest's retention


@pytest.fixture(scope="module")
def policies(cache_dir: Path) -> Policies:
    from trainer.embedded import embedded_gguf_path

    try:
        embedded_gguf_path()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    torch.manual_seed(0)
    # the embedded GGUF is converted once into cache_dir, then loaded from there
    config = PolicyConfig(model="embedded", finetune="lora", lora_rank=8, sharing="separate",
                          cache_dir=cache_dir)
    return build_policies(config, LossConfig(learning_rate=1e-3, max_grad_norm=1.0))


@pytest.mark.slow
def test_converted_embedded_model_reloads_fast(policies: Policies, cache_dir: Path) -> None:
    import time

    from trainer.embedded import converted_dir
    from trainer.policy import load_model_and_tokenizer

    assert (converted_dir(cache_dir) / "model.safetensors").is_file()
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".converting-")]
    started = time.perf_counter()
    model, tokenizer = load_model_and_tokenizer("embedded", cache_dir=cache_dir)
    assert time.perf_counter() - started < 10.0  # ~0.7 s measured; the GGUF takes ~25 s
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    # the converted tokenizer splits non-ASCII text exactly as the GGUF one does
    assert tokenizer("Größe: “naïve” 数学", add_special_tokens=False)["input_ids"] == [
        27302, 7466, 34878, 85, 42, 619, 3546, 46494, 573, 216, 18265, 18753, 116]


def snapshot(policy: Policy) -> dict[str, Any]:
    return {name: p.detach().clone() for name, p in policy.trainable_parameters().items()}


@pytest.mark.slow
def test_one_lora_step_changes_only_the_trained_role(policies: Policies, tmp_path: Path) -> None:
    designer, executor = policies.designer, policies.executor
    trainable = designer.trainable_parameters()
    assert trainable and all("lora_" in name for name in trainable)
    assert sum(p.numel() for p in trainable.values()) == 30 * 4 * 8 * (576 + 576) - 30 * 2 * 8 * (
        576 - 192)  # q,o: 576->576; k,v: 576->192 (GQA), r=8 A and B per module, 30 layers
    before_designer, before_executor = snapshot(designer), snapshot(executor)
    base_before = designer.model.get_base_model().model.layers[0].mlp.up_proj.weight.clone()

    texts = ["mas m { input question: text }", "What is 2 + 3? Answer: 5"]
    batch = policies.tokenizer(texts, return_tensors="pt", padding=True)
    mask = batch["attention_mask"][:, 1:]
    logprobs = token_logprobs(designer.model, batch["input_ids"], batch["attention_mask"])
    assert logprobs.shape == mask.shape
    advantages = torch.tensor([[1.0], [-1.0]]).expand_as(logprobs)
    loss, metrics = grpo_loss(logprobs, logprobs.detach(), advantages, mask)
    assert math.isfinite(float(loss.detach()))
    assert metrics["ratio_mean"] == pytest.approx(1.0)
    loss.backward()  # type: ignore[no-untyped-call]
    norm = optimizer_step(designer, max_grad_norm=1.0)
    assert math.isfinite(norm) and norm > 0

    after = designer.trainable_parameters()
    changed = [name for name in after if not torch.equal(after[name], before_designer[name])]
    assert changed and all("lora_B" in name for name in changed)  # B starts at 0, so A's
    # first gradient is 0; the step moves B only
    assert all(torch.equal(p, before_executor[n])
               for n, p in executor.trainable_parameters().items())
    base_after = designer.model.get_base_model().model.layers[0].mlp.up_proj.weight
    assert torch.equal(base_before, base_after)
    assert all(p.grad is None for p in after.values())

    # a checkpoint restores the trained weights after they are overwritten
    path = tmp_path / "designer.pt"
    save_policy_state(designer, path)
    trained = snapshot(designer)
    with torch.no_grad():
        for parameter in after.values():
            parameter.zero_()
    load_policy_state(designer, path)
    assert all(torch.equal(p, trained[n]) for n, p in designer.trainable_parameters().items())
    with pytest.raises(ValueError, match="does not match the policy"):
        save_policy_state(executor, tmp_path / "executor.pt")
        torch.save({"trainable": {}, "optimizer": {}}, tmp_path / "empty.pt")
        load_policy_state(executor, tmp_path / "empty.pt")

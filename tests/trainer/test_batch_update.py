"""Packing samples for the loss, and one update on a tiny randomly initialised Llama."""

from __future__ import annotations

import math
from typing import Any

import pytest

from trainer.config import LossConfig, PolicyConfig
from trainer.schedule import Role

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from trainer.batch import TokenSample, pack, select_active  # noqa: E402
from trainer.policy import make_policy, make_trainable  # noqa: E402
from trainer.update import update_policy  # noqa: E402

DESIGN = TokenSample(Role.DESIGNER, (1, 2), (3, 4, 5), (-0.1, -0.2, -0.3), (0.5, 0.5, 0.0))
TURN = TokenSample(Role.EXECUTOR, (7,), (8,), (-1.0,), (-2.0,))


def test_pack_aligns_completion_tokens_with_shifted_logprobs() -> None:
    batch = pack([DESIGN, TURN], pad_id=0)
    assert batch.input_ids.tolist() == [[1, 2, 3, 4, 5], [7, 8, 0, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert batch.loss_mask.tolist() == [[0, 1, 1, 1], [1, 0, 0, 0]]
    assert batch.advantages.tolist() == [[0.0, 0.5, 0.5, 0.0], [-2.0, 0.0, 0.0, 0.0]]
    assert batch.old_logprobs.flatten().tolist() == pytest.approx(
        [0.0, -0.1, -0.2, -0.3, -1.0, 0.0, 0.0, 0.0])
    assert batch.tokens == 4


def test_forced_tokens_leave_the_loss_mask_and_teach_nothing() -> None:
    from dataclasses import replace

    forced = replace(DESIGN, forced=(True, False, False))
    batch = pack([forced, TURN], pad_id=0)
    assert batch.loss_mask.tolist() == [[0, 0, 1, 1], [1, 0, 0, 0]]
    assert batch.advantages.tolist() == [[0.0, 0.5, 0.5, 0.0], [-2.0, 0.0, 0.0, 0.0]]
    assert batch.tokens == 3
    assert DESIGN.teaches and forced.teaches
    # the only tokens with an advantage were forced: nothing to learn from this sample
    assert not replace(DESIGN, forced=(True, True, False)).teaches
    with pytest.raises(ValueError, match="2 forced flags for 3 completion tokens"):
        replace(DESIGN, forced=(True, False))


def test_inactive_roles_are_dropped_and_bad_samples_rejected() -> None:
    assert select_active([DESIGN, TURN], {Role.EXECUTOR}) == [TURN]
    assert select_active([DESIGN, TURN], {Role.DESIGNER, Role.EXECUTOR}) == [DESIGN, TURN]
    with pytest.raises(ValueError, match="differ in length: 2, 1, 2"):
        TokenSample(Role.DESIGNER, (1,), (2, 3), (0.0,), (0.0, 0.0))
    with pytest.raises(ValueError, match="at least one prompt token"):
        TokenSample(Role.DESIGNER, (), (2,), (0.0,), (0.0,))
    with pytest.raises(ValueError, match="nothing to pack"):
        pack([], pad_id=0)


def tiny_policy(seed: int) -> Any:
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
                                      num_hidden_layers=2, num_attention_heads=2,
                                      num_key_value_heads=1, max_position_embeddings=32)
    model = transformers.LlamaForCausalLM(config)
    return make_policy(make_trainable(model, PolicyConfig(finetune="full")),
                       LossConfig(learning_rate=1e-2, max_grad_norm=100.0))


def test_micro_batches_give_the_gradient_of_one_token_mean() -> None:
    samples = [DESIGN, TURN, TokenSample(Role.EXECUTOR, (9, 10), (11, 12), (-3.0, -3.0),
                                         (1.0, -1.0))]
    whole = update_policy(tiny_policy(0), samples, 0, LossConfig(max_grad_norm=100.0),
                          micro_batch_size=3)
    split = update_policy(tiny_policy(0), samples, 0, LossConfig(max_grad_norm=100.0),
                          micro_batch_size=1)
    assert whole["tokens"] == split["tokens"] == 6.0
    assert whole["grad_norm"] > 0 and math.isfinite(whole["grad_norm"])
    assert split["grad_norm"] == pytest.approx(whole["grad_norm"], rel=1e-4)
    assert split["loss"] == pytest.approx(whole["loss"], rel=1e-4)


def test_update_changes_the_weights_and_kl_needs_a_reference() -> None:
    policy = tiny_policy(1)
    before = [p.detach().clone() for p in policy.model.parameters()]
    update_policy(policy, [DESIGN], 0, LossConfig())
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.model.parameters(),
                                                      strict=True))
    with pytest.raises(ValueError, match="needs a reference policy"):
        update_policy(policy, [DESIGN], 0, LossConfig(kl_coef=0.1))
    metrics = update_policy(policy, [DESIGN], 0, LossConfig(kl_coef=0.1),
                            reference=tiny_policy(1))
    assert metrics["kl"] > 0


def test_policy_old_logprobs_give_ratio_one_and_the_on_policy_gradient() -> None:
    """`old_logprobs="policy"` ignores the recorded logprobs (e.g. llama.cpp's): the ratio is 1
    and the step is the one a rollout scored exactly by this policy would give."""
    off = TokenSample(Role.DESIGNER, (1, 2), (3, 4, 5), (-9.0, -0.01, -4.0), (0.5, 0.5, -1.0))
    ignoring = update_policy(tiny_policy(2), [off], 0, LossConfig(max_grad_norm=100.0),
                             old_logprobs="policy")
    assert ignoring["ratio_mean"] == pytest.approx(1.0)
    assert ignoring["clip_fraction"] == 0.0
    recorded = update_policy(tiny_policy(2), [off], 0, LossConfig(max_grad_norm=100.0))
    assert recorded["clip_fraction"] > 0.0  # the off-policy logprobs do clip

    exact_policy = tiny_policy(2)
    packed = pack([off], 0)
    with torch.no_grad():
        from trainer.policy import token_logprobs

        scored = token_logprobs(exact_policy.model, packed.input_ids, packed.attention_mask)
    exact = TokenSample(off.role, off.prompt_ids, off.completion_ids,
                        tuple(scored[0, 1:4].tolist()), off.advantages)
    rescored = update_policy(exact_policy, [exact], 0, LossConfig(max_grad_norm=100.0))
    assert rescored["grad_norm"] == pytest.approx(ignoring["grad_norm"], rel=1e-4)


def test_kl_to_start_is_measured_on_a_spread_share_of_the_batches() -> None:
    """Without a KL term the KL to the start costs a forward of the starting model per
    measured batch: `kl_diagnostic_tokens` picks every k-th batch, and the logged value is the
    token-weighted mean over those batches alone."""
    samples = [TokenSample(Role.EXECUTOR, (p,), completion, tuple(-1.0 for _ in completion),
                           tuple(1.0 for _ in completion))
               for p, completion in ((1, (2, 3)), (4, (5,)), (6, (7, 8, 9)), (10, (11,)))]

    def run(batch_samples: list[TokenSample], budget: int) -> tuple[dict[str, float], int]:
        reference = tiny_policy(4)
        calls = []
        forward = reference.model.forward
        reference.model.forward = lambda *a, **k: calls.append(1) or forward(*a, **k)
        metrics = update_policy(tiny_policy(3), batch_samples, 0,
                                LossConfig(kl_diagnostic_tokens=budget), micro_batch_size=1,
                                reference=reference)
        return metrics, len(calls)

    every, forwards = run(samples, budget=7)  # 7 tokens in all: stride 1
    assert forwards == 4 and every["kl_to_start"] > 0
    half, forwards = run(samples, budget=3)  # stride 2: batches 0 and 2 (2 + 3 tokens)
    assert forwards == 2
    first, _ = run([samples[0]], budget=7)
    third, _ = run([samples[2]], budget=7)
    assert half["kl_to_start"] == pytest.approx(
        (2 * first["kl_to_start"] + 3 * third["kl_to_start"]) / 5, rel=1e-5)
    assert half["kl_to_start"] != pytest.approx(every["kl_to_start"], rel=1e-3)
    never, forwards = run(samples, budget=0)
    assert forwards == 0 and "kl_to_start" not in never
    assert never["grad_norm"] == pytest.approx(every["grad_norm"], rel=1e-6)


GROUP = [TokenSample(Role.EXECUTOR, (1, 2, 3, 4), completion, tuple(-0.5 for _ in completion),
                     tuple(advantage for _ in completion))
         for completion, advantage in (((5, 6, 7), 1.0), ((8,), -1.0), ((9, 10), 0.5),
                                       ((11, 12, 13, 14), -0.5))]


def test_samples_sharing_a_prompt_are_batched_together_and_the_rest_in_order() -> None:
    from trainer.batch import micro_batches

    batches = micro_batches([DESIGN, *GROUP[:2], TURN, *GROUP[2:]], 0, micro_batch_size=1,
                            group_size=3)
    assert [(b.input_ids.shape[0], b.shared_prompt) for b in batches] == [
        (3, 4), (1, 0), (1, 0), (1, 0)]
    assert batches[0].input_ids[:, :4].tolist() == [[1, 2, 3, 4]] * 3
    # the rest in their original order; the group's fourth member is among them
    assert [b.input_ids.tolist() for b in batches[1:]] == [
        [[1, 2, 3, 4, 5]], [[7, 8]], [[1, 2, 3, 4, 11, 12, 13, 14]]]
    assert sum(b.tokens for b in batches) == 3 + 1 + 10
    with pytest.raises(ValueError, match="do not share a prompt prefix of 2 tokens"):
        pack([DESIGN, TURN], 0, shared_prompt=2)


PREFIX = tuple(range(1, 21))  # 20 tokens: the examples every designer prompt starts with
QUESTIONS = [TokenSample(Role.DESIGNER, PREFIX + question, completion,
                         tuple(-0.5 for _ in completion), tuple(advantage for _ in completion))
             for question, completion, advantage in (((21, 22), (5, 6, 7), 1.0),
                                                     ((23,), (8,), -1.0),
                                                     ((21, 24, 25), (9, 10), 0.5))]


def test_prompts_that_differ_only_at_the_end_share_their_prefix() -> None:
    from trainer.batch import micro_batches

    short = TokenSample(Role.EXECUTOR, PREFIX[:10], (3,), (-1.0,), (1.0,))
    batches = micro_batches([*QUESTIONS, short], 0, micro_batch_size=4, min_shared=16)
    assert [(b.input_ids.shape[0], b.shared_prompt, b.first_scored) for b in batches] == [
        (3, 20, 20), (1, 0, 9)]  # 10 shared tokens are fewer than min_shared (16)
    by_default = micro_batches([*QUESTIONS, short], 0, micro_batch_size=4)  # same prompts only
    assert [(b.input_ids.shape[0], b.shared_prompt) for b in by_default] == [(4, 0)]
    assert batches[0].input_ids[:, 20:23].tolist() == [[21, 22, 5], [21, 24, 25], [23, 8, 0]]


def test_a_shared_prefix_with_unscored_prompt_tails_gives_the_logprobs_and_gradient_of_full_rows(
) -> None:
    from trainer.batch import micro_batches
    from trainer.policy import batch_logprobs, token_logprobs

    (packed,) = micro_batches(QUESTIONS, 0, micro_batch_size=4, min_shared=16)
    results = []
    for shared, first in ((0, 0), (20, 20), (0, 20)):
        policy = tiny_policy(5)
        scored = batch_logprobs(policy.model, packed.input_ids, packed.attention_mask, shared,
                                first)
        (scored * packed.loss_mask * packed.advantages).sum().backward()
        gradient = torch.cat([p.grad.flatten() for p in policy.model.parameters()])
        results.append((scored.detach() * packed.loss_mask, gradient))
        if first:
            assert not bool(scored[:, :first].any())  # never computed
    full, full_grad = results[0]
    assert float(full_grad.abs().max()) > 0
    for masked, gradient in results[1:]:
        assert torch.allclose(full, masked, atol=1e-5)
        assert torch.allclose(full_grad, gradient, atol=1e-5, rtol=1e-4)
    plain = token_logprobs(tiny_policy(5).model, packed.input_ids, packed.attention_mask)
    assert torch.allclose(plain * packed.loss_mask, full, atol=1e-6)


def test_a_shared_prompt_forwarded_once_gives_the_logprobs_and_gradient_of_separate_rows() -> None:
    """The prompt's cache is repeated for every row with its autograd graph: the same
    logprobs, and the same gradient (through the prompt's keys and values too), as forwarding
    each row in full."""
    from trainer.policy import batch_logprobs, token_logprobs

    packed = pack(GROUP, 0, shared_prompt=4)
    results = []
    for shared in (0, 4):
        policy = tiny_policy(3)
        scored = batch_logprobs(policy.model, packed.input_ids, packed.attention_mask, shared)
        (scored * packed.loss_mask * packed.advantages).sum().backward()
        gradient = torch.cat([p.grad.flatten() for p in policy.model.parameters()])
        results.append((scored.detach() * packed.loss_mask, gradient))
        if shared == 0:
            plain = token_logprobs(policy.model, packed.input_ids, packed.attention_mask)
            assert torch.equal(scored, plain)
    (separate, separate_grad), (once, once_grad) = results
    assert torch.allclose(separate, once, atol=1e-5)
    assert float(separate_grad.abs().max()) > 0
    assert torch.allclose(separate_grad, once_grad, atol=1e-5, rtol=1e-4)
    whole = update_policy(tiny_policy(4), GROUP, 0, LossConfig(max_grad_norm=100.0),
                          micro_batch_size=1, group_size=1)
    grouped = update_policy(tiny_policy(4), GROUP, 0, LossConfig(max_grad_norm=100.0))
    assert grouped["grad_norm"] == pytest.approx(whole["grad_norm"], rel=1e-4)
    assert grouped["loss"] == pytest.approx(whole["loss"], rel=1e-4)


def test_bfloat16_autocast_gives_nearly_the_float32_update() -> None:
    exact = update_policy(tiny_policy(6), QUESTIONS, 0, LossConfig(max_grad_norm=100.0))
    fast = update_policy(tiny_policy(6), QUESTIONS, 0, LossConfig(max_grad_norm=100.0),
                         autocast="bfloat16")
    assert fast["grad_norm"] != exact["grad_norm"]  # the forwards really ran in bfloat16
    assert fast["grad_norm"] == pytest.approx(exact["grad_norm"], rel=0.05)
    assert fast["loss"] == pytest.approx(exact["loss"], rel=0.05)

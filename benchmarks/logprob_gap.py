"""How far llama.cpp's sampling logprobs are from torch's, with the policy's live LoRA weights.

Run `python -m benchmarks.logprob_gap`. A small GRPO loop in the setup where the embedded
model is known to learn (FACTS.md: "What is a + b? Reply with the number only.", LoRA r=16 on
every linear layer, lr 2e-4, temperature 1.0, 12 new tokens) samples its rollouts from the
llama.cpp engine with `LiveWeights` (the adapter exported and hot-swapped after every update),
and before each update recomputes the same tokens' logprobs with one no-grad torch forward.
Per step it prints, over every sampled token: mean, 99th percentile and max |Δ| between the
two, and the importance ratio exp(torch - llama.cpp) a trainer would apply if it took
llama.cpp's logprobs as the "old" ones (mean, min, max, share outside the clip range). Step 1
runs before any update (the adapter's B is still 0); later steps carry real updates.

The update takes llama.cpp's logprobs as its old logprobs (`--old rollout`, the default) or
the policy's own, detached (`--old policy`, ratio 1); the `upd clip` column is the update's
clip fraction: the share of tokens that got no gradient.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

PROMPT = "What is {a} + {b}? Reply with the number only."
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class GapStep:
    """One step's rollout, its logprob gap and its costs."""

    step: int
    tokens: int
    reward: float
    mean_abs: float
    p99_abs: float
    max_abs: float
    ratio_mean: float
    ratio_min: float
    ratio_max: float
    outside_clip: float
    """Share of tokens whose ratio lies outside [1 - clip, 1 + clip]."""
    update_clip_fraction: float
    """The update's clip fraction (tokens that got no gradient)."""
    rollout_s: float
    rollout_tokens_per_s: float
    torch_forward_s: float
    """The no-grad torch forward that recomputes the rollout's logprobs."""
    update_s: float
    sync_s: float
    """Export + hot-swap of the adapter after the update."""


def gap_statistics(llamacpp: Sequence[float], torch: Sequence[float],
                   clip: float) -> dict[str, float]:
    """|Δ| and importance-ratio statistics of two aligned logprob lists (at least one)."""
    deltas = [t - s for s, t in zip(llamacpp, torch, strict=True)]
    if not deltas:
        raise ValueError("no tokens to compare")
    absolute = sorted(abs(d) for d in deltas)
    ratios = [math.exp(d) for d in deltas]
    return {
        "mean_abs": sum(absolute) / len(absolute),
        "p99_abs": absolute[min(len(absolute) - 1, math.ceil(0.99 * len(absolute)) - 1)],
        "max_abs": absolute[-1],
        "ratio_mean": sum(ratios) / len(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "outside_clip": sum(1 for r in ratios if abs(r - 1.0) > clip) / len(ratios),
    }


def reward(text: str, answer: int) -> float:
    """1.0 when the first integer of `text` is `answer`."""
    match = re.search(r"-?\d+", text)
    return 1.0 if match is not None and int(match.group()) == answer else 0.0


def run(steps: int, questions: int, samples: int, max_tokens: int, learning_rate: float,
        rank: int, seed: int, threads: int, workdir: Path,
        old_source: Literal["rollout", "policy"] = "rollout",
        base_type: Literal["gguf", "q8_0", "f16", "f32"] = "gguf") -> list[GapStep]:
    """The measured loop (see the module docstring); one `GapStep` per step."""
    import torch

    from runtime.engines.base import ChatRequest, Message, Sampling
    from runtime.engines.llama_native import ContextSettings
    from trainer.batch import TokenSample, pack
    from trainer.config import LossConfig, PolicyConfig
    from trainer.live_weights import LiveWeights, llamacpp_engine_for, write_base_gguf
    from trainer.policy import build_policies, token_logprobs
    from trainer.schedule import Role
    from trainer.update import update_policy

    policy_config = PolicyConfig(lora_rank=rank, lora_alpha=2 * rank,
                                 lora_target_modules=list(ALL_LINEAR))
    loss = LossConfig(learning_rate=learning_rate)
    policies = build_policies(policy_config, loss, seed=seed)
    policy = policies.executor
    pad_id = int(policies.tokenizer.pad_token_id or policies.tokenizer.eos_token_id)
    settings = ContextSettings(sequence_context=256, max_sequences=min(16, questions * samples),
                               threads=threads)
    base_file = None
    if base_type != "gguf":  # serve the policy's base weights re-encoded
        base_file = write_base_gguf(policy.model, policy_config, workdir / "base.gguf",
                                    base_type)
    engine = llamacpp_engine_for(policy_config, settings, base_file=base_file)
    live = LiveWeights(engine, policy.model, policy_config, workdir)
    live.sync()
    rng = random.Random(seed)
    results: list[GapStep] = []
    try:
        for step in range(steps):
            pairs = [(rng.randint(0, 9), rng.randint(0, 9)) for _ in range(questions)]
            requests = [ChatRequest(messages=(Message("user", PROMPT.format(a=a, b=b)),),
                                    sampling=Sampling(temperature=1.0, max_tokens=max_tokens,
                                                      seed=seed * 1_000_003 + step * 1000 + i))
                        for i, (a, b) in enumerate(p for p in pairs for _ in range(samples))]
            began = time.perf_counter()
            completions = asyncio.run(engine.generate(requests))
            rollout_s = time.perf_counter() - began
            rewards = [reward(c.text, a + b) for c, (a, b) in
                       zip(completions, (p for p in pairs for _ in range(samples)), strict=True)]
            rolled = [TokenSample(role=Role.EXECUTOR, prompt_ids=c.prompt_token_ids,
                                  completion_ids=c.token_ids, old_logprobs=c.logprobs,
                                  advantages=(0.0,) * len(c.token_ids))
                      for c in completions if c.token_ids]

            began = time.perf_counter()
            policy.model.eval()
            llamacpp_lp: list[float] = []
            torch_lp: list[float] = []
            with torch.no_grad():
                for first in range(0, len(rolled), 16):
                    batch = pack(rolled[first:first + 16], pad_id)
                    values = token_logprobs(policy.model, batch.input_ids, batch.attention_mask)
                    mask = batch.loss_mask.bool()
                    torch_lp.extend(values[mask].tolist())
                    llamacpp_lp.extend(batch.old_logprobs[mask].tolist())
            forward_s = time.perf_counter() - began
            stats = gap_statistics(llamacpp_lp, torch_lp, loss.clip)

            train = []
            for q in range(questions):
                group = rewards[q * samples:(q + 1) * samples]
                mean = sum(group) / len(group)
                std = (sum((r - mean) ** 2 for r in group) / len(group)) ** 0.5
                for c, r in zip(completions[q * samples:(q + 1) * samples], group, strict=True):
                    if std > 0 and c.token_ids:
                        advantage = (r - mean) / (std + 1e-6)
                        train.append(TokenSample(
                            role=Role.EXECUTOR, prompt_ids=c.prompt_token_ids,
                            completion_ids=c.token_ids, old_logprobs=c.logprobs,
                            advantages=(advantage,) * len(c.token_ids)))
            began = time.perf_counter()
            clip_fraction = 0.0
            if train:
                clip_fraction = update_policy(policy, train, pad_id, loss,
                                              old_logprobs=old_source)["clip_fraction"]
            update_s = time.perf_counter() - began
            sync = live.sync()
            generated = sum(len(c.token_ids) for c in completions)
            results.append(GapStep(
                step=step + 1, tokens=len(torch_lp), reward=sum(rewards) / len(rewards),
                rollout_s=rollout_s, rollout_tokens_per_s=generated / rollout_s,
                torch_forward_s=forward_s, update_s=update_s, sync_s=sync.total_s,
                update_clip_fraction=clip_fraction, **stats))
            print(render(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    finally:
        asyncio.run(engine.close())
    return results


def render(results: Sequence[GapStep]) -> str:
    lines = [f"{'step':>4} {'tokens':>6} {'reward':>6} {'mean|Δ|':>8} {'p99|Δ|':>7} "
             f"{'max|Δ|':>7} {'ratio':>6} {'min':>6} {'max':>6} {'>clip':>6} {'upd clip':>8} "
             f"{'roll s':>6} {'tok/s':>6} {'fwd s':>6} {'upd s':>6} {'sync s':>6}"]
    for r in results:
        lines.append(f"{r.step:>4} {r.tokens:>6} {r.reward:>6.2f} {r.mean_abs:>8.4f} "
                     f"{r.p99_abs:>7.3f} {r.max_abs:>7.3f} {r.ratio_mean:>6.3f} "
                     f"{r.ratio_min:>6.3f} {r.ratio_max:>6.3f} {r.outside_clip:>6.3f} "
                     f"{r.update_clip_fraction:>8.3f} "
                     f"{r.rollout_s:>6.1f} {r.rollout_tokens_per_s:>6.1f} "
                     f"{r.torch_forward_s:>6.1f} {r.update_s:>6.1f} {r.sync_s:>6.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    arguments.add_argument("--steps", type=int, default=4)
    arguments.add_argument("--questions", type=int, default=4)
    arguments.add_argument("--samples", type=int, default=8, help="samples per question")
    arguments.add_argument("--max-tokens", type=int, default=12)
    arguments.add_argument("--lr", type=float, default=2e-4)
    arguments.add_argument("--rank", type=int, default=16)
    arguments.add_argument("--seed", type=int, default=0)
    arguments.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: all)")
    arguments.add_argument("--old", choices=("rollout", "policy"), default="rollout",
                           help="old logprobs of the update: llama.cpp's (rollout) or the "
                                "policy's own, detached (policy)")
    arguments.add_argument("--base", choices=("gguf", "q8_0", "f16", "f32"), default="gguf",
                           help="the base model llama.cpp serves: the GGUF itself (Q4_1 for "
                                "the embedded model) or the policy's weights re-encoded")
    arguments.add_argument("--json", type=Path, default=None, help="also write the rows here")
    options = arguments.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="logprob-gap-") as workdir:
        results = run(options.steps, options.questions, options.samples, options.max_tokens,
                      options.lr, options.rank, options.seed, options.threads, Path(workdir),
                      options.old, options.base)
    print(render(results))
    if options.json is not None:
        rows: list[dict[str, Any]] = [asdict(r) for r in results]
        options.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

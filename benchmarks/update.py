"""`python -m benchmarks.update [CONFIG] [--repeats N]`: the policy update, four ways.

One step's worth of samples in the shapes a co-evolution step trains on: CONFIG's
`questions_per_step x designs_per_question` designs (the real designer prompt with the
config's few-shot examples, and as completions the design texts of the first step of
`benchmarks/results/train-designer-only`), and for each design `executions_per_design`
executions of one turn per agent it declares (the agent's role as system prompt, the
question as user message; completions of 10-48 random tokens, the executor's cap). Every
sample carries a non-zero advantage. The same samples are then updated from the same
starting weights four ways: as before 2026-12-02 (samples with the same prompt share its
forward; logits at every position; the logged KL to the start measured on every token, one
more forward of the LoRA policy with its adapter off), with logits for completion positions
only, then also with the KL measured on ~1024 tokens (`loss.kl_diagnostic_tokens`, the
default), then also under `policy.autocast = "bfloat16"`. It prints the forwards, the token
positions they hold (padding not counted), the update's wall time (median of `--repeats`)
and the ratios. Sharing prefixes across prompts (`micro_batches(min_shared=16)`) measured
slower (benchmarks/results/update.md) and is not repeated here."""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

DESIGNS = Path("benchmarks/results/train-designer-only/designs.jsonl")
ROLE = re.compile(r'role "([^"]*)"')


def chat_ids(tokenizer: Any, messages: Sequence[tuple[str, str]]) -> tuple[int, ...]:
    """The prompt tokens of a chat, ending with the assistant's turn."""
    found = tokenizer.apply_chat_template([{"role": r, "content": c} for r, c in messages],
                                          add_generation_prompt=True)
    ids = found["input_ids"] if hasattr(found, "keys") else found
    return tuple(int(i) for i in ids)


def step_samples(config: Any, tokenizer: Any, seed: int = 0) -> list[Any]:
    """One step's designer and executor samples (see the module docstring)."""
    from runtime.designer import designer_messages
    from trainer.batch import TokenSample
    from trainer.episode import read_examples
    from trainer.schedule import Role

    rollout = config.rollout
    records = [json.loads(line) for line in DESIGNS.read_text(encoding="utf-8").splitlines()]
    texts = [r["text"] for r in records if r.get("step") == 1 and r.get("kind", "train") ==
             "train"]
    examples = read_examples(config.sampling.examples)
    rng = random.Random(seed)
    cap = config.sampling.executor.max_tokens
    samples = []
    for q in range(rollout.questions_per_step):
        question = f"What is {rng.randint(0, 9)} + {rng.randint(0, 9)}?"
        prompt = chat_ids(tokenizer, [(m.role, m.content)
                                      for m in designer_messages(question, examples=examples)])
        for d in range(rollout.designs_per_question):
            text = texts[(q * rollout.designs_per_question + d) % len(texts)]
            completion = tuple(tokenizer(text, add_special_tokens=False)["input_ids"])
            samples.append(TokenSample(Role.DESIGNER, prompt, completion,
                                       tuple(-1.0 for _ in completion),
                                       tuple(rng.choice((-1.0, 1.0)) for _ in completion)))
            for role in ROLE.findall(text)[:rollout.max_calls_per_execution]:
                turn = chat_ids(tokenizer, [("system", role), ("user", question)])
                for _ in range(rollout.executions_per_design):
                    completion = tuple(rng.randrange(1000, 20000)
                                       for _ in range(rng.randint(10, cap)))
                    advantage = rng.choice((-1.0, 1.0))
                    samples.append(TokenSample(Role.EXECUTOR, turn, completion,
                                               tuple(-1.0 for _ in completion),
                                               tuple(advantage for _ in completion)))
    return samples


def forwarded_tokens(batches: Sequence[Any]) -> int:
    """Token positions the batches forward (a shared prefix counts once)."""
    return sum(int(b.attention_mask.sum()) - b.shared_prompt * (b.input_ids.shape[0] - 1)
               for b in batches)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.update",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("config", nargs="?", default="configs/stagewise.toml")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from trainer.batch import micro_batches
    from trainer.config import load_config
    from trainer.policy import build_policies
    from trainer.update import update_batches

    config = load_config(args.config)
    torch.set_num_threads(config.sampling.threads)
    policies = build_policies(config.policy, config.loss, seed=config.seed)
    policy, tokenizer = policies.designer, policies.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    samples = step_samples(config, tokenizer)
    start = {k: v.detach().clone() for k, v in policy.model.state_dict().items()}
    designs = sum(1 for s in samples if s.role == "designer")
    print(f"{args.config}: {designs} designs, {len(samples) - designs} executor turns, "
          f"{sum(len(s.completion_ids) for s in samples)} completion tokens, "
          f"{config.sampling.threads} thread(s)")
    before = [dataclasses.replace(b, first_scored=0) for b in micro_batches(samples, pad, 4)]
    now = micro_batches(samples, pad, 4)
    every_kl = config.loss.model_copy(update={"kl_diagnostic_tokens": 10**9})
    some_kl = config.loss.model_copy(update={"kl_diagnostic_tokens": 1024})
    ways: dict[str, tuple[list[Any], Literal["none", "bfloat16"], Any]] = {
        "before (every logit, KL to start on every token)": (before, "none", every_kl),
        "completion logits only": (now, "none", every_kl),
        "  + KL to start on ~1024 tokens (the default)": (now, "none", some_kl),
        "  + policy.autocast = bfloat16": (now, "bfloat16", some_kl),
    }
    times: dict[str, float] = {}
    for name, (batches, autocast, loss) in ways.items():
        runs = []
        for _ in range(args.repeats):
            policy.model.load_state_dict(start)
            began = time.perf_counter()
            update_batches(policy, batches, loss, old_logprobs="policy",
                           autocast=autocast)
            runs.append(time.perf_counter() - began)
        times[name] = statistics.median(runs)
        print(f"  {name}: {len(batches)} forwards, {forwarded_tokens(batches)} token "
              f"positions, update {times[name]:.1f}s")
    names = list(times)
    for name in names[1:]:
        print(f"update time, before / {name.strip()}: {times[names[0]] / times[name]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

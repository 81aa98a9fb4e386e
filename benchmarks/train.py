"""`python -m benchmarks.train [CONFIG] [--steps N]`: where the time of a training step goes.

Runs N training steps of CONFIG (default `configs/cpu-demo.toml`, output under a temporary
directory, no evaluation) and prints, per step, the time split: designer sampling, executions
(executor LLM calls and the runtime), rewards (the verifier), credit assignment, policy
update; and the rollout's sampled tokens/s as a fraction of the engine's raw batched
tokens/s (a batch of `questions x designs` unconstrained requests of the designer's
`max_tokens`, measured on the same model first).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

SPLIT = ("time/design", "time/execute", "time/reward", "time/credit", "time/update")


def raw_tokens_per_s(engine: object, batch: int, max_tokens: int) -> float:
    """Sampled tokens/s of one batch of `batch` plain chat requests (no grammar)."""
    from runtime.engines.base import ChatRequest, Message, Sampling

    requests = [ChatRequest(messages=(Message("user", f"Count from {i} to 100."),),
                            sampling=Sampling(temperature=1.0, max_tokens=max_tokens, seed=i))
                for i in range(batch)]
    began = time.perf_counter()
    completions = asyncio.run(engine.generate(requests))  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - began
    return sum(len(c.token_ids) for c in completions) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("config", nargs="?", default="configs/cpu-demo.toml")
    parser.add_argument("--steps", type=int, default=1)
    args = parser.parse_args(argv)

    from runtime.engines.transformers_engine import TransformersEngine
    from trainer.config import load_config
    from trainer.loop import train
    from trainer.metrics import read_metrics
    from trainer.policy import load_model_and_tokenizer

    config = load_config(args.config)
    model, tokenizer = load_model_and_tokenizer(config.policy.model, config.policy.dtype,
                                                config.policy.cache_dir)
    batch = config.rollout.questions_per_step * config.rollout.designs_per_question
    raw = raw_tokens_per_s(TransformersEngine(model, tokenizer), min(batch, 8),
                           config.sampling.designer.max_tokens)
    del model
    with tempfile.TemporaryDirectory() as folder:
        run = config.model_copy(update={"steps": args.steps, "eval_interval": 0,
                                        "output_dir": Path(folder) / "run"})
        train(run, progress=False)
        records = [r for r in read_metrics(Path(folder) / "run" / "metrics.jsonl")
                   if r["kind"] == "train"]
    print(f"engine raw batched sampling: {raw:.1f} tokens/s (batch {min(batch, 8)})")
    for record in records:
        total = record["time/step"]
        parts = "  ".join(f"{key[5:]} {record[key]:.1f}s ({100 * record[key] / total:.0f}%)"
                          for key in SPLIT)
        rate = record["rollout_tokens_per_s"]
        print(f"step {record['step']}: {total:.1f}s = {parts}")
        print(f"  rollout {rate:.1f} tokens/s = {rate / raw:.2f} of raw; "
              f"compile rate {record['compile_rate']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

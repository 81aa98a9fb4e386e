"""`python -m benchmarks.train [CONFIG] [--steps N]`: a training step on both rollout paths.

Runs N training steps of CONFIG (default `configs/cpu-demo.toml`, output under a temporary
directory, no evaluation) twice, side by side in one run: rollouts sampled in llama.cpp with
the policy's live LoRA weights (`sampling.engine = "llamacpp"`, the CPU default) and rollouts
sampled by torch from the policy itself (`"transformers"`). For each it prints the time split
of a step (designer sampling, executions, rewards, credit, policy update, weight sync) and the
rollout's sampled tokens/s against the raw batched tokens/s of the same engine on the same
model (a batch of `questions x designs` plain requests of the designer's `max_tokens`), then
the ratio of the step times. On llama.cpp it also prints what the engine itself did during
the rollout: the tokens it was fed (prompt tokens not in its KV cache, and sampled tokens) per
second of rollout, and the share of the rollout spent inside llama_decode, which tell prefill
work from an idle engine. Goal: llama.cpp steps >= 3x faster, rollout >= 0.8 of raw.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

SPLIT = ("time/design", "time/execute", "time/reward", "time/credit", "time/update")
ROLLOUT = ("time/design", "time/execute", "time/reward")
ENGINES = ("llamacpp", "transformers")


def raw_tokens_per_s(engine: Any, batch: int, max_tokens: int) -> float:
    """Sampled tokens/s of one batch of `batch` plain chat requests (no grammar)."""
    from runtime.engines.base import ChatRequest, Message, Sampling

    requests = [ChatRequest(messages=(Message("user", f"Count from {i} to 100."),),
                            sampling=Sampling(temperature=1.0, max_tokens=max_tokens, seed=i))
                for i in range(batch)]
    began = time.perf_counter()
    completions = asyncio.run(engine.generate(requests))
    elapsed = time.perf_counter() - began
    return sum(len(c.token_ids) for c in completions) / elapsed


def raw_rate(config: Any, engine_name: str) -> float:
    """The raw batched tokens/s of the engine a rollout path samples from."""
    batch = min(config.rollout.questions_per_step * config.rollout.designs_per_question, 16)
    max_tokens = config.sampling.designer.max_tokens
    engine: Any
    if engine_name == "llamacpp":
        from runtime.engines.llama_native import ContextSettings
        from trainer.live_weights import llamacpp_engine_for

        engine = llamacpp_engine_for(config.policy,
                                     ContextSettings(threads=config.sampling.threads))
    else:
        from runtime.engines.transformers_engine import TransformersEngine
        from trainer.policy import load_model_and_tokenizer

        model, tokenizer = load_model_and_tokenizer(config.policy.model, config.policy.dtype,
                                                    config.policy.cache_dir)
        engine = TransformersEngine(model, tokenizer)
    try:
        return raw_tokens_per_s(engine, batch, max_tokens)
    finally:
        asyncio.run(engine.close())


def run_path(config: Any, engine_name: str, steps: int) -> tuple[float, list[dict[str, Any]]]:
    """The raw rate and the train records of `steps` steps sampled by `engine_name`."""
    from trainer.loop import train
    from trainer.metrics import read_metrics

    raw = raw_rate(config, engine_name)
    sampling = config.sampling.model_copy(update={"engine": engine_name})
    with tempfile.TemporaryDirectory() as folder:
        run = config.model_copy(update={"steps": steps, "eval_interval": 0,
                                        "output_dir": Path(folder) / "run",
                                        "sampling": sampling})
        train(run, progress=False)
        records = [r for r in read_metrics(Path(folder) / "run" / "metrics.jsonl")
                   if r["kind"] == "train"]
    return raw, records


def report(engine_name: str, raw: float, records: list[dict[str, Any]]) -> float:
    """Print one path's steps; return its mean step time."""
    print(f"{engine_name}: raw batched sampling {raw:.1f} tokens/s")
    for record in records:
        total = record["time/step"]
        parts = "  ".join(f"{key[5:]} {record[key]:.1f}s ({100 * record[key] / total:.0f}%)"
                          for key in SPLIT)
        sync = record.get("weight_sync_s")
        rate = record["rollout_tokens_per_s"]
        print(f"  step {record['step']}: {total:.1f}s = {parts}"
              + (f"  (weight sync {sync:.2f}s)" if sync is not None else ""))
        print(f"    rollout {rate:.1f} tokens/s = {rate / raw:.2f} of raw; "
              f"compile rate {record['compile_rate']:.2f}")
        if "rollout_fed_tokens_per_s" in record:  # llama.cpp: what the engine itself did
            fed = record["rollout_fed_tokens_per_s"]
            rollout_s = sum(record[key] for key in ROLLOUT)
            print(f"    engine fed {fed:.1f} tokens/s (uncached prompt + sampled) = "
                  f"{fed / raw:.2f} of raw, inside llama_decode "
                  f"{record['time/decode'] / rollout_s:.0%} of the rollout")
    return float(sum(r["time/step"] for r in records)) / max(len(records), 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("config", nargs="?", default="configs/cpu-demo.toml")
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="rollout paths to compare (default: both)")
    args = parser.parse_args(argv)

    from trainer.config import load_config

    config = load_config(args.config)
    means = {}
    for engine_name in args.engines.split(","):
        raw, records = run_path(config, engine_name, args.steps)
        means[engine_name] = report(engine_name, raw, records)
    if set(means) == set(ENGINES):
        print(f"step time transformers / llamacpp = "
              f"{means['transformers'] / means['llamacpp']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Engine throughput: generated tokens/s for 1 sequence vs 8 and 16 concurrent sequences.

Run `python -m benchmarks.engine` (embedded SmolLM2 by default, `--model PATH` for another
GGUF). Each concurrency level sends N requests at once through `LlamaCppEngine.generate`, so
the engine decodes them together; the table prints tokens/s and the speed-up over one
sequence. `batched_tokens_per_second` is the reusable measurement for other benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from runtime.engines.base import ChatRequest, Engine, Message, Sampling

DEFAULT_PROMPTS = (
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle works.",
    "List some ideas for a weekend trip.",
    "Describe the water cycle.",
)


@dataclass(frozen=True)
class Throughput:
    """One measurement: how many sequences ran together and what they produced."""

    sequences: int
    generated_tokens: int
    prompt_tokens: int
    seconds: float
    cpu_seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.generated_tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_cpu_second(self) -> float:
        """Generated tokens per second of this process's CPU time (all threads): stable on a
        shared machine where wall-clock time includes waiting for other jobs."""
        return self.generated_tokens / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


async def batched_tokens_per_second(
    engine: Engine,
    prompts: Sequence[str],
    max_tokens: int = 64,
    temperature: float = 0.8,
    seed: int = 0,
) -> Throughput:
    """Generate for all `prompts` at once (one user message each, `max_tokens` each, seeds
    `seed`, `seed`+1, ...) and report generated tokens per wall-clock second, prefill
    included. Stop strings are off so every sequence decodes until EOS or `max_tokens`."""
    requests = [
        ChatRequest(
            messages=(Message("user", prompt),),
            sampling=Sampling(temperature=temperature, max_tokens=max_tokens, seed=seed + i),
        )
        for i, prompt in enumerate(prompts)
    ]
    start, cpu_start = time.perf_counter(), time.process_time()
    completions = await engine.generate(requests)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    return Throughput(
        sequences=len(prompts),
        generated_tokens=sum(len(c.token_ids) for c in completions),
        prompt_tokens=sum(len(c.prompt_token_ids) for c in completions),
        seconds=seconds,
        cpu_seconds=cpu_seconds,
    )


async def compare(engine: Engine, levels: Sequence[int], max_tokens: int) -> list[Throughput]:
    """One warm-up call, then one measurement per concurrency level."""
    await batched_tokens_per_second(engine, DEFAULT_PROMPTS[:1], max_tokens=8)
    results = []
    for level in levels:
        prompts = [DEFAULT_PROMPTS[i % len(DEFAULT_PROMPTS)] for i in range(level)]
        results.append(await batched_tokens_per_second(engine, prompts, max_tokens=max_tokens))
    return results


def render(results: Sequence[Throughput]) -> str:
    """A side-by-side table with the ratio to the first (single-sequence) row."""
    base = results[0].tokens_per_second if results else 0.0
    cpu_base = results[0].tokens_per_cpu_second if results else 0.0
    lines = [
        f"{'sequences':>9} {'tokens':>7} {'seconds':>8} {'tok/s':>8} {'vs 1':>6} "
        f"{'tok/cpu-s':>10} {'vs 1':>6}"
    ]
    for r in results:
        ratio = r.tokens_per_second / base if base else 0.0
        cpu_ratio = r.tokens_per_cpu_second / cpu_base if cpu_base else 0.0
        lines.append(
            f"{r.sequences:>9} {r.generated_tokens:>7} {r.seconds:>8.2f} "
            f"{r.tokens_per_second:>8.1f} {ratio:>5.2f}x "
            f"{r.tokens_per_cpu_second:>10.1f} {cpu_ratio:>5.2f}x"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from runtime.engines.llama_native import ContextSettings
    from runtime.engines.llamacpp import LlamaCppEngine

    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    arguments.add_argument("--model", default=None, help="GGUF file (default: SmolLM2-135M)")
    arguments.add_argument("--levels", default="1,8,16", help="comma-separated sequence counts")
    arguments.add_argument("--max-tokens", type=int, default=64)
    arguments.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: auto)")
    options = arguments.parse_args(argv)
    levels = [int(level) for level in options.levels.split(",")]

    async def measure() -> list[Throughput]:
        settings = ContextSettings(
            sequence_context=1024, max_sequences=max(levels), threads=options.threads
        )
        engine = LlamaCppEngine(options.model, settings=settings)
        try:
            return await compare(engine, levels, options.max_tokens)
        finally:
            await engine.close()

    print(render(asyncio.run(measure())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

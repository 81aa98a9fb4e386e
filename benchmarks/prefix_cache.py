"""The llama.cpp engine's prefix cache: typed designs and repeated executions with it on and off.

Run `python -m benchmarks.prefix_cache` (embedded SmolLM2). Two workloads, each timed on one
engine with the cache on and on one with it off, side by side in one run:
- `design`: typed decoding of `--designs` designs for each of `--questions` questions, with
  the default few-shot examples (every stage continues the reply, so without the cache each
  stage prefills the whole prompt again);
- `execute`: `--designs` samples of one agent's prompt (~170 tokens) per question, as N
  executions of one system send (the shared prompt is prefilled once with the cache).
The table prints prompt tokens fed to the model, wall seconds and the speed-up.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.systems import few_shot
from runtime.designer import Interface, design_request, sample_designs
from runtime.engines.base import ChatRequest, Message, Sampling
from runtime.engines.llama_native import ContextSettings
from runtime.engines.llamacpp import LlamaCppEngine

QUESTIONS = ("What is 7 + 5?", "What is 9 - 4?", "What is 3 * 6?", "What is 8 + 8?")


@dataclass(frozen=True)
class Measurement:
    workload: str
    cache: bool
    prompt_tokens: int
    fed_tokens: int
    seconds: float


async def _design(engine: LlamaCppEngine, questions: Sequence[str], designs: int) -> None:
    examples = few_shot()
    requests = [design_request(question, examples=examples,
                               sampling=Sampling(temperature=1.0, top_p=0.9, max_tokens=192,
                                                 seed=100 * q + d))
                for q, question in enumerate(questions) for d in range(designs)]
    await sample_designs(engine, requests, Interface(), "typed")


async def _execute(engine: LlamaCppEngine, questions: Sequence[str], designs: int) -> None:
    role = ("You are a careful mathematician. Read the question, work out the answer step by "
            "step, check every step once more, and keep the reply short. "
            "End your reply with one line: ANSWER: followed by your final answer, a number "
            "(digits, an optional minus sign and decimal point, no units). ") * 3
    requests = [ChatRequest(messages=(Message("system", role), Message("user", question)),
                            sampling=Sampling(temperature=0.7, max_tokens=32, seed=d))
                for question in questions for d in range(designs)]
    await engine.generate(requests)


def measure(workload: str, run: Callable[[LlamaCppEngine], Coroutine[Any, Any, None]], cache: bool,
            threads: int) -> Measurement:
    engine = LlamaCppEngine(settings=ContextSettings(threads=threads, prefix_cache=cache))
    try:
        began = time.perf_counter()
        asyncio.run(run(engine))
        seconds = time.perf_counter() - began
        reused, prompt = engine.prefix_reuse
    finally:
        asyncio.run(engine.close())
    return Measurement(workload, cache, prompt, prompt - reused, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--questions", type=int, default=2)
    parser.add_argument("--designs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0,
                        help="llama.cpp threads (0: every core)")
    options = parser.parse_args(argv)
    questions = QUESTIONS[:max(1, min(options.questions, len(QUESTIONS)))]
    workloads: dict[str, Callable[[LlamaCppEngine], Coroutine[Any, Any, None]]] = {
        "design": lambda engine: _design(engine, questions, options.designs),
        "execute": lambda engine: _execute(engine, questions, options.designs),
    }
    print(f"{len(questions)} questions x {options.designs} samples, threads "
          f"{options.threads or 'all'}")
    print("| workload | cache | prompt tokens | fed tokens | wall s | speed-up |")
    print("|---|---|---:|---:|---:|---:|")
    for name, run in workloads.items():
        off = measure(name, run, cache=False, threads=options.threads)
        on = measure(name, run, cache=True, threads=options.threads)
        for row in (off, on):
            speedup = off.seconds / row.seconds if row.seconds > 0 else 0.0
            print(f"| {name} | {'on' if row.cache else 'off'} | {row.prompt_tokens} | "
                  f"{row.fed_tokens} | {row.seconds:.1f} | {speedup:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

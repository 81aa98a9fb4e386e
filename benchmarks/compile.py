"""`python -m benchmarks.compile`: the cost of compiling, next to the cost of parsing.

For every example spec (`examples/*.mas`) and for generated specs of about 10, 100 and
1,000 IR nodes, it measures in one run: the raw Lark parse (`grammar.parser().parse`), the
whole `masc compile` pipeline (parse, check, lower, passes, validate, stats, JSON text),
their ratio, and the pipeline's cost per IR node (growth should be linear: a flat per-node
cost). Times are the median of several repetitions, in milliseconds, taken with the garbage
collector paused (as `timeit` does).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

SIZES = (10, 100, 1000)

_HEAD = """mas generated {
  input question: text
  output answer: number
  agent solver -> number { role "Solve the problem." tools [python] }
  agent alt -> number { role "Solve it another way." temperature 0.5 }
  agent check -> bool { role "Is the answer right?" retries 1 }
  flow {
    x0 = solver(question)
"""

_BLOCK = """    x{i} = solver(question, previous: x{p})
    e{i} = vote(ensemble(solver, n: 3, question, x{i}), strategy: majority)
    ok{i} = check(question, e{i})
    if ok{i} {{ y{i} = alt(question, e{i}) }} else {{ y{i} = solver(question, e{i}) }}
    x{i} = y{i}
"""
_NODES_PER_BLOCK = 12


def generated_spec(nodes: int) -> str:
    """A valid spec whose IR has about `nodes` nodes: a chain of blocks (an agent call, a
    voted ensemble, a check and an if/else), every value used by the next block."""
    blocks = max(1, round(nodes / _NODES_PER_BLOCK))
    body = "".join(_BLOCK.format(i=index, p=index - 1) for index in range(1, blocks + 1))
    return _HEAD + body + f"    answer = x{blocks}\n  }}\n}}\n"


def _median_ms(action: Callable[[], object], repeat: int) -> float:
    """Median wall time of `action`, with the garbage collector paused while timing (as
    `timeit` does) and run between repetitions, so other heaps do not add random pauses."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(times) * 1000


def measure(name: str, text: str, repeat: int) -> tuple[str, float, float, int]:
    """(name, parse ms, pipeline ms, IR nodes) for one spec."""
    import grammar
    from compiler.api import compile as compile_spec
    from compiler.export_json import to_json
    from masdsl.limits import Limits

    limits = Limits(max_nodes=100_000, max_agents=1_000)
    lark = grammar.parser()
    compiled = compile_spec(text, path=name, limits=limits)  # warm up, and count nodes
    parse_ms = _median_ms(lambda: lark.parse(text), repeat)
    pipeline_ms = _median_ms(lambda: to_json(compile_spec(text, path=name, limits=limits).ir),
                             repeat)
    return name, parse_ms, pipeline_ms, compiled.ir.graph.number_of_nodes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compile",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions per spec")
    parser.add_argument("--examples", default="examples", help="folder of example specs")
    args = parser.parse_args(argv)
    rows = []
    for path in sorted(Path(args.examples).glob("*.mas")):
        rows.append(measure(path.name, path.read_text(encoding="utf-8"), args.repeat))
    for size in SIZES:
        repeat = args.repeat if size < 1000 else max(1, args.repeat // 2)
        rows.append(measure(f"generated-{size}", generated_spec(size), repeat))
    print(f"{'spec':<24} {'IR nodes':>8} {'parse ms':>9} {'compile ms':>11} {'ratio':>6} "
          f"{'µs/node':>8}")
    for name, parse_ms, pipeline_ms, nodes in rows:
        print(f"{name:<24} {nodes:>8} {parse_ms:>9.2f} {pipeline_ms:>11.2f} "
              f"{pipeline_ms / parse_ms:>6.1f} {pipeline_ms * 1000 / nodes:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

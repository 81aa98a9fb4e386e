"""The tiny training run the end-to-end trainer tests share (two short steps on the
embedded SmolLM2-135M, two designs per question)."""

from __future__ import annotations

from pathlib import Path

TINY = """\
seed = {seed}
steps = {steps}
eval_interval = 0
output_dir = "{out}"
[policy]
cache_dir = "{cache}"
[[tasks.train]]
name = "arithmetic"
[rollout]
questions_per_step = {questions}
designs_per_question = 2
executions_per_design = {executions}
max_calls_per_execution = 2
[schedule]
kind = "coupled"
[loss]
learning_rate = 1e-3
[sampling]
engine = "{engine}"
decoding = "{decoding}"
examples = ["benchmarks/systems/single_agent.mas"]
[sampling.designer]
max_tokens = {designer_tokens}
[sampling.executor]
max_tokens = {executor_tokens}
"""


def tiny_config(out: Path, cache: Path, *, seed: int, steps: int, decoding: str,
                designer_tokens: int, executor_tokens: int, questions: int = 1,
                executions: int = 1, engine: str = "transformers") -> str:
    """The TOML text of the tiny run writing to `out` with its converted model in `cache`
    (rollouts on torch unless `engine` says otherwise: the scripted designer scores with
    the transformers engine, and the kill test compares runs bit for bit)."""
    return TINY.format(seed=seed, steps=steps, out=out, cache=cache, decoding=decoding,
                       designer_tokens=designer_tokens, executor_tokens=executor_tokens,
                       questions=questions, executions=executions, engine=engine)

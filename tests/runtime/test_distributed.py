"""Executions on Ray worker actors: results match in-process runs; a killed worker is
replaced and its unfinished executions are resubmitted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from compiler.api import compile as compile_spec
from runtime.executor import Executor
from tests.runtime.scripted_engine import ScriptedEngine

ray = pytest.importorskip("ray", reason="ray is not installed")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "self_consistency.mas"


def seeded_engine() -> ScriptedEngine:
    """Answers depend only on the request's seed, so runs anywhere agree."""
    return ScriptedEngine(lambda request: f"ANSWER: {request.sampling.seed % 2}", delay_s=0.05)


@pytest.fixture(scope="module")
def cluster() -> Any:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}})
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_results_match_in_process_and_survive_a_killed_worker(cluster: Any) -> None:
    from runtime.distributed import run_on_ray

    compiled = compile_spec(EXAMPLE.read_text())
    inputs = [{"question": f"q{i}"} for i in range(8)]
    local = asyncio.run(Executor(compiled.ir, {"executor": seeded_engine()}).run_many(inputs))

    killed: list[Any] = []

    def kill_first_worker(actors: list[Any]) -> None:
        if not killed:
            killed.append(actors[0])
            ray.kill(actors[0], no_restart=True)

    outcome = run_on_ray(compiled, inputs, engine=seeded_engine, workers=2, chunk_size=2,
                         worker_hook=kill_first_worker)
    assert outcome.restarts >= 1
    assert [r.record.execution_id for r in outcome.results] == [f"e{i:05d}" for i in range(8)]
    assert [r.outputs for r in outcome.results] == [r.outputs for r in local]
    assert all(r.record.llm_calls == 3 for r in outcome.results)

"""End to end on the embedded SmolLM2-135M: two real training steps (rollout, credit, update)
and an exact resume: 1 step, stop, resume for step 2 == 2 uninterrupted steps (weights,
optimiser and metrics).

The designs are scripted (`ScriptedDesigner`: one good spec, one broken one, teacher-forced
through the policy for real logprobs) so that the designer's advantages are certainly non-zero;
the executions are sampled from the policy. `test_train_kill.py` runs with sampled designs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.trainer.tiny_run import tiny_config
from trainer.config import TrainConfig, parse_config

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

pytestmark = pytest.mark.slow

SEED = 0
GOOD = """mas d {
  input question: text
  output answer: number
  agent solver -> number { role "Give the number." max_tokens 12 }
  flow { answer = solver(question) }
}"""
BAD = GOOD.replace("solver(question)", "solver(nothing)")


def _config(out: Path, cache: Path, steps: int) -> TrainConfig:
    # the scripted designer writes whole specs, so one grammar-constrained pass
    return parse_config(tiny_config(out, cache, seed=SEED, steps=steps, decoding="grammar",
                                    designer_tokens=256, executor_tokens=12))


def _scripted(engine: Any) -> Any:
    from tests.trainer.scripted_designer import ScriptedDesigner

    return ScriptedDesigner(engine, [GOOD, BAD])


def _weights(run_dir: Path, step: int) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(run_dir / "checkpoints" / f"step-{step:06d}" /
                                       "policy.pt", weights_only=True)
    return state


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items()
            if not key.startswith(("time/", "rollout_"))}


def test_two_steps_train_and_resume_exactly(cache_dir: Path, tmp_path: Path) -> None:
    from trainer.loop import train
    from trainer.metrics import read_metrics

    straight = train(_config(tmp_path / "straight", cache_dir, 2), progress=False,
                     designer_engine=_scripted)
    records = [r for r in read_metrics(straight.run_dir / "metrics.jsonl")
               if r["kind"] == "train"]
    assert [r["step"] for r in records] == [1, 2]
    assert all(r["compile_rate"] == 0.5 for r in records)
    updated = [r for r in records if r["updated"]]
    assert updated, f"no step had a non-zero advantage: {records}"
    for record in updated:
        assert math.isfinite(record["loss"]) and math.isfinite(record["grad_norm"])
    final = _weights(straight.run_dir, 2)["trainable"]
    # LoRA B matrices start at zero: a non-zero one proves the update changed the policy
    assert any(float(t.abs().sum()) > 0 for name, t in final.items() if "lora_B" in name)

    stopped = tmp_path / "stopped"
    train(_config(stopped, cache_dir, 1), progress=False, designer_engine=_scripted)
    resumed = train(_config(stopped, cache_dir, 2), resume=stopped, progress=False,
                    designer_engine=_scripted)
    assert resumed.steps == 2
    again = _weights(stopped, 2)
    for name, tensor in final.items():
        assert torch.equal(tensor, again["trainable"][name]), name
    expected = _weights(straight.run_dir, 2)["optimizer"]["state"]
    for key, state in again["optimizer"]["state"].items():
        assert torch.equal(state["exp_avg"], expected[key]["exp_avg"])
    resumed_records = [_comparable(r) for r in read_metrics(stopped / "metrics.jsonl")
                       if r["kind"] == "train"]
    assert resumed_records == [_comparable(r) for r in records]
    assert read_metrics(stopped / "designs.jsonl") == \
        read_metrics(straight.run_dir / "designs.jsonl")


def test_llamacpp_rollouts_train_the_live_policy(cache_dir: Path, tmp_path: Path) -> None:
    """The default CPU path end to end: typed designs and executions sampled in llama.cpp
    with the policy's LoRA adapter hot-swapped in after every update, trained in torch."""
    pytest.importorskip("llama_cpp")
    from trainer.loop import train
    from trainer.metrics import read_metrics

    # llama.cpp's results depend on how concurrent requests share its batch, which depends on
    # timing; 3 questions x 2 designs x 3 executions make a step without any group whose
    # rewards differ (so without an update) improbable (about 0.8**6 per question)
    text = tiny_config(tmp_path / "llama", cache_dir, seed=SEED, steps=2, decoding="typed",
                       designer_tokens=160, executor_tokens=24, questions=3, executions=3,
                       engine="llamacpp")
    text = text.replace("eval_interval = 0", "eval_interval = 2\neval_at_start = false")
    config = parse_config(text + '[[tasks.eval]]\nname = "arithmetic"\nsplit = "test"\n'
                                 'limit = 3\n')
    summary = train(config, progress=False)
    records = [r for r in read_metrics(summary.run_dir / "metrics.jsonl")
               if r["kind"] == "train"]
    assert [r["step"] for r in records] == [1, 2]
    assert all(r["compile_rate"] > 0 for r in records)  # typed decoding in llama.cpp
    for record in records:  # the engine's work: every sampled token and the uncached prompts
        rollout_s = record["time/design"] + record["time/execute"] + record["time/reward"]
        assert record["rollout_fed_tokens"] > record["designer_tokens"] + \
            record["executor_tokens"]
        assert 0.0 < record["time/decode"] <= rollout_s
    updated = [r for r in records if r["updated"]]
    assert updated and all("weight_sync_s" in r for r in updated)
    # the policy's own logprobs are the ratio's denominator: nothing is clipped
    assert all(r["clip_fraction"] == 0.0 for r in updated)
    assert (summary.run_dir / "live").is_dir()
    # held-out: only after the last step; its designs are logged question by question
    evals = [r for r in read_metrics(summary.run_dir / "metrics.jsonl") if r["kind"] == "eval"]
    assert [(r["step"], r["questions"]) for r in evals] == [(2, 3)]
    held_out = [r for r in read_metrics(summary.run_dir / "designs.jsonl")
                if r["kind"] == "eval"]
    assert [(r["step"], r["task"]) for r in held_out] == [(2, evals[0]["task"])] * 3
    assert len({r["item"] for r in held_out}) == 3
    assert sum(r["correct"] for r in held_out) / 3 == pytest.approx(evals[0]["accuracy"])


def test_a_frozen_executor_runs_every_call_on_the_starting_weights(cache_dir: Path,
                                                                    tmp_path: Path) -> None:
    """`schedule.executor_weights = "start"` on the llama.cpp path: designs are sampled with
    the live adapter, every executor call by a second engine on the starting weights, and the
    two engines never decode at the same time."""
    pytest.importorskip("llama_cpp")
    import asyncio
    import threading

    from runtime.designer import LANGUAGE_SUMMARY
    from trainer.live_weights import llamacpp_engine_for
    from trainer.loop import _prepare, train_step

    text = tiny_config(tmp_path / "frozen", cache_dir, seed=SEED, steps=1, decoding="typed",
                       designer_tokens=160, executor_tokens=12, executions=2,
                       engine="llamacpp")
    config = parse_config(text.replace('kind = "coupled"',
                                       'kind = "designer_only"\nexecutor_weights = "start"'))
    run_dir = tmp_path / "frozen"
    run_dir.mkdir()
    run = _prepare(config, run_dir)
    designer, executor = run.designer.engine, run.executor.engine
    try:
        assert executor is not designer and executor.decode_lock is designer.decode_lock
        # move the policy away from its start, as training does, and sync the live adapter
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for name, parameter in run.policies.designer.model.named_parameters():
                if "lora_B" in name:
                    parameter.copy_(0.05 * torch.randn(parameter.shape, generator=generator))
        run.live.sync()
        probe = list(range(200, 240))
        moved = designer.score_tokens(probe, 1)
        frozen = executor.score_tokens(probe, 1)
        base = llamacpp_engine_for(config.policy, base_file=run_dir / "live" / "base-f16.gguf")
        try:
            start = base.score_tokens(probe, 1)
        finally:
            asyncio.run(base.close())
        assert frozen == pytest.approx(start, abs=1e-6)
        assert max(abs(a - b) for a, b in zip(moved, start, strict=True)) > 1e-2

        seen: dict[str, list[Any]] = {"designer": [], "executor": []}
        decoding = [0, 0]  # (decodes running now, most ever at once)
        guard = threading.Lock()

        def watch(name: str, engine: Any) -> None:
            generate, decode = engine.generate, engine._model.decode

            async def counted(requests: list[Any]) -> Any:
                seen[name] += requests
                return await generate(requests)

            def exclusive(entries: Any) -> Any:
                with guard:
                    decoding[0] += 1
                    decoding[1] = max(decoding)
                try:
                    return decode(entries)
                finally:
                    with guard:
                        decoding[0] -= 1

            engine.generate, engine._model.decode = counted, exclusive

        watch("designer", designer)
        watch("executor", executor)
        record = train_step(run, 0, config.schedule.build())
        assert record["roles"] == "designer"
        assert len(seen["designer"]) == run.designer.calls > 0
        assert len(seen["executor"]) == run.executor.calls > 0
        is_design = [r.messages[0].content.startswith(LANGUAGE_SUMMARY)
                     for r in seen["designer"] + seen["executor"]]
        assert is_design == [True] * len(seen["designer"]) + [False] * len(seen["executor"])
        assert decoding[1] == 1
    finally:
        asyncio.run(designer.close())
        asyncio.run(executor.close())

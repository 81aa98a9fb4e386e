"""`benchmarks.runtime` at tiny sizes: the functions run and measure what they say (no
timing assertions: timings depend on the machine)."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.runtime import main, overhead_table, throughput_table
from benchmarks.runtime_overhead import (
    InstantEngine,
    chain_spec,
    generated_ir,
    langgraph,
    layers_spec,
    measure_overhead,
    ours,
)
from benchmarks.runtime_throughput import measure_throughput, spec_ir
from runtime.engines.base import ChatRequest
from tests.runtime.scripted_engine import ScriptedEngine

pytest.importorskip("langgraph")


def test_generated_specs_have_the_requested_agent_nodes_and_shape() -> None:
    chain = generated_ir("chain", 10)
    agents = list(chain.agent_nodes())
    assert len(agents) == 10
    # a chain: every call but the first waits for exactly one other call
    waits = sorted(sum(1 for e in chain.in_edges(a.id) if chain.node(e.source).kind
                       == "agent_call") for a in agents)
    assert waits == [0] + [1] * 9
    layers = generated_ir("layers", 10)
    assert sum(1 for _ in layers.agent_nodes()) == 10  # 3 layers of 3 and one join
    assert "previous: x9" in chain_spec(10) and "p2: l3_2" in layers_spec(10)


@pytest.mark.parametrize("shape", ["chain", "layers"])
def test_both_schedulers_run_every_node_and_agree(shape: str) -> None:
    ir = generated_ir(shape, 10)
    mine = asyncio.run(ours(ir, repeat=2))
    theirs = asyncio.run(langgraph(ir, repeat=2))
    assert mine.answer == theirs.answer == 1
    assert mine.agent_nodes == theirs.agent_nodes == 10
    assert mine.us_per_node > 0 and theirs.us_per_node > 0 and mine.node_work_us > 0


def test_langgraph_node_functions_see_the_same_prompts_as_the_executor() -> None:
    from benchmarks.runtime_overhead import TimedAgentRunner, _context, langgraph_app
    from runtime.executor import Executor

    ir = generated_ir("layers", 10)
    seen: dict[str, list[ChatRequest]] = {"ours": [], "langgraph": []}

    class Recording(InstantEngine):
        def __init__(self, key: str) -> None:
            self.key = key

        async def generate(self, requests: list[ChatRequest]):  # type: ignore[no-untyped-def]
            seen[self.key].extend(requests)
            return await super().generate(requests)

    executor = Executor(ir, {"executor": Recording("ours")})
    asyncio.run(executor.run({"question": "q"}))
    context = _context(Recording("langgraph"), executor.tools)  # type: ignore[arg-type]
    app = langgraph_app(ir, TimedAgentRunner(), {"current": context})
    asyncio.run(app.ainvoke({"question": "q"}))

    def prompts(key: str) -> list[tuple[str, ...]]:
        return sorted(tuple(m.content for m in r.messages) for r in seen[key])

    assert len(seen["ours"]) == 10
    assert prompts("ours") == prompts("langgraph")


def test_overhead_row_and_table() -> None:
    row = measure_overhead("chain", 10, repeat=1)
    assert row.agent_nodes == 10 and row.ratio == row.ours_us / row.langgraph_us
    table = overhead_table([row])
    assert "| chain | 10 |" in table


def test_throughput_on_a_scripted_engine_counts_tokens_of_every_run() -> None:
    engine = ScriptedEngine(lambda request: "two tokens ANSWER: 4", delay_s=0.01)
    ir = spec_ir(max_tokens=8)
    assert {node.agent.max_tokens for node in ir.agent_nodes()} == {8}
    result = asyncio.run(measure_throughput(engine, ir, executions=2))
    assert result.llm_calls == 6  # 2 executions x 3 samples
    # the reply has 4 words -> 4 tokens per call, the same in all three runs
    assert result.concurrent_tokens == result.raw_tokens == result.sequential_tokens == 24
    # warm-up + concurrent (6 requests) + raw (6) + sequential (6)
    assert len(engine.requests) == 19
    assert result.fraction_of_raw > 0 and result.speedup > 0
    assert "concurrent / raw tokens/s" in throughput_table("self_consistency.mas", result)


def test_cli_overhead_only_writes_markdown(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    output = tmp_path / "runtime.md"
    assert main(["--sizes", "10", "--repeat", "1", "--skip-engine", "--output",
                 str(output)]) == 0
    text = output.read_text()
    assert "| layers | 10 |" in text and "langgraph" in text
    assert "Scheduler overhead" in capsys.readouterr().out


@pytest.mark.slow
def test_throughput_on_the_embedded_engine_at_a_tiny_size() -> None:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("runtime.engines.llamacpp")
    from benchmarks.runtime import embedded_engine

    async def measure():  # type: ignore[no-untyped-def]
        engine = embedded_engine()
        try:
            return await measure_throughput(engine, spec_ir(max_tokens=4), executions=2)
        finally:
            await engine.close()

    result = asyncio.run(measure())
    assert result.llm_calls >= 6  # 2 executions x 3 samples, plus any format retries
    # every run generated tokens (llama.cpp logits can differ slightly with the batch's
    # composition, so the counts need not be identical)
    assert min(result.concurrent_tokens, result.raw_tokens, result.sequential_tokens) > 0
    assert result.raw_tokens <= 4 * result.llm_calls

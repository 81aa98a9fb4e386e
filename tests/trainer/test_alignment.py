"""End to end: credit lands on the tokens of the node it is meant for.

The trainer's real sampling engine (`TransformersEngine` on the embedded SmolLM2) writes designs
with typed decoding, in stages continued from token ids; the episode layer records them
(`trainer.episode.design_record`: offsets computed once from the engine's detokeniser); credit
maps every node span to a token range. For every node of every design, the tokens of that range
must decode to text that holds the node's source text, and the first and last token must
overlap it. Before the completion contract, the transformers engine kept an end-of-turn token at
the end of every stage, and every span after the first stage pointed at the wrong text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from runtime.engines.base import Sampling
from trainer.credit import char_spans_to_token_ranges, designer_token_advantages
from trainer.episode import DesignRecord, EpisodeSettings, run_episodes
from trainer.tasks.registry import get_task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> Iterator[Any]:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from runtime.engines.base import EngineError
    from runtime.engines.embedded import embedded_gguf_path
    from runtime.engines.transformers_engine import TransformersEngine

    try:
        path = embedded_gguf_path()
    except EngineError as error:
        pytest.skip(f"embedded model unavailable: {error}")
    engine = TransformersEngine.from_pretrained(path)
    yield engine
    asyncio.run(engine.close())


def assert_aligned(record: DesignRecord, detokenize: Any) -> int:
    """Check every node span of a compiled design; returns how many were checked."""
    sample = record.design_sample()
    ids = record.completion.token_ids
    spec = record.design.text
    spans = [(node.start + sample.spec_offset, node.end + sample.spec_offset)
             for node in sample.nodes]
    checked = 0
    for (start, end), (first, last) in zip(spans, char_spans_to_token_ranges(
            spans, sample.token_offsets), strict=True):
        source = sample.text[start:end]
        assert source == spec[start - sample.spec_offset:end - sample.spec_offset]
        decoded = detokenize(ids[first:last])
        assert source in decoded, (source, decoded)
        assert sample.token_offsets[first][1] > start and sample.token_offsets[last - 1][0] < end
        checked += 1
    return checked


def test_node_spans_of_typed_designs_hit_their_own_tokens(engine: Any) -> None:
    task = get_task("arithmetic")
    items = task.load("test", limit=2, seed=0)
    settings = EpisodeSettings(designs=3, executions=1, decoding="typed",
                               designer=Sampling(temperature=1.0, top_p=0.9, max_tokens=160),
                               executor_max_tokens=8, max_calls_per_execution=4)
    episodes = asyncio.run(run_episodes(items, task, designer=engine, executor=engine,
                                        settings=settings, seed=11,
                                        detokenize=engine.detokenize))
    records = [record for episode in episodes for record in episode.designs]
    compiled = [record for record in records if record.design.compiled is not None]
    assert len(compiled) >= 4  # typed decoding: nearly every design compiles
    checked = sum(assert_aligned(record, engine.detokenize) for record in compiled)
    staged = [record for record in compiled if len(record.design.compiled.program.agents) > 1
              or "flow" in record.design.text]
    assert checked >= 3 * len(compiled) and staged
    for record in compiled:
        # a dead region gets 0, a live node the design's advantage: credit differs by node
        advantages = designer_token_advantages(record.design_sample(), 1.0)
        assert len(advantages) == len(record.completion.token_ids)
        assert record.completion.text == engine.detokenize(record.completion.token_ids)

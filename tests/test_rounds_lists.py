"""`rounds(x)` meets the list builtins: its static length (the loop's or graph's bound) bounds
a `map` over it and its indexes."""

from __future__ import annotations

import pytest

from compiler.api import compile as compile_spec
from masdsl.diagnostics import MasError

SPEC = """mas drafts {
  input question: text
  output answer: text
  agent writer { role "Write; improve on earlier attempts." retries 0 }
  agent critic { role "Review the draft." retries 0 }
  flow {
    loop max 3 { draft = writer(question, draft) }
    drafts = rounds(draft)
    reviews = map(critic, drafts, question)
    answer = writer(question, drafts[INDEX], head(reviews))
  }
}
"""


def test_a_map_over_rounds_is_bounded_by_the_loop() -> None:
    compiled = compile_spec(SPEC.replace("INDEX", "-1"))
    assert compiled.stats.split.agent_calls == 3 + 3 + 1  # loop, map over 3 rounds, answer
    assert compiled.stats.llm_calls == 7  # retries 0, no tools


def test_an_index_past_the_rounds_is_out_of_range() -> None:
    with pytest.raises(MasError) as failed:
        compile_spec(SPEC.replace("INDEX", "3"))
    assert [d.code for d in failed.value.diagnostics] == ["MAS230"]

"""The construct mix of a spec is read from its AST."""

from __future__ import annotations

from pathlib import Path

from masdsl.design_mix import construct_mix, design_constructs
from masdsl.parser import parse

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def constructs(name: str) -> frozenset[str]:
    path = EXAMPLES / f"{name}.mas"
    return design_constructs(parse(path.read_text(), str(path)))


def test_the_examples_constructs_are_named() -> None:
    assert {"match", "enum agent", "default"} <= constructs("router_fallback")
    assert {"graph", "enum agent", "comparison"} <= constructs("cyclic_graph")
    assert {"loop until", "if", "record agent", "field access"} <= constructs("review_record")
    assert {"if", "loop until", "all_equal", "len", "and/or/not", "ensemble", "vote"} \
        <= constructs("judge_on_split")
    assert {"reflect", "reflect critics"} <= constructs("two_critics")
    assert "match" not in constructs("judge_on_split")


def test_a_name_that_contains_a_keyword_is_no_construct() -> None:
    spec = ('mas t {\n  input question: text\n  output answer: text\n\n'
            '  agent matchbox { role "Answer." }\n\n  flow {\n    answer = matchbox(question)\n'
            '  }\n}\n')
    assert design_constructs(parse(spec)) == frozenset()
    assert construct_mix([parse(spec)] * 2) == {}

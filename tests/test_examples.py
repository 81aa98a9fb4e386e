"""The example specs (`examples/*.mas`): one per MetaAgent-X pattern, each canonical
(`masc fmt --check`) and clean under `masc check`."""

from __future__ import annotations

from pathlib import Path

import pytest

from masdsl.ast import StringLit
from masdsl.cli import main
from masdsl.formatter import format_source
from masdsl.parser import parse

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.mas"))


def test_there_are_at_least_eight_examples() -> None:
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_example_is_formatted(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    assert format_source(text, str(example)) == text


def test_examples_pass_masc_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--output-format", "concise", *map(str, EXAMPLES)]) == 0
    assert capsys.readouterr().out.endswith("All checks passed.\n")


def test_examples_cover_every_pattern() -> None:
    sources = {path.stem: path.read_text(encoding="utf-8") for path in EXAMPLES}
    everything = "\n".join(sources.values())
    for construct in ["tools [python]", "ensemble(", "strategy: majority",
                      "strategy: consensus", "reflect(", "debate(", "match ", "loop max",
                      "until ", "graph max_steps"]:
        assert construct in everything, construct


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_every_agent_has_a_substantial_role(example: Path) -> None:
    program = parse(example.read_text(encoding="utf-8"))
    for agent in program.agents:
        role = agent.field("role")
        assert role is not None and isinstance(role.value, StringLit)
        assert len(role.value.value) >= 60, agent.name.value

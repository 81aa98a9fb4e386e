"""The parser builds its AST with trusted constructors (`masdsl.construct`): the trees must
be exactly what validated Pydantic models would be, and the spans what the text says."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from masdsl import ast
from masdsl.construct import trusted
from masdsl.diagnostics import MasError
from masdsl.parser import parse
from masdsl.spans import Span


def _parsed(path: Path) -> ast.Program | None:
    try:
        return parse(path.read_bytes(), str(path))
    except MasError:
        return None


FIXTURES = [path for path in sorted((Path(__file__).parent / "fixtures").glob("*/*.mas"))
            if _parsed(path) is not None]


def _nodes(node: object) -> list[BaseModel]:
    found: list[BaseModel] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, BaseModel):
            found.append(current)
            stack.extend(current.__dict__.values())
        elif isinstance(current, tuple):
            stack.extend(current)
    return found


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_trusted_trees_equal_validated_trees(path: Path) -> None:
    program = _parsed(path)
    assert program is not None
    validated = ast.Program.model_validate(program.model_dump())
    assert validated == program
    assert repr(validated) == repr(program)
    assert hash(program.name) == hash(validated.name)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_every_span_matches_the_source_text(path: Path) -> None:
    program = _parsed(path)
    assert program is not None
    text = path.read_text(encoding="utf-8")
    for node in _nodes(program):
        if isinstance(node, Span):
            assert node == Span.of_range(text, node.start, node.end)
        elif isinstance(node, ast.Name):
            assert text[node.span.start:node.span.end] == node.value


def test_trusted_fills_defaults_in_field_order_and_stays_frozen() -> None:
    span = Span(start=0, end=1, line=1, column=1, end_line=1, end_column=2)
    name = ast.Name(span=span, value="x")
    built = trusted(ast.GraphEdge)(span=span, source=name, target=name)
    assert built == ast.GraphEdge(span=span, source=name, target=name)
    assert list(built.__dict__) == list(ast.GraphEdge.model_fields)
    assert built.model_fields_set == {"span", "source", "target"}
    with pytest.raises(ValueError):
        built.source = name  # type: ignore[misc]


def test_syntax_errors_stay_located_diagnostics() -> None:
    with pytest.raises(MasError) as raised:
        parse('mas s {\n  agent a { role "r" temperature }\n}\n', "x.mas")
    (found,) = raised.value.diagnostics
    assert (found.code, found.span.line, found.span.column) == ("MAS003", 2, 34)
    assert "a number" in (found.help or "")


@pytest.mark.parametrize(("source", "column", "fragment"), [
    ("mas t { flow { a = f(x)[0] } }", 24, "only a bound name can be indexed"),
    ("mas t { flow { a = xs[0][1] } }", 25, "only a bound name can be indexed"),
    ("mas t { flow { a = xs[1 + 1] } }", 25, "operator `+`"),
    ("mas t { flow { if xs[0] == 1 { a = b } } }", 21, "a condition cannot index"),
    ("mas t { flow { loop max 2 until xs[0] == 1 { a = b } } }", 35,
     "a condition cannot index"),
    ("mas t { flow { a = f(x + y) } }", 24, "operator `+`"),
    ("mas t { flow { a = x -1 } }", 22, "operator `-`"),
    ("mas t { agent a { role persona } }", 24, "no dynamic roles"),
    ('mas t { agent a { role "You are " + p } }', 35, "no dynamic roles"),
    ("mas t { input x: text[] }", 22, "list[T]"),
])
def test_syntax_the_language_lacks_is_named(source: str, column: int, fragment: str) -> None:
    with pytest.raises(MasError) as raised:
        parse(source)
    (found,) = raised.value.diagnostics
    assert (found.code, found.span.column) == ("MAS006", column)
    assert fragment in found.message and found.help


def test_an_ordinary_typo_keeps_its_unexpected_token_diagnostic() -> None:
    with pytest.raises(MasError) as raised:
        parse("mas t { flow { a = b c d } }")
    assert raised.value.diagnostics[0].code == "MAS003"

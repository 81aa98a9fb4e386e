"""The formatter: data-driven fixtures (`fixtures/format/<stem>.mas` -> `<stem>.expected.mas`)
plus targeted checks of string escaping, numbers and comment placement."""

from __future__ import annotations

from pathlib import Path

import pytest

from masdsl.ast import without_spans
from masdsl.diagnostics import MasError
from masdsl.formatter import format_number, format_program, format_source, format_string
from masdsl.parser import parse, unescape

FIXTURES = Path(__file__).parent / "fixtures" / "format"
INPUTS = sorted(path for path in FIXTURES.glob("*.mas") if not path.name.endswith(".expected.mas"))


def test_there_are_fixtures() -> None:
    assert len(INPUTS) >= 5


@pytest.mark.parametrize("source", INPUTS, ids=lambda path: path.stem)
def test_fixture_formats_to_expected(source: Path) -> None:
    expected = source.with_name(source.stem + ".expected.mas").read_text(encoding="utf-8")
    text = source.read_text(encoding="utf-8")
    formatted = format_source(text, str(source))
    assert formatted == expected
    assert format_source(formatted) == formatted, "not idempotent"
    assert without_spans(parse(formatted)) == without_spans(parse(text))
    assert [c.text.rstrip() for c in parse(formatted).comments] == \
        [c.text.rstrip() for c in parse(text).comments]


@pytest.mark.parametrize("value", [
    "", "plain", 'a "quoted" word', "back\\slash", "\\n is not a newline", "tab\tand\rcr",
    "two\nlines", 'ends with quote"', 'ends with two quotes""', '"""', 'a"""b\n"', "\n",
    '"\n"', "line\\\nnext", 'x"\\"y\nz', "unicode é ∑ 🙂",
])
def test_string_literals_read_back_to_the_same_value(value: str) -> None:
    literal = format_string(value)
    assert unescape(literal) == value
    program = parse(f"mas s {{ flow {{ x = {literal} }} }}")
    assert program.flows[0].body.statements[0].value.value == value  # type: ignore[union-attr]


def test_strings_with_newlines_are_triple_quoted() -> None:
    assert format_string("a\nb") == '"""a\nb"""'
    assert format_string('say "hi"\n') == '"""say "hi"\n"""'
    assert format_string('end"') == '"end\\""'


@pytest.mark.parametrize(("value", "expected"), [
    (3, "3"), (-0, "0"), (0.5, "0.5"), (2.0, "2.0"), (1e-5, "1e-05"), (1e300, "1e+300"),
    (-1.25, "-1.25"),
])
def test_numbers_are_canonical(value: int | float, expected: str) -> None:
    assert format_number(value) == expected
    program = parse(f"mas s {{ flow {{ x = {expected} }} }}")
    parsed = program.flows[0].body.statements[0].value.value  # type: ignore[union-attr]
    assert parsed == value and type(parsed) is type(value)


def test_comment_inside_an_expression_moves_above_its_statement() -> None:
    text = "mas s {\n  flow {\n    x = f(a, # why\n      b)\n  }\n}\n"
    assert format_source(text) == "mas s {\n  flow {\n    # why\n    x = f(a, b)\n  }\n}\n"


def test_trailing_and_own_line_comments_keep_their_place() -> None:
    text = "mas s {\n  # own\n  input q: text   # trail\n}\n"
    assert format_source(text) == "mas s {\n  # own\n  input q: text  # trail\n}\n"


def test_format_program_ignores_the_original_layout() -> None:
    compact = parse('mas s{agent a{role "r"}flow{x=a()}}')
    spread = parse('mas s {\n\n agent a {\n role   "r"\n }\n flow {\n x =\n a( )\n }\n}')
    assert format_program(compact) == format_program(spread)


def test_format_source_raises_mas_error_on_bad_input() -> None:
    with pytest.raises(MasError) as raised:
        format_source("mas s { flow { x = } }", "bad.mas")
    assert raised.value.diagnostics[0].path == "bad.mas"

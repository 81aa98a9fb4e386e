"""Property tests of the front end on random valid specs (`tests/strategies.py`):
parse -> format -> parse is the identity (ignoring spans), formatting is idempotent and keeps
every comment, the generated specs pass the checker, and damaged or random input never
raises anything but `MasError`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from masdsl.ast import without_spans
from masdsl.checker import check
from masdsl.diagnostics import MasError
from masdsl.formatter import format_program, format_source
from masdsl.parser import parse
from tests.strategies import mutated_sources, programs

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=_HEALTH)
THOROUGH = settings(max_examples=300, deadline=None, suppress_health_check=_HEALTH)


def _comment_texts(text: str) -> list[str]:
    return [comment.text.rstrip() for comment in parse(text).comments]


def _round_trip(text: str, line_width: int = 100) -> None:
    program = parse(text)
    formatted = format_program(program, line_width)
    assert without_spans(parse(formatted)) == without_spans(program)
    assert format_source(formatted, line_width=line_width) == formatted
    assert _comment_texts(formatted) == _comment_texts(text)


@PROPERTY
@given(programs())
def test_format_round_trips_and_is_idempotent(text: str) -> None:
    _round_trip(text)


@PROPERTY
@given(programs(), st.integers(20, 120))
def test_wrapping_at_any_line_width_round_trips_and_is_idempotent(text: str,
                                                                  width: int) -> None:
    _round_trip(text, width)


@pytest.mark.slow
@THOROUGH
@given(programs())
def test_format_round_trips_thoroughly(text: str) -> None:
    _round_trip(text)


@PROPERTY
@given(programs())
def test_generated_programs_pass_the_checker(text: str) -> None:
    errors = [d for d in check(parse(text)) if d.is_error]
    assert errors == []


def _front_end(source: str | bytes) -> None:
    """Everything `masc check` and `masc fmt` do with a file; only MasError may escape."""
    try:
        program = parse(source)
    except MasError as error:
        assert error.diagnostics, "a MasError must carry diagnostics"
        return
    formatted = format_program(program)
    assert without_spans(parse(formatted)) == without_spans(program)
    check(program)


@PROPERTY
@given(mutated_sources())
def test_damaged_specs_raise_only_mas_error(source: str | bytes) -> None:
    _front_end(source)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_random_input_raises_only_mas_error(source: Any) -> None:
    _front_end(source)

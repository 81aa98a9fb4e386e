"""Rendering diagnostics: the exact text of the concise, full and summary forms."""

from __future__ import annotations

from masdsl.diagnostics import Severity, diagnostic
from masdsl.render import render_concise, render_diagnostics, render_full, render_summary
from masdsl.spans import Span

SOURCE = "mas s {\n  flow {\n    y = ensemble(x, n: 3)\n  }\n}\n"


def _at(text: str, needle: str, length: int | None = None) -> Span:
    start = text.index(needle)
    return Span.of_range(text, start, start + (len(needle) if length is None else length))


def test_concise() -> None:
    found = diagnostic("MAS203", _at(SOURCE, "x,", 1), "expected an agent, found 'x'",
                       path="spec.mas")
    assert render_concise(found) == "spec.mas:3:18: MAS203 expected an agent, found 'x'"


def test_full_with_carets_and_help() -> None:
    found = diagnostic("MAS203", _at(SOURCE, "ensemble"), "expected an agent",
                       help="declare it with `agent x { ... }`", path="spec.mas")
    assert render_full(found, SOURCE) == (
        "error[MAS203]: expected an agent\n"
        " --> spec.mas:3:9\n"
        "  |\n"
        "3 |     y = ensemble(x, n: 3)\n"
        "  |         ^^^^^^^^\n"
        "  = help: declare it with `agent x { ... }`"
    )


def test_full_warning_multiline_span_is_clipped_to_its_first_line() -> None:
    text = "\n" * 9 + "mas s {\n  flow {\n  }\n}\n"
    span = _at(text, "flow {\n  }")
    found = diagnostic("MAS105", span, "unused", path="a.mas")
    assert found.severity is Severity.WARNING
    assert render_full(found, text) == (
        "warning[MAS105]: unused\n"
        "  --> a.mas:11:3\n"
        "   |\n"
        "11 |   flow {\n"
        "   |   ^^^^^^"
    )


def test_full_point_span_at_end_of_input_and_tabs() -> None:
    text = "mas s {\n\tflow {"
    found = diagnostic("MAS004", Span.point(text, len(text)), "unexpected end of input")
    assert render_full(found, text) == (
        "error[MAS004]: unexpected end of input\n"
        " --> <string>:2:8\n"
        "  |\n"
        "2 |     flow {\n"
        "  |           ^"
    )


def test_full_without_source_has_no_snippet() -> None:
    found = diagnostic("MAS307", Span.point("", 0), "no flow", path="x.mas")
    assert render_full(found, None) == "error[MAS307]: no flow\n --> x.mas:1:1"


def test_summary_counts() -> None:
    error = diagnostic("MAS101", Span.point("", 0), "e")
    warning = diagnostic("MAS105", Span.point("", 0), "w")
    assert render_summary([]) == "All checks passed."
    assert render_summary([error]) == "Found 1 error."
    assert render_summary([error, error]) == "Found 2 errors."
    assert render_summary([error, error, warning]) == "Found 2 errors and 1 warning."
    assert render_summary([warning, warning]) == "Found 2 warnings."


def test_render_diagnostics_joins_blocks_and_summary() -> None:
    first = diagnostic("MAS101", _at(SOURCE, "x,", 1), "undefined name 'x'", path="s.mas")
    second = diagnostic("MAS105", _at(SOURCE, "y"), "unused", path="s.mas")
    concise = render_diagnostics([first, second], {"s.mas": SOURCE}, "concise")
    assert concise == ("s.mas:3:18: MAS101 undefined name 'x'\ns.mas:3:5: MAS105 unused\n"
                       "Found 1 error and 1 warning.\n")
    full = render_diagnostics([first], {"s.mas": SOURCE}, "full")
    assert full.endswith("^\n\nFound 1 error.\n")
    assert render_diagnostics([], {}, "full") == "All checks passed.\n"

"""Pure, deterministic rendering of diagnostics as text (what `masc check` prints).

Two formats, after ruff and rustc:

concise (one line each)::

    spec.mas:12:5: MAS203 expected an agent, found the value 'x'

full (a header, the location, the source line with carets under the span, a help line)::

    error[MAS203]: expected an agent, found the value 'x'
      --> spec.mas:12:5
       |
    12 |     y = ensemble(x, n: 3)
       |                  ^
       = help: pass an agent declared with `agent x { ... }`

A span over several lines is underlined from its start to the end of its first line. Tabs
are shown as four spaces (the carets are shifted to match). Nothing here reads files or
prints: callers pass the source text and write the returned string.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from masdsl.diagnostics import Diagnostic, Severity

OutputFormat = Literal["concise", "full"]
TAB = "    "


def render_concise(diagnostic: Diagnostic) -> str:
    """`path:line:col: CODE message`."""
    span = diagnostic.span
    return f"{diagnostic.path}:{span.line}:{span.column}: {diagnostic.code} {diagnostic.message}"


def render_full(diagnostic: Diagnostic, source: str | None) -> str:
    """The multi-line form; without `source` the snippet is left out."""
    span = diagnostic.span
    header = f"{diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}"
    lines = [header]
    gutter = " " * len(str(span.line))
    lines.append(f"{gutter}--> {diagnostic.path}:{span.line}:{span.column}")
    if source is not None:
        source_line = _source_line(source, span.line)
        shown = source_line.replace("\t", TAB)
        start = len(source_line[: span.column - 1].replace("\t", TAB))
        if span.end_line == span.line:
            end = len(source_line[: span.end_column - 1].replace("\t", TAB))
        else:
            end = len(shown)
        width = max(1, end - start)
        lines.append(f"{gutter} |")
        lines.append(f"{span.line} | {shown}".rstrip())
        lines.append(f"{gutter} | " + " " * start + "^" * width)
    if diagnostic.help:
        lines.append(f"{gutter} = help: {diagnostic.help}")
    return "\n".join(lines)


def _source_line(source: str, line: int) -> str:
    """Line `line` (1-based) of `source` without its line ending; '' past the end."""
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1].rstrip("\r")
    return ""


def render_summary(diagnostics: Iterable[Diagnostic]) -> str:
    """`Found 2 errors and 1 warning.`, `Found 1 error.`, `Found 3 warnings.` or
    `All checks passed.`"""
    found = list(diagnostics)
    errors = sum(1 for d in found if d.severity is Severity.ERROR)
    warnings = len(found) - errors
    if not found:
        return "All checks passed."
    parts = []
    if errors or not warnings:
        parts.append(_count(errors, "error"))
    if warnings:
        parts.append(_count(warnings, "warning"))
    return "Found " + " and ".join(parts) + "."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def render_diagnostics(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str],
                       output_format: OutputFormat = "full") -> str:
    """All diagnostics in the given order, then the summary line; `sources` maps each path
    to its text (for the snippets of the full format). Ends with a newline."""
    found = list(diagnostics)
    if output_format == "concise":
        blocks = [render_concise(d) for d in found]
        body = "\n".join(blocks)
    else:
        blocks = [render_full(d, sources.get(d.path)) for d in found]
        body = "\n\n".join(blocks)
    summary = render_summary(found)
    if not body:
        return summary + "\n"
    separator = "\n" if output_format == "concise" else "\n\n"
    return body + separator + summary + "\n"

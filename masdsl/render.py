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
are shown as four spaces, and control and format characters (an ANSI escape, a lone CR, a
zero-width space), in the snippet as in messages, as escapes like `\x1b`, so a spec can
never drive the terminal; the carets are shifted to match. Lines end at LF or CRLF, as spans
count them. The source is split into lines once per file, not once per diagnostic.
Nothing here reads files or prints: callers pass the source text and write the returned string.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from masdsl.diagnostics import Diagnostic, Severity

OutputFormat = Literal["concise", "full"]
TAB = "    "
_ESCAPED_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")


def visible(text: str, keep_newlines: bool = False) -> str:
    """`text` safe for a terminal: tabs as spaces, control/format characters escaped (line
    feeds kept when `keep_newlines`: a help text may span lines)."""
    if text.isprintable() and "\t" not in text:
        return text
    shown = []
    for character in text:
        if character == "\t":
            shown.append(TAB)
        elif character == "\n" and keep_newlines:
            shown.append(character)
        elif unicodedata.category(character) in _ESCAPED_CATEGORIES:
            code = ord(character)
            shown.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            shown.append(character)
    return "".join(shown)


def source_lines(source: str) -> list[str]:
    """The lines of `source` as spans count them: LF or CRLF ends a line (a lone CR stays in
    its line, shown escaped); a leading BOM is shown as the space the parser reads."""
    text = " " + source[1:] if source.startswith("\ufeff") else source
    return [line.removesuffix("\r") for line in text.split("\n")]


def render_concise(diagnostic: Diagnostic) -> str:
    """`path:line:col: CODE message`."""
    span = diagnostic.span
    return (f"{visible(diagnostic.path)}:{span.line}:{span.column}: {diagnostic.code} "
            f"{visible(diagnostic.message, keep_newlines=True)}")


def render_full(diagnostic: Diagnostic, source: str | None) -> str:
    """The multi-line form; without `source` the snippet is left out."""
    return _render_full(diagnostic, None if source is None else source_lines(source))


def _render_full(diagnostic: Diagnostic, lines: Sequence[str] | None) -> str:
    span = diagnostic.span
    message = visible(diagnostic.message, keep_newlines=True)
    header = f"{diagnostic.severity.value}[{diagnostic.code}]: {message}"
    out = [header]
    gutter = " " * len(str(span.line))
    out.append(f"{gutter}--> {visible(diagnostic.path)}:{span.line}:{span.column}")
    if lines is not None:
        source_line = lines[span.line - 1] if 1 <= span.line <= len(lines) else ""
        shown = visible(source_line)
        start = len(visible(source_line[: span.column - 1]))
        if span.end_line == span.line:
            end = len(visible(source_line[: span.end_column - 1]))
        else:
            end = len(shown)
        width = max(1, end - start)
        out.append(f"{gutter} |")
        out.append(f"{span.line} | {shown}".rstrip())
        out.append(f"{gutter} | " + " " * start + "^" * width)
    if diagnostic.help:
        out.append(f"{gutter} = help: {visible(diagnostic.help, keep_newlines=True)}")
    return "\n".join(out)


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
        lines = {path: source_lines(text) for path, text in sources.items()}
        blocks = [_render_full(d, lines.get(d.path)) for d in found]
        body = "\n\n".join(blocks)
    summary = render_summary(found)
    if not body:
        return summary + "\n"
    separator = "\n" if output_format == "concise" else "\n\n"
    return body + separator + summary + "\n"

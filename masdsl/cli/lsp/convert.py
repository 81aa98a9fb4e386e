"""Our values as LSP values: spans as ranges, diagnostics as LSP diagnostics.

The diagnostics keep `masc check`'s code, span and message; the help line follows the
message (as `masc check --output-format full` prints it) and is also kept in `data`, where
code actions read it back.
"""

from __future__ import annotations

from lsprotocol import types

from masdsl.cli.lsp.positions import LineIndex
from masdsl.diagnostics import Diagnostic, Severity

SOURCE = "masc"
_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error,
             Severity.WARNING: types.DiagnosticSeverity.Warning}


def to_range(lines: LineIndex, start: int, end: int) -> types.Range:
    """The LSP range of the character offsets `[start, end)`."""
    first, last = lines.position(start), lines.position(end)
    return types.Range(start=types.Position(line=first[0], character=first[1]),
                       end=types.Position(line=last[0], character=last[1]))


def offset_of(lines: LineIndex, position: types.Position) -> int:
    return lines.offset(position.line, position.character)


def to_diagnostic(lines: LineIndex, found: Diagnostic) -> types.Diagnostic:
    """One of our diagnostics as an LSP diagnostic."""
    message = found.message + (f"\nhelp: {found.help}" if found.help else "")
    return types.Diagnostic(range=to_range(lines, found.span.start, found.span.end),
                            message=message, severity=_SEVERITY[found.severity],
                            code=found.code, source=SOURCE,
                            data={"help": found.help} if found.help else None)

"""Helpers lowering shares: located `LoweringError`s and the domains of tested values.

Types and agent settings are not resolved here: lowering reads them from the checker's
`Analysis`. Lowering runs only on programs the front end accepted, so this module does not
re-check the spec; it raises `LoweringError` (a `MasError`) with a located diagnostic if it
meets something the front end should have rejected, never a bare exception.
"""

from __future__ import annotations

from masdsl import ast
from masdsl.diagnostics import MasError, diagnostic
from masdsl.spans import Span
from masdsl.types import BOOL, Enum, Type


class LoweringError(MasError):
    """A spec that reached lowering although the front end should have rejected it."""


def fail(program: ast.Program, span: Span, code: str, message: str) -> LoweringError:
    return LoweringError([diagnostic(code, span, message, path=program.path)])


def domain_of(subject: Type) -> tuple[str, ...]:
    """The values a condition subject can take, as strings: enum members or true/false."""
    if isinstance(subject, Enum):
        return subject.members
    if subject == BOOL:
        return ("true", "false")
    return ()

"""Helpers lowering shares: located `LoweringError`s and the domains of condition subjects.

Types and agent settings are not resolved here: lowering reads them from the checker's
`Analysis`. Lowering runs only on programs the front end accepted, so this module does not
re-check the spec; it raises `LoweringError` (a `MasError`) with a located diagnostic if it
meets something the front end should have rejected, never a bare exception.
"""

from __future__ import annotations

from masdsl import ast
from masdsl.diagnostics import MasError, diagnostic
from masdsl.spans import Span
from masdsl.types import BOOL, Enum, Primitive, Type


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


def condition_values(program: ast.Program, condition: ast.Cond, subject: Type) -> tuple[str, ...]:
    """The subject values for which `condition` holds, in domain order."""
    domain = domain_of(subject)
    if not domain or (isinstance(subject, Primitive) and condition.op in ("eq", "ne")
                      and condition.value is not None
                      and condition.value.value not in domain):
        raise fail(program, condition.span, "MAS202",
                   f"'{condition.subject.value}' cannot be tested by this condition")
    if condition.op == "is":
        return ("true",)
    if condition.op == "not":
        return ("false",)
    assert condition.value is not None
    member = condition.value.value
    if member not in domain:
        raise fail(program, condition.value.span, "MAS106", f"'{member}' is not a member")
    if condition.op == "eq":
        return (member,)
    return tuple(value for value in domain if value != member)

"""Syntax the language does not have, recognised where the parser stops (MAS006).

A new user writes what other languages allow: `f(x)[0]`, `"Hi " + name`, `role persona`
(indexing a bound name, `xs[0]`, is in the language; indexing anything else is not).
Each would otherwise be a bare "unexpected token"; here the parser's stopping point is
matched against those habits, and the diagnostic says what the language has instead. Only
the token the parser stopped at and the text just before it are looked at, so a real typo
elsewhere keeps its ordinary MAS002/MAS003 diagnostic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VALUE_END = re.compile(r"[A-Za-z0-9_)\]\"]\s*$")
_CONDITION_LINE = re.compile(r"(?:^|[{}])\s*(?:if\b|edge\b[^{}]*\bwhen\b)[^{}]*$"
                             r"|\buntil\b[^{}]*$")
_ROLE_BEFORE = re.compile(r"\brole\s*$")
_ROLE_ON_LINE = re.compile(r"\brole\s+\"")
_OPERATORS = "+-*/%"
_TYPE_POSITION = re.compile(r"(\b(input|output)\s+\w+\s*:|\btype\s+\w+\s*=|->)"
                            r"\s*[A-Za-z_]\w*\s*$")


@dataclass(frozen=True)
class Unsupported:
    """Where the unsupported syntax is (`start`, `end` offsets) and what to say."""

    start: int
    end: int
    message: str
    help: str


def unsupported_syntax(text: str, offset: int, token: str | None) -> Unsupported | None:
    """The unsupported construct at `offset`, where the parser stopped on `token` (the
    token's text, or None for a character no token starts with), or None."""
    before = text[max(0, offset - 200):offset]
    line_before = before.rsplit("\n", 1)[-1]
    char = text[offset] if offset < len(text) else ""
    if _ROLE_BEFORE.search(before) and token is not None and not token.startswith('"'):
        return Unsupported(offset, offset + len(token),
                           "a role is a fixed string: the language has no dynamic roles",
                           'write the role in quotes, e.g. role "You are a careful solver."; '
                           "pass what varies as a labelled input instead: agent(q, persona: p)")
    if char == "[" and _TYPE_POSITION.search(line_before):
        return Unsupported(offset, offset + 1, "a list type is written list[T], not T[]",
                           "write e.g. input drafts: list[text]")
    if char == "[" and _CONDITION_LINE.search(line_before):
        return Unsupported(offset, offset + 1, "a condition cannot index a list",
                           "bind the item first (first = xs[0]) and test the name; "
                           "conditions can test len(xs), empty(xs) and all_equal(xs)")
    if char == "[" and _VALUE_END.search(before):
        return Unsupported(offset, offset + 1, "only a bound name can be indexed, by a whole "
                           "number or a bound number: xs[0], xs[-1], xs[k]",
                           "bind the value to a name first (drafts = ensemble(...)), then "
                           "index the name")
    if char in _OPERATORS and char and _VALUE_END.search(before):
        if _ROLE_ON_LINE.search(line_before):
            return Unsupported(offset, offset + 1, "a role is a fixed string: the language "
                               "has no dynamic roles or string concatenation",
                               "write the whole role in one string; pass what varies as a "
                               "labelled input: agent(q, persona: p)")
        return Unsupported(offset, offset + 1, f"the language has no operator `{char}` "
                           "(no arithmetic or concatenation)",
                           "give the values to an agent as separate inputs: "
                           "agent(a, b, note: c); a `python` tool can compute")
    return None

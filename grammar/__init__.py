"""The masdsl grammar file and a tiny cached loader.

The `.lark` file beside this module is the single source of truth for the parser and for
grammar-constrained decoding. Nothing is built at import time: `parser()` builds the LALR
parser on first use and caches it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lark import Lark

GRAMMAR_FILE = "masdsl.lark"


@cache
def grammar_text() -> str:
    """Return the shipped grammar file's text, exactly as decoders receive it."""
    return resources.files(__name__).joinpath(GRAMMAR_FILE).read_text(encoding="utf-8")


@cache
def parser() -> Lark:
    """Build (once) the LALR parser with the contextual lexer and source positions."""
    from lark import Lark

    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        start="start",
    )


# Bounds on string literals in sampled designs: a role prompt rarely needs more, and an
# unbounded string is where a small model loops until it runs out of tokens.
DECODING_MAX_STRING = 200
DECODING_MAX_LONG_STRING = 600


@cache
def decoding_grammar_text() -> str:
    """The grammar designers are constrained with: the shipped grammar without comments and
    with string literals bounded in length. Every text it accepts is a spec the shipped
    grammar accepts (the same rules over a subset of the terminals' languages); comments only
    cost a sampled design tokens, and a model can loop in them or in a string forever."""
    lines = []
    for line in grammar_text().splitlines():
        if line.strip() == "%ignore COMMENT" or line.startswith("COMMENT:"):
            continue
        if line.startswith("STRING:"):
            bounded = line.replace(')*"""', f'){{0,{DECODING_MAX_LONG_STRING}}}"""').replace(
                ')*"/', f'){{0,{DECODING_MAX_STRING}}}"/')
            if bounded.count("{0,") != 2:
                raise ValueError("the STRING terminal changed shape; update decoding_grammar_text")
            line = bounded
        lines.append(line)
    return "\n".join(lines) + "\n"

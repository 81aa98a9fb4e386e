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

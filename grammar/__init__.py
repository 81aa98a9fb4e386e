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


@cache
def keywords() -> frozenset[str]:
    """The grammar's keywords (`mas`, `agent`, `flow`, ...): words a NAME cannot be."""
    import re

    return frozenset(re.findall(r'"([a-z_]+)"', grammar_text()))


# Bounds on string literals in sampled designs: a role prompt rarely needs more, and an
# unbounded string is where a small model loops until it runs out of tokens.
DECODING_MAX_STRING = 200
DECODING_MAX_LONG_STRING = 600


Field = tuple[str, str]  # (name, type) of a system input or output


@cache
def decoding_grammar_text(inputs: tuple[Field, ...] | None = None,
                          outputs: tuple[Field, ...] | None = None) -> str:
    """The grammar designers are constrained with, derived from the shipped one.

    Every text it accepts is a spec the shipped grammar accepts (the same rules, over a
    subset of the terminals' languages and of the item orders):
    - no comments, and string literals bounded in length: comments only cost a sampled design
      tokens, and a small model can loop in them or in a string until it runs out;
    - with `inputs`/`outputs` (the task's interface), the spec must begin with exactly those
      declarations and end with its flow, so a design cannot miss the interface or the flow.
    """
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
        if line.startswith("spec:") and inputs is not None and outputs is not None:
            if line != 'spec: "mas" NAME "{" item* "}"':
                raise ValueError("the spec rule changed shape; update decoding_grammar_text")
            declared = [f'"input" "{name}" ":" "{type_}"' for name, type_ in inputs]
            declared += [f'"output" "{name}" ":" "{type_}"' for name, type_ in outputs]
            line = ('spec: "mas" NAME "{" ' + " ".join(declared)
                    + ' (type_decl | agent_decl)* flow "}"')
        lines.append(line)
    return "\n".join(lines) + "\n"

"""`masc grammar`: print the shipped Lark grammar for editors and constrained decoders."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "grammar", help="print the Lark grammar (the one decoders are constrained with)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import grammar

    sys.stdout.write(grammar.grammar_text())
    return 0

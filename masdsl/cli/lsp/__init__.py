"""`masc lsp`: a Language Server Protocol server for `.mas` specs over stdio.

The server (pygls + lsprotocol, the `lsp` extra) lives in this package's modules, which
only this command imports: `masc check` and the other commands never load pygls. Features:
diagnostics as you type (`masc check`'s), hover (types, agent settings, worst-case cost),
definition, references, rename, completion, formatting, document symbols, semantic tokens
and quick fixes. Editors start it as `masc lsp` (see editors/vscode/ and the README).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "lsp", help="run the language server (LSP over stdio) for editors",
        description="Run the masdsl language server on standard input and output. Editors "
        "start it; it is not meant to be typed at.")
    parser.add_argument("--stdio", action="store_true",
                        help="accepted for editors that pass it (stdio is the only transport)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from masdsl.cli.lsp.server import build_server
    except ImportError as error:
        print(f"masc: the language server needs the `lsp` extra "
              f"(pip install 'masdsl[lsp]'): {error}", file=sys.stderr)
        return 2
    from masdsl.cli import _version

    build_server(_version()).start_io()
    return 0

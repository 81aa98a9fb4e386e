"""`masc check FILE...`: parse and check specs, print diagnostics and a summary.

Exit 0 when no file has an error (warnings allowed), 1 when any has, 2 when a file cannot be
read. Only the language core is imported (no networkx, torch or engines), so the command
starts fast; `benchmarks/parse.py` measures it.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from masdsl.cli._files import ReadFailure, display_text, read_source


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check", help="parse and check specs (names, types, bounds, limits)",
        description="Parse and check .mas specs and print their diagnostics.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="spec files; - reads stdin")
    parser.add_argument("--output-format", choices=("concise", "full"), default="full",
                        help="one line per diagnostic, or with the source line (default)")
    parser.set_defaults(run=run)


def unrolled_size(program: Any) -> list[Any]:
    """MAS410 when unrolling the spec could make too large an IR (the compiler would refuse
    it); `compiler.cost` is a pure AST walk, so `check` stays fast and networkx-free."""
    from compiler.cost import cost_diagnostics, estimate

    return cost_diagnostics(program, estimate(program))


def run(args: argparse.Namespace) -> int:
    from masdsl.checker import check
    from masdsl.diagnostics import Diagnostic, MasError, sort_diagnostics
    from masdsl.parser import decode_source, parse
    from masdsl.render import render_diagnostics

    found: list[Diagnostic] = []
    sources: dict[str, str] = {}
    unreadable = False
    for name in args.files:
        try:
            source = read_source(name)
        except ReadFailure as failure:
            print(failure, file=sys.stderr)
            unreadable = True
            continue
        sources[source.path] = display_text(source.data)
        try:
            program = parse(decode_source(source.data, source.path), source.path)
        except MasError as error:
            found.extend(error.diagnostics)
            continue
        checked = check(program)
        found.extend(checked)
        if not any(item.is_error for item in checked):
            found.extend(unrolled_size(program))
    found = sort_diagnostics(found)
    if found or not unreadable:  # never "All checks passed." when a file was not checked
        sys.stdout.write(render_diagnostics(found, sources, args.output_format))
    if unreadable:
        return 2
    return 1 if any(d.is_error for d in found) else 0

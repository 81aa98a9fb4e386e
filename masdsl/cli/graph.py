"""`masc graph FILE --format dot|mermaid|svg|png [-o OUT]`: draw a spec's compiled IR.

DOT and Mermaid are produced directly; SVG and PNG go through Graphviz `dot`, and a clear
message (exit 2) says so when it is not installed. Diagnostics go to standard error; a spec
with errors exits 1 and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from masdsl.cli.compile import EXIT_ERROR, EXIT_OK, add_compile_arguments, compile_file

FORMATS = ("dot", "mermaid", "svg", "png")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "graph", help="draw a spec's compiled graph (DOT, Mermaid, SVG, PNG)",
        description="Compile a .mas spec and draw its IR.")
    add_compile_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="dot",
                        help="dot (default), mermaid, or svg/png through Graphviz")
    parser.add_argument("-o", "--output", metavar="OUT", help="write the drawing here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from compiler.export_dot import GraphvizMissing, render, to_dot
    from compiler.export_mermaid import to_mermaid
    from masdsl.cli.compile import write_output

    compiled = compile_file(args)
    if isinstance(compiled, int):
        return compiled
    if args.format == "mermaid":
        data = to_mermaid(compiled.ir).encode("utf-8")
    else:
        data = to_dot(compiled.ir).encode("utf-8")
        if args.format in ("svg", "png"):
            try:
                data = render(data.decode("utf-8"), args.format)
            except GraphvizMissing as missing:
                print(f"masc: cannot draw {args.format}: {missing}", file=sys.stderr)
                return EXIT_ERROR
            except (RuntimeError, OSError) as error:
                print(f"masc: cannot draw {args.format}: {error}", file=sys.stderr)
                return EXIT_ERROR
    if args.output is not None:
        return write_output(args.output, data)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return EXIT_OK

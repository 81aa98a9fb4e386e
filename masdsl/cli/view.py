"""`masc view SPEC [--trace TRACE.jsonl] -o report.html`: the run viewer.

Writes one self-contained, offline HTML file: the compiled graph (drawn beforehand with
Graphviz `dot` when installed, else a built-in layout), each node's settings and worst-case
cost, and with a trace every turn of every node (messages, reply, parsed value or typed
failure, tool calls, tokens, latency), the outputs and, when the trace records one, the
reward. `masc run --view report.html` writes the same page for the run it makes. Exit 1
for a spec with errors, 2 for an unreadable trace or an unwritable output.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from masdsl.cli.compile import EXIT_ERROR, add_compile_arguments


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "view", help="write an HTML view of a spec's graph and cost, and of a run's turns",
        description="Write one self-contained HTML file showing the compiled graph, every "
        "node's settings and worst-case cost and, with --trace, every turn of a run.")
    add_compile_arguments(parser)
    parser.add_argument("--trace", metavar="TRACE.jsonl",
                        help="a trace written by `masc run --trace`")
    parser.add_argument("-o", "--output", metavar="REPORT.html", required=True,
                        help="the HTML file to write")
    parser.add_argument("--no-dot", action="store_true",
                        help="draw the graph with the built-in layout even if dot is installed")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from masdsl.cli.compile import compile_file, write_output
    from masdsl.cli.viewer import write_report_html
    from masdsl.cli.viewer.report import TraceError, read_records

    compiled = compile_file(args)
    if isinstance(compiled, int):
        return compiled
    turns: list[Any] = []
    executions: list[Any] = []
    rewards: dict[str, float] = {}
    if args.trace:
        try:
            turns, executions, rewards = read_records(args.trace)
        except TraceError as error:
            print(f"masc: {error}", file=sys.stderr)
            return EXIT_ERROR
        known = {node.id for node in compiled.ir.nodes()}
        strangers = sorted({turn.node_id for turn in turns} - known)
        if strangers:
            print(f"masc: {args.trace} is not a trace of {args.file}: it has turns of "
                  f"node(s) {', '.join(strangers[:3])} that the spec does not have",
                  file=sys.stderr)
            return EXIT_ERROR
    page = write_report_html(compiled, spec_source(compiled), turns, executions, rewards,
                             use_dot=not args.no_dot)
    status = write_output(args.output, page.encode("utf-8"))
    if status == 0:
        print(f"wrote {args.output} ({len(turns)} turn(s), {len(executions)} execution(s))",
              file=sys.stderr)
    return status


def spec_source(compiled: Any) -> str:
    """The spec's text as the compiler saw it (for the page's source panel)."""
    from masdsl.formatter import format_program

    try:
        with open(compiled.program.path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return format_program(compiled.program)

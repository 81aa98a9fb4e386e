"""`masc explain FILE NODE`: print the exact messages an agent node of a spec receives.

NODE is an IR node id (as `masc compile` prints it, with or without its `n00004.` prefix),
a node label (`solver[1]`, `critic critique 2`) or an agent name (every node running that
agent). Each matching node gets its system and user messages, with a placeholder naming the
source of every run-time value, and notes on its guard, tool turns, format retries and
default. Exit 1 when the spec has errors or NODE matches no agent node (the known ones are
listed), 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from masdsl.cli.compile import EXIT_DIAGNOSTICS, EXIT_OK, compile_file


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "explain", help="print the exact messages an agent node receives",
        description="Compile a .mas spec and print, for each agent node NODE names, the "
        "system and user messages of its first call (run-time values as placeholders).")
    parser.add_argument("file", metavar="FILE", help="the spec; - reads stdin")
    parser.add_argument("node", metavar="NODE",
                        help="an IR node id, a node label or an agent name")
    parser.add_argument("--output-format", choices=("concise", "full"), default="full",
                        help="how diagnostics are shown (default: full)")
    parser.set_defaults(run=run, max_llm_calls=None, max_generated_tokens=None)


def run(args: argparse.Namespace) -> int:
    from runtime.explain import explain, matching_nodes
    from runtime.tools.binding import tools_for_display

    compiled = compile_file(args)
    if isinstance(compiled, int):
        return compiled
    nodes = matching_nodes(compiled.ir, args.node)
    if not nodes:
        known = sorted({node.agent.name for node in compiled.ir.agent_nodes()}
                       | {node.label for node in compiled.ir.agent_nodes()})
        print(f"masc: no agent node matches '{args.node}'; try one of: {', '.join(known)}",
              file=sys.stderr)
        return EXIT_DIAGNOSTICS
    tools = tools_for_display(compiled.ir)
    sys.stdout.write("\n".join(explain(compiled.ir, node, tools) for node in nodes))
    return EXIT_OK

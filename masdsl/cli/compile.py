"""`masc compile FILE [-o OUT] [--stats]`: compile a spec to its IR as node-link JSON.

Without `-o` the JSON goes to standard output (unless `--stats` is given, which prints the
static analysis instead); diagnostics always go to standard error. A spec with errors exits
1 with the front end's diagnostics and writes nothing; the output file is replaced
atomically, so it is never half-written. An unreadable input or unwritable output exits 2.
`--max-llm-calls` / `--max-generated-tokens` state limits in worst-case terms
(MAS408 / MAS409).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compiler.api import CompiledSpec

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_ERROR = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compile", help="compile a spec to its IR (node-link JSON) and analyse its cost",
        description="Compile a .mas spec: check it, lower it to the IR, run the passes, and "
        "write the IR as JSON (or print its worst-case statistics with --stats).")
    add_compile_arguments(parser)
    parser.add_argument("-o", "--output", metavar="OUT", help="write the JSON here")
    parser.add_argument("--pretty", action="store_true",
                        help="indent the JSON for people (default: compact, one line)")
    parser.add_argument("--stats", action="store_true",
                        help="print worst-case LLM calls, tokens, critical path, width")
    parser.set_defaults(run=run)


def add_compile_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments `compile` and `graph` share."""
    parser.add_argument("file", metavar="FILE", help="the spec; - reads stdin")
    parser.add_argument("--max-llm-calls", type=int, metavar="N",
                        help="reject the spec if it can make more than N LLM calls (MAS408)")
    parser.add_argument("--max-generated-tokens", type=int, metavar="N",
                        help="reject the spec if it can generate more than N tokens (MAS409)")
    parser.add_argument("--max-unrolled-nodes", type=int, metavar="N", default=20_000,
                        help="reject the spec, before unrolling, if its loops, graphs and "
                             "fan-outs could make more than N IR nodes (MAS410; default "
                             "20000; 0 lifts the limit)")
    parser.add_argument("--output-format", choices=("concise", "full"), default="full",
                        help="how diagnostics are shown (default: full)")


def _unrolled_limit(args: argparse.Namespace) -> int | None:
    """`--max-unrolled-nodes` (0: no limit); commands without the flag get the default."""
    from compiler.cost import DEFAULT_MAX_UNROLLED_NODES

    limit = getattr(args, "max_unrolled_nodes", DEFAULT_MAX_UNROLLED_NODES)
    return int(limit) if limit else None


def compile_file(args: argparse.Namespace) -> CompiledSpec | int:
    """Read and compile `args.file`; print diagnostics to stderr. Returns the compiled spec,
    or the exit code when it could not be read (2) or has errors (1)."""
    from compiler.api import compile as compile_spec
    from masdsl.cli._files import ReadFailure, display_text, read_source
    from masdsl.diagnostics import MasError
    from masdsl.render import render_diagnostics

    try:
        source = read_source(args.file)
    except ReadFailure as failure:
        print(failure, file=sys.stderr)
        return EXIT_ERROR
    sources = {source.path: display_text(source.data)}
    try:
        compiled = compile_spec(source.data, path=source.path,
                                max_llm_calls=args.max_llm_calls,
                                max_generated_tokens=args.max_generated_tokens,
                                max_unrolled_nodes=_unrolled_limit(args))
    except MasError as error:
        sys.stderr.write(render_diagnostics(error.diagnostics, sources, args.output_format))
        return EXIT_DIAGNOSTICS
    if compiled.diagnostics:
        sys.stderr.write(render_diagnostics(list(compiled.diagnostics), sources,
                                            args.output_format))
    return compiled


def write_output(path: str, data: bytes) -> int:
    """Write `data` to `path` atomically (a temporary file in the same folder, then a
    rename); on failure print `masc: cannot write PATH: reason` and return 2."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    except OSError as error:
        print(f"masc: cannot write {path}: {error.strerror or error}", file=sys.stderr)
        return EXIT_ERROR
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        print(f"masc: cannot write {path}: {error.strerror or error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    compiled = compile_file(args)
    if isinstance(compiled, int):
        return compiled
    text = compiled.to_json(2 if args.pretty else None)
    if args.output is not None:
        status = write_output(args.output, text.encode("utf-8"))
        if status != EXIT_OK:
            return status
    if args.stats:
        sys.stdout.write(compiled.stats.render())
    elif args.output is None:
        sys.stdout.write(text)
    return EXIT_OK

"""`masc`: the command-line front end.

Each subcommand lives in its own module (`masdsl/cli/<name>.py`) exposing
`register(subparsers)` and `run(args) -> int`; heavy libraries are imported inside `run`, so
`masc check` starts fast. Exit codes: 0 clean, 1 diagnostics found (or `fmt --check` would
change a file), 2 usage, I/O or internal errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommand modules, in the order `masc --help` lists them.
COMMANDS: tuple[str, ...] = ("check", "fmt", "compile", "graph", "explain", "run", "view",
                             "design", "bench", "train", "grammar", "lsp")

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_ERROR = 0, 1, 2


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("masdsl")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. With `only`, just that subcommand's module is imported and
    registered (what `main` does when the command is known: `masc check` never imports the
    modules of `run` or `train`); otherwise every subcommand, for `masc --help`."""
    parser = argparse.ArgumentParser(
        prog="masc", description="The masdsl compiler: check, format, compile, run and train "
        "multi-agent LLM systems written in .mas specs.")
    parser.add_argument("--version", action="version", version=f"masc {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only in COMMANDS else COMMANDS:
        module = importlib.import_module(f"masdsl.cli.{name.replace('-', '_')}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `masc` with `argv` (default: the process's arguments) and return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in arguments if not arg.startswith("-")), None)
    parser = build_parser(command)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit_:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        code: int = args.run(args)
        return code
    except KeyboardInterrupt:
        print("masc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as error:  # the last line of defence: never a traceback for a user
        if getattr(error, "setup_error", False):  # a machine problem the message explains
            print(f"masc: error: {error}", file=sys.stderr)
            return EXIT_ERROR
        print(f"masc: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        print("masc: please report this with the command you ran", file=sys.stderr)
        return EXIT_ERROR


def console() -> None:  # pragma: no cover - the console-script entry point
    sys.exit(main())

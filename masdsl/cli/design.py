"""`masc design "question"`: ask a designer model for a `.mas` spec and print it.

Sampling is typed by default (staged grammars that know what is declared, so every design
type-checks); `--decoding grammar` uses the shipped grammar alone, `--decoding free` nothing. Each
design is compiled and checked against the interface (`--input`/`--output`, default
`question: text` -> `answer: number`); its diagnostics go to stderr. Exit 0 when every
design compiles, 1 otherwise, 2 for usage and engine errors.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from masdsl.cli.compile import EXIT_DIAGNOSTICS, EXIT_ERROR, EXIT_OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "design", help="have a designer model write a spec for a question",
        description="Sample designs (typed decoding by default), compile them, print them.")
    parser.add_argument("question", help="the question the system must answer")
    parser.add_argument("--engine", default="llamacpp", help="engine name (default llamacpp)")
    parser.add_argument("--model", help="model path, directory, or name for the engine")
    parser.add_argument("--samples", type=int, default=1, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--decoding", choices=("typed", "grammar", "free"), default="typed",
                        help="typed: in stages whose grammars know the declarations, so every "
                        "design type-checks (default); grammar: the shipped grammar alone; "
                        "free: unconstrained (for comparison)")
    parser.add_argument("--input", action="append", default=[], metavar="NAME:TYPE",
                        help="the interface's inputs (default question:text)")
    parser.add_argument("--output", action="append", default=[], metavar="NAME:TYPE",
                        help="the interface's outputs (default answer:number)")
    parser.set_defaults(run=run)


def _fields(items: list[str], default: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    if not items:
        return default
    fields = []
    for item in items:
        name, sep, type_ = item.partition(":")
        if not sep or not name.strip() or not type_.strip():
            raise ValueError(f"expected NAME:TYPE, got {item!r}")
        fields.append((name.strip(), type_.strip()))
    return tuple(fields)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from benchmarks.systems import few_shot
    from masdsl.render import render_diagnostics
    from runtime.api import make_engine
    from runtime.designer import Interface, design

    if args.samples < 1:
        print("masc: --samples must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    try:
        default = Interface()
        interface = Interface(inputs=_fields(args.input, default.inputs),
                              outputs=_fields(args.output, default.outputs))
        engine = make_engine(args.engine, args.model)
    except (ValueError, FileNotFoundError) as error:
        print(f"masc: {error}", file=sys.stderr)
        return EXIT_ERROR

    async def sample() -> list[Any]:
        try:
            return await design(engine, args.question, interface=interface,
                                examples=few_shot(), decoding=args.decoding, samples=args.samples,
                                seed=args.seed, temperature=args.temperature,
                                max_tokens=args.max_tokens)
        finally:
            await engine.close()

    try:
        designs = asyncio.run(sample())
    except ValueError as error:
        print(f"masc: {error}", file=sys.stderr)
        return EXIT_ERROR
    for index, result in enumerate(designs):
        if len(designs) > 1:
            print(f"# design {index + 1} of {len(designs)}: "
                  f"{'compiles' if result.ok else 'does not compile'}")
        print(result.text.rstrip())
        if result.diagnostics:
            sys.stderr.write(render_diagnostics(list(result.diagnostics),
                                                {"<design>": result.text}, "concise"))
    compiled = sum(result.ok for result in designs)
    print(f"{compiled}/{len(designs)} design(s) compile", file=sys.stderr)
    return EXIT_OK if compiled == len(designs) else EXIT_DIAGNOSTICS

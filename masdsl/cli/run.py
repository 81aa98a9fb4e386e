"""`masc run SPEC --input name=value ...`: execute a spec on a real engine and print its outputs.

Inputs come from `--input name=value` (repeatable) or `--inputs file.jsonl` (one JSON object
per line: a batch, with a progress line on a terminal). `--samples N` runs each input set N
times. All executions share one event loop (or, with `--ray`, Ray worker actors), so their LLM
calls batch in the engine. `--trace out.jsonl` records every LLM call as it finishes, so an
interrupted run (Ctrl-C) keeps what completed. Exit 0 when every execution produced its
outputs, 1 when a spec has errors or an execution failed, 2 for usage and I/O errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from masdsl.cli.compile import EXIT_DIAGNOSTICS, EXIT_ERROR, EXIT_OK, add_compile_arguments


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run", help="execute a spec on an LLM engine and print its outputs",
        description="Execute a .mas spec. The default engine is the embedded SmolLM2-135M "
        "model on llama.cpp (CPU).")
    add_compile_arguments(parser)
    parser.add_argument("--input", "-i", action="append", default=[], metavar="NAME=VALUE",
                        help="a system input (repeatable); lists as JSON")
    parser.add_argument("--inputs", metavar="FILE.jsonl",
                        help="a batch: one JSON object of inputs per line")
    parser.add_argument("--engine", default="llamacpp",
                        help="llamacpp (default), transformers, openai, vllm, or a registered name")
    parser.add_argument("--model", help="model path, directory, or name for the engine")
    parser.add_argument("--base-url", metavar="URL",
                        help="with --engine openai: the server's API root, e.g. "
                             "http://127.0.0.1:8000/v1")
    parser.add_argument("--api-key-env", metavar="VAR",
                        help="with --engine openai: the environment variable holding the API "
                             "key (the key itself never goes on the command line)")
    parser.add_argument("--server-kind", choices=("openai", "vllm"),
                        help="with --engine openai: `vllm` passes the grammar as structured "
                             "output (default openai)")
    parser.add_argument("--samples", type=int, default=1, metavar="N",
                        help="executions per input set (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    parser.add_argument("--trace", metavar="OUT.jsonl", help="write every LLM call here")
    parser.add_argument("--view", metavar="REPORT.html",
                        help="also write the run viewer's HTML page for this run (masc view)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON record per execution")
    parser.add_argument("--mcp", action="append", default=[], metavar="'COMMAND ARGS'",
                        help="start this stdio MCP server for the run; its tools implement "
                             "the spec's declared tools of the same names (repeatable)")
    parser.add_argument("--concurrency", type=int, default=64, metavar="N",
                        help="executions in flight at once (default 64)")
    parser.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                        help="run on Ray worker actors (a local cluster, or ADDRESS)")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="Ray worker actors (with --ray; default 2)")
    parser.set_defaults(run=run)


MAX_INPUTS_BYTES = 64 * 1024 * 1024
MAX_EXECUTIONS = 1_000_000
MAX_JSON_NESTING = 64


def _nesting(line: str) -> int:
    """The deepest nesting of JSON arrays/objects in `line` (strings skipped), found before
    `json.loads` would recurse that deep."""
    if line.count("[") + line.count("{") <= MAX_JSON_NESTING:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for character in line:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def _engine_options(args: argparse.Namespace) -> dict[str, Any] | str:
    """Options for the engine from `--base-url`, `--api-key-env`, `--server-kind`, or an error
    message."""
    import os

    given = {"base_url": args.base_url, "api_key_env": args.api_key_env,
             "server_kind": args.server_kind}
    options = {key: value for key, value in given.items() if value is not None}
    if args.engine == "openai":
        if args.base_url is None or args.model is None:
            return ("--engine openai needs --base-url URL and --model NAME (and --api-key-env "
                    "VAR when the server wants a key)")
        if args.api_key_env is not None and not os.environ.get(args.api_key_env):
            return f"--api-key-env {args.api_key_env}: that environment variable is not set"
    elif options:
        flags = ", ".join("--" + key.replace("_", "-") for key in options)
        return f"{flags}: only for --engine openai"
    return options


def _read_batch(args: argparse.Namespace) -> list[dict[str, Any]] | str:
    """The input sets, or an error message."""
    from runtime.inputs import InputError, parse_assignments

    if args.inputs and args.input:
        return "give --input or --inputs, not both"
    if args.inputs:
        try:
            with open(args.inputs, "rb") as handle:
                data = handle.read(MAX_INPUTS_BYTES + 1)
            if len(data) > MAX_INPUTS_BYTES:
                return f"cannot read {args.inputs}: larger than {MAX_INPUTS_BYTES:,} bytes"
            lines = data.decode("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            return f"cannot read {args.inputs}: {error}"
        batch = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if _nesting(line) > MAX_JSON_NESTING:
                return f"{args.inputs}:{number}: JSON nested too deeply (more than " \
                    f"{MAX_JSON_NESTING} levels)"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                return f"{args.inputs}:{number}: not JSON: {error.msg}"
            if not isinstance(record, dict):
                return f"{args.inputs}:{number}: expected a JSON object of inputs"
            batch.append(record)
        return batch
    try:
        return [parse_assignments(args.input)]
    except InputError as error:
        return str(error)


class _Progress:
    """A one-line progress bar with ETA on a terminal; silent otherwise."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started = time.monotonic()
        self.enabled = total > 1 and sys.stderr.isatty()

    def step(self, *_: object) -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        filled = int(30 * self.done / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
                         f"{elapsed:5.1f}s eta {eta:5.1f}s")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    from masdsl.cli.compile import compile_file
    from runtime.inputs import InputError, coerce_inputs

    if args.samples < 1 or args.concurrency < 1 or args.workers < 1:
        print("masc: --samples, --concurrency and --workers must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    if args.samples > MAX_EXECUTIONS:
        print(f"masc: --samples {args.samples} is more than {MAX_EXECUTIONS:,} executions",
              file=sys.stderr)
        return EXIT_ERROR
    if args.mcp and args.ray:
        print("masc: --mcp cannot be combined with --ray (a server runs beside one process)",
              file=sys.stderr)
        return EXIT_ERROR
    engine_options = _engine_options(args)
    if isinstance(engine_options, str):
        print(f"masc: {engine_options}", file=sys.stderr)
        return EXIT_ERROR
    compiled = compile_file(args)
    if isinstance(compiled, int):
        return compiled
    batch = _read_batch(args)
    if isinstance(batch, str):
        print(f"masc: {batch}", file=sys.stderr)
        return EXIT_ERROR
    if len(batch) * args.samples > MAX_EXECUTIONS:
        print(f"masc: {len(batch)} input sets × {args.samples} samples is more than "
              f"{MAX_EXECUTIONS:,} executions", file=sys.stderr)
        return EXIT_ERROR
    try:
        typed = [coerce_inputs(item, compiled.ir.inputs, from_command_line=not args.inputs)
                 for item in batch]
    except InputError as error:
        print(f"masc: {error}", file=sys.stderr)
        return EXIT_ERROR
    from runtime.trace import TraceWriter

    try:
        writer = TraceWriter(args.trace) if args.trace else None
    except OSError as error:
        print(f"masc: cannot write {args.trace}: {error.strerror or error}", file=sys.stderr)
        return EXIT_ERROR
    progress = _Progress(len(typed) * args.samples)
    results: list[Any] = []
    started = time.monotonic()

    def done(result: Any) -> None:
        results.append(result)
        if writer is not None:
            writer.write(result.record)
        progress.step()

    try:
        if args.ray:
            from runtime.distributed import run_on_ray

            run_on_ray(compiled, typed, engine=args.engine, model=args.model,
                       engine_options=engine_options, samples=args.samples, seed=args.seed,
                       address=args.ray,
                       workers=args.workers, on_turn=writer.write if writer else None,
                       on_done=done)
        else:
            from runtime.api import make_engine
            from runtime.api import run as run_spec

            engine = make_engine(args.engine, args.model, **engine_options) \
                if engine_options else args.engine
            run_spec(compiled, typed, engine=engine, model=args.model, mcp=args.mcp,
                     samples=args.samples, seed=args.seed, concurrency=args.concurrency,
                     on_turn=writer.write if writer else None, on_done=done)
    except KeyboardInterrupt:
        print(f"\nmasc: interrupted; {len(results)} execution(s) finished"
              + (f", trace kept in {args.trace}" if args.trace else ""), file=sys.stderr)
        return 130
    except Exception as error:
        from runtime.engines.base import EngineError
        from runtime.tools.mcp_client import McpError

        if isinstance(error, EngineError | FileNotFoundError | ValueError | McpError):
            print(f"masc: {error}", file=sys.stderr)
            return EXIT_ERROR
        raise
    finally:
        if writer is not None:
            writer.close()
    results.sort(key=lambda result: result.record.execution_id)
    for result in results:
        record = result.record
        if args.json:
            print(json.dumps(record.model_dump(mode="json"), ensure_ascii=False, sort_keys=True))
            continue
        prefix = f"[{record.execution_id}] " if len(results) > 1 else ""
        for name, value in record.outputs.items():
            shown = value if isinstance(value, str) else json.dumps(value)
            print(f"{prefix}{name}: {shown}")
        for where, reason in record.failures.items():
            print(f"{prefix}failed {where}: {reason}", file=sys.stderr)
    if args.view and _write_view(args, compiled, results) != EXIT_OK:
        return EXIT_ERROR
    if not args.json:
        print(cost_summary(results, time.monotonic() - started), file=sys.stderr)
    return EXIT_OK if all(r.record.status == "ok" for r in results) else EXIT_DIAGNOSTICS


def cost_summary(results: list[Any], wall_s: float) -> str:
    """The line `masc run` ends with: executions, LLM calls, prompt and generated tokens,
    wall time."""
    calls = sum(result.record.llm_calls for result in results)
    prompt = sum(result.record.prompt_tokens for result in results)
    generated = sum(result.record.completion_tokens for result in results)
    return (f"cost: {len(results)} execution(s), {calls} LLM call(s), {prompt:,} prompt + "
            f"{generated:,} generated tokens, {wall_s:.1f} s wall")


def _write_view(args: argparse.Namespace, compiled: Any, results: list[Any]) -> int:
    """Write the viewer page of this run (`--view`)."""
    from masdsl.cli.compile import write_output
    from masdsl.cli.view import spec_source
    from masdsl.cli.viewer import write_report_html

    page = write_report_html(compiled, spec_source(compiled),
                             [turn for result in results for turn in result.turns],
                             [result.record for result in results])
    status = write_output(args.view, page.encode("utf-8"))
    if status == EXIT_OK:
        print(f"wrote {args.view}", file=sys.stderr)
    return status

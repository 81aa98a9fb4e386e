"""Language-server responsiveness: `python -m benchmarks.lsp [--lines N] [--keystrokes K]`.

A real `masc lsp` process is spoken to over JSON-RPC (the same client as the end-to-end
tests) with a generated, valid spec of about 2,000 lines (30 agents with long roles, 120
flow statements). Measured in one run:

- open: didOpen -> diagnostics published;
- keystroke: one incremental didChange (a character typed into a name in the flow, which
  makes it undefined, then the next character...) -> the diagnostics of that version,
  median and 95th percentile (goal: median under 100 ms, so diagnostics follow typing);
- hover (cost of a statement, compiles the spec once per version) and completion latency;
- in process: `Snapshot.build` alone (parse + check + symbol index), to show what the
  protocol adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

KEYSTROKE_GOAL_S = 0.1


def generated_spec(lines: int = 2000) -> str:
    """A valid spec of about `lines` lines: 30 agents whose roles fill most of it, and a
    flow of 120 statements (within the default limits of 32 agents and 256 nodes)."""
    agents, statements = 30, 120
    role_lines = 1
    while _spec(agents, statements, role_lines).count("\n") < lines:
        role_lines += 1
    return _spec(agents, statements, role_lines)


def _spec(agents: int, statements: int, role_lines: int) -> str:
    out = ["# A generated spec for the language-server benchmark.", "mas big {",
           "  input question: text", "  output answer: number",
           "  type Verdict = enum { approve, revise }", ""]
    for number in range(agents):
        role = "\n".join(f"Step {line}: read the question and the earlier drafts, then "
                         "improve the answer." for line in range(role_lines))
        out += [f"  agent solver{number} -> number {{", f'    role """{role}"""',
                "    temperature 0.5", "    max_tokens 256", "    retries 1", "  }", ""]
    out.append("  flow {")
    out += ["    # statement 0", "    draft0 = solver0(question)"]
    for number in range(1, statements):
        out.append(f"    # statement {number}")
        out.append(f"    draft{number} = solver{number % agents}(question, "
                   f"draft{number - 1})")
    out += [f"    answer = draft{statements - 1}", "  }", "}", ""]
    return "\n".join(out)


async def measure(lines: int, keystrokes: int) -> dict[str, Any]:
    from lsprotocol import types

    from masdsl.cli.lsp.client import LspSession, insert
    from masdsl.cli.lsp.document import Snapshot

    text = generated_spec(lines)
    uri = "file:///benchmark/big.mas"
    started = time.perf_counter()
    build = []
    for _ in range(5):
        started = time.perf_counter()
        Snapshot.build(uri, text)
        build.append(time.perf_counter() - started)
    async with LspSession() as session:
        started = time.perf_counter()
        opened = await session.open(uri, text)
        open_s = time.perf_counter() - started
        assert opened == [], opened
        target = text.split("\n").index("    # statement 60") + 1
        where = types.TextDocumentPositionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=target, character=6))
        hovers, completions = [], []
        for _ in range(6):  # the first hover of a version compiles the spec
            started = time.perf_counter()
            shown = await session.client.text_document_hover_async(types.HoverParams(
                text_document=where.text_document, position=where.position))
            hovers.append(time.perf_counter() - started)
            assert shown is not None and isinstance(shown.contents, types.MarkupContent)
            assert "worst case" in shown.contents.value
            started = time.perf_counter()
            await session.client.text_document_completion_async(types.CompletionParams(
                text_document=where.text_document, position=where.position))
            completions.append(time.perf_counter() - started)
        column = len("    draft60 = solver0(question, draft59")  # type after `draft59`
        typed = []
        for index in range(keystrokes):
            started = time.perf_counter()
            found = await session.change(uri, 2 + index,
                                         [insert(target, column + index, "x")])
            typed.append(time.perf_counter() - started)
            assert any(item.code == "MAS101" for item in found), found
    typed.sort()
    return {"lines": text.count("\n"), "open_s": open_s,
            "keystroke_median_s": statistics.median(typed),
            "keystroke_p95_s": typed[max(0, int(len(typed) * 0.95) - 1)],
            "keystrokes": keystrokes, "hover_first_s": hovers[0],
            "hover_median_s": statistics.median(hovers[1:]),
            "completion_median_s": statistics.median(completions),
            "in_process_build_s": min(build),
            "goal_keystroke_median_s": KEYSTROKE_GOAL_S}


def render(result: dict[str, Any]) -> str:
    ok = "met" if result["keystroke_median_s"] <= KEYSTROKE_GOAL_S else "missed"
    rows = [("spec lines", f"{result['lines']:,}"),
            ("open -> diagnostics", f"{result['open_s'] * 1000:.1f} ms"),
            (f"keystroke -> diagnostics, median of {result['keystrokes']}",
             f"{result['keystroke_median_s'] * 1000:.1f} ms (goal ≤ "
             f"{KEYSTROKE_GOAL_S * 1000:.0f} ms: {ok})"),
            ("keystroke -> diagnostics, p95", f"{result['keystroke_p95_s'] * 1000:.1f} ms"),
            ("first hover of a version (compiles the spec for its cost)",
             f"{result['hover_first_s'] * 1000:.1f} ms"),
            ("hover, later", f"{result['hover_median_s'] * 1000:.1f} ms"),
            ("completion", f"{result['completion_median_s'] * 1000:.1f} ms"),
            ("in process: parse + check + index", f"{result['in_process_build_s'] * 1000:.1f} ms")]
    return "| measure | value |\n|---|---:|\n" + "\n".join(
        f"| {name} | {value} |" for name, value in rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lsp",
                                     description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--keystrokes", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.lines, args.keystrokes))
    print(json.dumps(result, indent=2) if args.json else render(result), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The run viewer behind `masc view` and `masc run --view`: a compiled spec, its
worst-case cost and (with a trace) every turn, as one self-contained HTML file.

`report` gathers the data, `svg` draws the graph beforehand, `page` writes the HTML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compiler.api import CompiledSpec
    from runtime.trace import ExecutionRecord, TurnRecord


def write_report_html(compiled: CompiledSpec, source: str,
                      turns: list[TurnRecord] | None = None,
                      executions: list[ExecutionRecord] | None = None,
                      rewards: dict[str, float] | None = None, use_dot: bool = True) -> str:
    """The viewer page for a compiled spec and, optionally, the records of its runs."""
    from masdsl.cli.viewer.page import render_page
    from masdsl.cli.viewer.report import build_report
    from masdsl.cli.viewer.svg import graph_svg

    report: dict[str, Any] = build_report(compiled, source, turns or (), executions or (),
                                          rewards)
    svg, layout = graph_svg(compiled.ir, use_dot)
    return render_page(report, svg, layout)

"""The compiler's Python API: `compile(source_or_program) -> CompiledSpec`.

Source text is parsed, the front end checks it (names, types, bounds, limits), and only a
program without errors is lowered, run through the pass pipeline, validated and analysed.
A spec with errors raises `MasError` carrying every diagnostic (errors and warnings), so an
invalid program never reaches lowering. `masdsl.compile` forwards here (imported lazily:
imports run grammar -> masdsl -> compiler).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler.cost import DEFAULT_MAX_UNROLLED_NODES, cost_diagnostics, estimate
from compiler.dead_regions import DeadRegion, dead_regions
from compiler.ir import IR
from compiler.lower import ir_agents, lower
from compiler.passes import PASSES, Pass, run_passes
from compiler.stats import Stats, analyze, limit_diagnostics
from compiler.validate import validate_ir
from masdsl import ast
from masdsl.checker.analysis import Analysis
from masdsl.diagnostics import Diagnostic, MasError, sort_diagnostics
from masdsl.parser import parse


@dataclass(frozen=True)
class CompiledSpec:
    """A compiled spec: the optimised, validated IR; the warnings found on the way (front
    end and passes, in source order); the static statistics; and the source regions that
    cannot reach an output (`compiler.dead_regions`)."""

    program: ast.Program
    ir: IR
    stats: Stats
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    dead_regions: tuple[DeadRegion, ...] = field(default=())

    def to_json(self, indent: int | None = None) -> str:
        """The IR as sorted node-link JSON (see `compiler.export_json.to_json`)."""
        from compiler.export_json import to_json

        return to_json(self.ir, indent)


def front_end(program: ast.Program, limits: Any = None) -> Analysis:
    """The checker's analysis of a parsed program: diagnostics (names, types, bounds,
    limits), resolved types and agent settings, which lowering reads as they are."""
    from masdsl import checker

    return checker.analyze(program) if limits is None else checker.analyze(program,
                                                                           limits=limits)


def compile(source_or_program: str | bytes | ast.Program, *, path: str = "<string>",
            limits: Any = None, max_llm_calls: int | None = None,
            max_generated_tokens: int | None = None,
            max_unrolled_nodes: int | None = DEFAULT_MAX_UNROLLED_NODES,
            passes: Sequence[Pass] = PASSES) -> CompiledSpec:
    """Compile a spec (text, bytes or a parsed `Program`). Raises `MasError` with located
    diagnostics when the spec has errors, including MAS408/MAS409 when the worst-case LLM
    calls or generated tokens exceed `max_llm_calls` / `max_generated_tokens`, and MAS410,
    before anything is unrolled, when the unrolled IR could exceed `max_unrolled_nodes`
    (`compiler.cost`; None lifts the limit)."""
    program = (source_or_program if isinstance(source_or_program, ast.Program)
               else parse(source_or_program, path))
    analysis = front_end(program, limits)
    diagnostics = list(analysis.diagnostics)
    if any(item.is_error for item in diagnostics):
        raise MasError(sort_diagnostics(diagnostics))
    cost = estimate(program, {name: settings.worst_case_calls
                              for name, settings in ir_agents(analysis).items()})
    too_large = cost_diagnostics(program, cost, max_unrolled_nodes)
    if too_large:
        raise MasError(sort_diagnostics(diagnostics + too_large))
    # The IR is validated once, after the passes (each pass keeps the invariants; the tests
    # validate after lowering and after every pass).
    ir, found = run_passes(lower(program, analysis), passes)
    diagnostics += found
    validate_ir(ir)
    stats = analyze(ir)
    diagnostics += limit_diagnostics(stats, program.name.span, program.path, max_llm_calls,
                                     max_generated_tokens)
    diagnostics = sort_diagnostics(diagnostics)
    if any(item.is_error for item in diagnostics):
        raise MasError(diagnostics)
    return CompiledSpec(program=program, ir=ir, stats=stats, diagnostics=tuple(diagnostics),
                        dead_regions=dead_regions(program, ir))

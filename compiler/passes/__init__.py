"""The pass pipeline: plain functions `pass(ir) -> (ir, diagnostics)`, one per module named
after the function, run in the order of `PASSES`. Each pass returns a new IR (the input is
never mutated) that still satisfies `validate_ir`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from compiler.ir import IR
from compiler.passes.annotate_reachability import annotate_reachability
from compiler.passes.eliminate_dead_nodes import eliminate_dead_nodes
from compiler.passes.fold_constants import fold_constants
from masdsl.diagnostics import Diagnostic

Pass = Callable[[IR], tuple[IR, list[Diagnostic]]]

PASSES: tuple[Pass, ...] = (fold_constants, eliminate_dead_nodes, annotate_reachability)


def run_passes(ir: IR, passes: Sequence[Pass] = PASSES) -> tuple[IR, list[Diagnostic]]:
    """Run `passes` in order; returns the final IR and every diagnostic they reported."""
    diagnostics: list[Diagnostic] = []
    for compiler_pass in passes:
        ir, found = compiler_pass(ir)
        diagnostics += found
    return ir, diagnostics

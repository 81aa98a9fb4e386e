"""Turn a compiled (or rejected) design into the spans `trainer.credit` needs.

Reachability comes from the compiler as data: every IR node carries the span of the AST node
it came from and `reaches_output` (the `annotate_reachability` pass), and the parts of the
spec that cannot reach an output at all (removed by dead-node elimination, or never used)
are the compiled spec's `dead_regions` (`compiler.dead_regions`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from masdsl.diagnostics import Diagnostic
from trainer.credit import CharSpan, DesignSample, DiagnosticSpan, NodeSpan


def node_spans(compiled: Any) -> tuple[NodeSpan, ...]:
    """NodeSpans of a compiled spec (`compiler.api.CompiledSpec`): one per IR node with its
    `reaches_output`, plus one unreachable span per dead region."""
    spans = [NodeSpan(node.id, node.span.start, node.span.end, bool(node.reaches_output))
             for node in compiled.ir.nodes()]
    spans += [NodeSpan(f"dead:{region.kind}:{region.name}@{region.start}", region.start,
                       region.end, reaches_output=False)
              for region in compiled.dead_regions]
    return tuple(spans)


def diagnostic_spans(diagnostics: Sequence[Diagnostic]) -> tuple[DiagnosticSpan, ...]:
    """The diagnostics' spans and severities, in spec characters."""
    return tuple(DiagnosticSpan(d.span.start, d.span.end,
                                "error" if d.is_error else "warning", d.code)
                 for d in diagnostics)


def design_sample(question_id: Hashable, design_id: Hashable, completion_text: str,
                  token_offsets: Sequence[CharSpan], spec_offset: int, compiled: Any,
                  diagnostics: Sequence[Diagnostic]) -> DesignSample:
    """A `DesignSample` for one designer completion: `compiled` is the `CompiledSpec` or None
    when the design was rejected (then `diagnostics` say why); `spec_offset` is where the spec
    starts in `completion_text` (`runtime.designer.Design.offset`)."""
    return DesignSample(question_id=question_id, design_id=design_id, text=completion_text,
                        token_offsets=tuple(token_offsets), compile_ok=compiled is not None,
                        diagnostics=diagnostic_spans(diagnostics),
                        nodes=node_spans(compiled) if compiled is not None else (),
                        spec_offset=spec_offset)

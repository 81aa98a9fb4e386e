"""Turn a compiled (or rejected) design into the spans `trainer.credit` needs.

Reachability comes from the compiler: every IR node carries the span of the AST node it came
from and `reaches_output` (the `annotate_reachability` pass). Nodes that cannot reach an
output are mostly *removed* by dead-node elimination, which leaves a warning instead; so the
warnings that say "this part never matters" also become unreachable spans:
MAS105 (unused agent: the whole agent declaration), MAS305 (unreachable graph node) and
MAS309 (dead node: the whole statement around the dead call).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from typing import Any

from masdsl import ast
from masdsl.diagnostics import Diagnostic
from trainer.credit import CharSpan, DesignSample, DiagnosticSpan, NodeSpan

UNREACHABLE_WARNINGS = ("MAS105", "MAS305", "MAS309")
_STATEMENT_KINDS = ("assign", "graph_node")


def _ast_nodes(value: Any) -> Iterator[ast.Node]:
    """Every AST node under `value`, depth first."""
    if isinstance(value, ast.Node):
        yield value
        for name in type(value).model_fields:
            yield from _ast_nodes(getattr(value, name))
    elif isinstance(value, tuple):
        for item in value:
            yield from _ast_nodes(item)


def _enclosing(program: ast.Program, span: CharSpan, kinds: Sequence[str]) -> CharSpan:
    """The smallest AST node of one of `kinds` containing `span` (or `span` itself)."""
    best = span
    for node in _ast_nodes(program):
        if getattr(node, "kind", None) not in kinds:
            continue
        start, end = node.span.start, node.span.end
        if start <= span[0] and span[1] <= end and (best == span or end - start
                                                     < best[1] - best[0]):
            best = (start, end)
    return best


def node_spans(compiled: Any) -> tuple[NodeSpan, ...]:
    """NodeSpans of a compiled spec (`compiler.api.CompiledSpec`): one per IR node with its
    `reaches_output`, plus one unreachable span per MAS105/MAS305/MAS309 warning."""
    spans = [NodeSpan(node.id, node.span.start, node.span.end, bool(node.reaches_output))
             for node in compiled.ir.nodes()]
    for found in compiled.diagnostics:
        if found.code not in UNREACHABLE_WARNINGS:
            continue
        where = (found.span.start, found.span.end)
        kinds = ("agent",) if found.code == "MAS105" else _STATEMENT_KINDS
        start, end = _enclosing(compiled.program, where, kinds)
        spans.append(NodeSpan(f"{found.code}@{start}", start, end, reaches_output=False))
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

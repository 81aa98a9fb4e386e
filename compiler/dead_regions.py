"""Dead regions: the parts of a spec that cannot influence any output, as data.

After the passes, every surviving IR node lies on a path to an output (dead-node elimination
removes the rest, `annotate_reachability` marks what is left). A region of the source is dead
when it asks for LLM work of which nothing survived:
- an agent declaration that no surviving agent node runs (never called, or called only by dead
  statements);
- a flow statement or graph node (`x = ...`, `node n = ...`) containing agent calls of which
  no surviving agent node came.
The trainer gives such regions no positive credit (`trainer.design_spans`). They are derived
from the IR's nodes and the AST's spans, never from warning codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from compiler.ir import IR
from masdsl import ast

DeadKind = Literal["agent", "statement"]


@dataclass(frozen=True)
class DeadRegion:
    """A `[start, end)` character range of the spec that cannot reach an output."""

    start: int
    end: int
    kind: DeadKind
    name: str


def _walk(value: object) -> Iterator[ast.Node]:
    if isinstance(value, ast.Node):
        yield value
        for field_name in type(value).model_fields:
            yield from _walk(getattr(value, field_name))
    elif isinstance(value, tuple):
        for item in value:
            yield from _walk(item)


def dead_regions(program: ast.Program, ir: IR) -> tuple[DeadRegion, ...]:
    """Every dead region of `program`, given its optimised `ir`, in source order."""
    agent_names = {agent.name.value for agent in program.agents}
    live_agents = {node.agent.name for node in ir.agent_nodes()}
    live_spans = [(node.span.start, node.span.end) for node in ir.agent_nodes()]
    regions = [DeadRegion(agent.span.start, agent.span.end, "agent", agent.name.value)
               for agent in program.agents if agent.name.value not in live_agents]
    for node in _walk(tuple(program.flows)):
        if not isinstance(node, ast.Assign | ast.GraphNode):
            continue
        calls_agent = any((isinstance(inner, ast.Call) and inner.callee.value in agent_names)
                          or (isinstance(inner, ast.Ref) and inner.name in agent_names)
                          for inner in _walk(node.value))
        start, end = node.span.start, node.span.end
        if calls_agent and not any(start <= s and e <= end for s, e in live_spans):
            name = node.target.value if isinstance(node, ast.Assign) else node.name.value
            regions.append(DeadRegion(start, end, "statement", name))
    return tuple(sorted(regions, key=lambda region: (region.start, region.end)))

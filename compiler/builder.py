"""The mutable workspace of lowering: collects nodes and edges with stable ids, and tracks
what a name is bound to (`Value`) and under which guard new nodes run (`Context`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from compiler.ir import GUARD, OUT, AgentSettings, Edge, IRNode, Port
from masdsl import ast
from masdsl.spans import Span
from masdsl.types import Type


@dataclass(frozen=True)
class Value:
    """Where a value comes from: a node's output port, with its type."""

    node: str
    port: str
    type: Type


@dataclass(frozen=True)
class Guard:
    """New nodes run only if `source`'s value is present and one of `when`."""

    source: Value
    when: tuple[str, ...]


FLOW_MEMBER = "ensemble member "
"""The scope label of member i of an ensemble of a flow, `ensemble member i`: calls in two
members of one flow ensemble run alongside each other."""


@dataclass(frozen=True)
class Context:
    """Where lowering is: the guard of the innermost region, its scope labels, and the names
    that a loop body binds later (a reference to one before its binding is absent)."""

    guard: Guard | None = None
    scope: tuple[str, ...] = ()
    pending: frozenset[str] = frozenset()


@dataclass
class Builder:
    """Collects the IR under construction. Ids are `n<counter>.<slug>`, so sorting by id is
    creation order and ids are stable for a given spec."""

    program: ast.Program
    agents: dict[str, AgentSettings]
    members: frozenset[tuple[int, int]] = frozenset()
    """Spans (start, end) of condition names the checker resolved to enum members."""
    lengths: dict[tuple[int, int, str], int] = field(default_factory=dict)
    """The checker's `Analysis.static_lengths` (a `map` call's bound among them)."""
    nodes: list[IRNode] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    counter: int = 0
    guards: dict[str, Guard | None] = field(default_factory=dict)
    """Each node's guard when it was added: calls of one fan-out share theirs, a graph's
    steps do not (conversation memory tells them apart by it)."""

    def new_id(self, slug: str) -> str:
        self.counter += 1
        clean = re.sub(r"[^A-Za-z0-9_]+", "_", slug).strip("_") or "node"
        return f"n{self.counter:05d}.{clean}"

    def add(self, node: IRNode, context: Context, inputs: list[tuple[Port, Value]]) -> None:
        """Add `node` with a data edge into each of its input ports from the given values,
        and the context's guard edge."""
        # Edges are built with `model_construct` (no re-validation): every field comes from
        # an already validated node, port or type, and `validate_ir` checks the result.
        self.nodes.append(node)
        self.guards[node.id] = context.guard
        for port, value in inputs:
            self.edges.append(Edge.model_construct(
                source=value.node, source_port=value.port, target=node.id,
                target_port=port.name, type=value.type, kind="data", when=None))
        if context.guard is not None:
            source = context.guard.source
            self.edges.append(Edge.model_construct(
                source=source.node, source_port=source.port, target=node.id,
                target_port=GUARD, type=source.type, kind="guard", when=context.guard.when))


def unique_labels(labels: list[str]) -> list[str]:
    """Labels made unique by suffixing repeats (`x`, `x_2`, `x_3`) so ports never collide."""
    seen: dict[str, int] = {}
    result = []
    for label in labels:
        count = seen.get(label, 0) + 1
        seen[label] = count
        result.append(label if count == 1 else f"{label}_{count}")
    return result


def out(node_id: str, type_: Type) -> Value:
    return Value(node=node_id, port=OUT, type=type_)


def span_of(node: ast.Node) -> Span:
    return node.span

"""Where each value's full reply is: what `reply(x)` and `vote(..., show: replies)` read.

An agent node's value comes with the reply it was parsed from. A value that only passes
through deterministic nodes keeps the reply of the agent call it came from: a `merge` the
one of the input it chose, a `branch` its subject's, a field read its record's, a vote its
winning candidate's; a list (`collect`, `list`, `rounds`, `append`) keeps one per item. The
runtime records these *origins* per execution, next to the values (`Origins`); nothing here
calls a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compiler.ir import (
    AppendNode,
    BranchNode,
    CollectNode,
    Edge,
    FieldNode,
    IRNode,
    ListNode,
    MergeNode,
    RoundsNode,
)
from masdsl.types import List, Type
from runtime.format import render_value

Origin = str | tuple[Any, ...] | None
"""A value's full reply (str), one origin per item of a list (tuple), or None (no agent
produced it)."""


CARRIES_ORIGIN = (MergeNode, BranchNode, FieldNode, ListNode, CollectNode, RoundsNode,
                  AppendNode)
"""The deterministic node kinds whose value keeps the reply it came from (`origin_of`)."""


def origin_of(node: IRNode, edges: Mapping[str, Edge], present: list[str],
              origins: Mapping[tuple[str, str], Origin]) -> Origin:
    """The origin of a deterministic node's `out`, from the origins of its inputs.
    `edges` are its data edges by port; `present` the ports whose value is present, in
    port order."""

    def of(port: str) -> Origin:
        edge = edges.get(port)
        return None if edge is None else origins.get((edge.source, edge.source_port))

    if isinstance(node, MergeNode):
        return of(present[-1]) if present else None
    if isinstance(node, BranchNode | FieldNode):
        return of(node.inputs[0].name) if node.inputs else None
    if isinstance(node, ListNode | CollectNode | RoundsNode):
        return tuple(of(port) for port in present)
    if isinstance(node, AppendNode):
        before = of("list") if "list" in present else ()
        items = before if isinstance(before, tuple) else ()
        return (*items, of("item")) if "item" in present else items
    return None


def full_reply(value: Any, value_type: Type, origin: Origin) -> Any:
    """`reply(x)` of a present value: its agent's reply, or the value as an agent would be
    shown it; for a list, one text per item (a list one agent call returned whole: that
    reply, as the only item)."""
    if isinstance(value_type, List):
        if isinstance(origin, str):
            return (origin,)
        items = origin if isinstance(origin, tuple) else ()
        return tuple(item_origin if isinstance(item_origin, str)
                     else render_value(item, value_type.element)
                     for item, item_origin in zip(value, (*items, *[None] * len(value)),
                                                  strict=False))
    return origin if isinstance(origin, str) else render_value(value, value_type)

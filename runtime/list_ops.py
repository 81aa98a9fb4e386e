"""The `list_op` node's semantics (`compiler.ir.ListOpNode`), without an LLM call: `index`
picks one item verbatim (absent when out of range or when the position is not a whole
number), `rest` drops the first item, `len` counts the items. An absent list (or position)
gives an absent result: the caller passes its own marker for absence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from compiler.ir import ListOpNode


def evaluate_list_op(node: ListOpNode, given: Mapping[str, Any], absent: Any) -> Any:
    """The value of `node` for its input values `given` (`absent` marks an absent value)."""
    items = given.get("list", absent)
    if items is absent:
        return absent
    if node.op == "len":
        return len(items)
    if node.op == "rest":
        return tuple(items[1:])
    position: Any = node.position
    if position is None:
        position = given.get("position", absent)
        if position is absent or isinstance(position, bool):
            return absent
        if isinstance(position, float):
            if not position.is_integer():
                return absent
            position = int(position)
    if not -len(items) <= position < len(items):
        return absent
    return items[position]

"""Evaluation of `condition` nodes (see `compiler.ir.Term`): comparisons, `and`/`or`/`not`
and `all_equal`/`len`/`empty`, without an LLM call.

Equality compares as `vote` does (`value_key`): numbers by value, text ignoring case and
runs of whitespace, lists item by item. A condition that reads an absent value is itself
absent (`evaluate` returns None): neither arm of an `if` runs, a loop stops, an edge does
not hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from compiler.ir import Term
from runtime.values import Value


class _Missing(Exception):
    """A port the condition reads is absent."""


def value_key(value: Value) -> str:
    """A comparison key: numbers by value, text case- and space-insensitively, bools apart
    from numbers, lists item by item (used by `vote` and by `==` in conditions)."""
    if isinstance(value, bool):
        return f"b:{value}"
    if isinstance(value, int | float):
        return f"n:{float(value)!r}"
    if isinstance(value, str):
        return "s:" + " ".join(value.split()).casefold()
    return "l:" + repr(tuple(value_key(item) for item in value))


_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": lambda left, right: left < right,
    "<=": lambda left, right: left <= right,
    ">": lambda left, right: left > right,
    ">=": lambda left, right: left >= right,
}


def evaluate(term: Term, ports: Mapping[str, Any], absent: object) -> bool | None:
    """The condition's value over the port values given (`absent` marks an absent one), or
    None when it reads an absent value."""
    try:
        return bool(_eval(term, ports, absent))
    except _Missing:
        return None


def _read(term: Term, ports: Mapping[str, Any], absent: object) -> Any:
    value = ports.get(term.port or "", absent)
    if value is absent:
        raise _Missing(term.port)
    return value


def _eval(term: Term, ports: Mapping[str, Any], absent: object) -> Any:
    op = term.op
    if op == "const":
        return term.value
    if op == "port":
        return _read(term, ports, absent)
    if op in ("all_equal", "len", "empty"):
        items = _read(term, ports, absent)
        if op == "len":
            return len(items)
        if op == "empty":
            return not items
        return len({value_key(item) for item in items}) <= 1
    values = [_eval(operand, ports, absent) for operand in term.operands]
    if op == "truth":
        return bool(values[0])
    if op == "not":
        return not values[0]
    if op == "and":
        return all(bool(value) for value in values)
    if op == "or":
        return any(bool(value) for value in values)
    left, right = values
    if op == "==":
        return value_key(left) == value_key(right)
    if op == "!=":
        return value_key(left) != value_key(right)
    return _ORDER[op](float(left), float(right))

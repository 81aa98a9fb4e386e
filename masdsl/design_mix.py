"""Which language constructs a spec uses, read from its AST.

The construct mix of sampled designs says what a designer writes: how many designs route
(`if`, `match`, `graph`), loop, declare enum or record agents, or use each builtin. It is
read from the parsed program (not from its text, where a name such as `matchbox` would
count as a `match`), one name per construct used, so a mix over many designs is a count of
the designs using each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from masdsl import ast
from masdsl.patterns import BUILTINS


def _call_constructs(call: ast.Call) -> set[str]:
    name = call.callee.value
    if name not in BUILTINS:
        return set()
    found = {name}
    for arg in call.args:
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword == "show" and isinstance(arg.value, ast.Ref) and arg.value.name == "replies":
            found.add("vote show: replies")
        elif keyword in ("judge", "tiebreak") and name == "vote":
            found.add(f"vote {keyword}")
        elif keyword == "critic" and isinstance(arg.value, ast.ListExpr):
            found.add("reflect critics")
    if name == "ensemble" and call.args and isinstance(call.args[0].value, ast.Call):
        found.add("ensemble of flow")
    return found


def _node_constructs(node: BaseModel, aliases: dict[str, BaseModel]) -> set[str]:
    """The constructs one AST node is (without its children); `aliases` resolves the
    spec's type names."""
    if isinstance(node, ast.Call):
        return _call_constructs(node)
    if isinstance(node, ast.If):
        return {"if/else" if node.otherwise is not None else "if"}
    if isinstance(node, ast.Loop):
        return {"loop until" if node.until is not None else "loop"}
    if isinstance(node, ast.Match):
        return {"match"}
    if isinstance(node, ast.Graph):
        return {"graph"}
    if isinstance(node, ast.AgentDecl):
        found = set()
        output: BaseModel | None = node.output
        seen: set[str] = set()
        while isinstance(output, ast.NamedType) and output.name.value not in seen:
            seen.add(output.name.value)
            output = aliases.get(output.name.value)
        if isinstance(output, ast.EnumType):
            found.add("enum agent")
        if isinstance(output, ast.RecordType):
            found.add("record agent")
        if node.field("default") is not None:
            found.add("default")
        if node.field("memory") is not None:
            found.add("memory")
        return found
    if isinstance(node, ast.Index):
        return {"index"}
    if isinstance(node, ast.FieldAccess):
        return {"field access"}
    if isinstance(node, ast.Compare):
        return {"comparison"}
    if isinstance(node, ast.BoolOp | ast.Not):
        return {"and/or/not"}
    if isinstance(node, ast.CondCall):
        return {node.function.value}
    return set()


def design_constructs(program: ast.Program) -> frozenset[str]:
    """The constructs `program` uses: control flow (`if`, `if/else`, `loop`, `loop until`,
    `match`, `graph`), condition parts (`comparison`, `and/or/not`, `all_equal`, `len`,
    `empty`, `field access`), agents (`enum agent`, `record agent`, `default`) and each
    builtin by name (with `vote judge`, `vote tiebreak`, `vote show: replies`,
    `reflect critics`, `ensemble of flow`), list indexing (`index`) and agent `memory`."""
    aliases: dict[str, BaseModel] = {item.name.value: item.type for item in program.items
                                     if isinstance(item, ast.TypeDecl)}
    found: set[str] = set()
    stack: list[Any] = [program]
    while stack:
        item = stack.pop()
        if isinstance(item, BaseModel):
            found |= _node_constructs(item, aliases)
            stack.extend(getattr(item, name) for name in type(item).model_fields)
        elif isinstance(item, tuple | list):
            stack.extend(item)
    return frozenset(found)


def construct_mix(programs: Iterable[ast.Program]) -> Counter[str]:
    """How many of `programs` use each construct."""
    return Counter(construct for program in programs
                   for construct in design_constructs(program))

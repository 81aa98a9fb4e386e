"""What a typed design has declared so far: the plain data every stage grammar is built from.

Typed design decoding (`masdsl.typed_grammar`) samples a spec in stages; after each stage the
designer folds what the stage wrote into a `DesignState`, and the next stage's grammar is
generated from it. The state is the checker's view of the design at that point, kept in the
small terms the grammars need: the declared agents and their output types, the values bound
on every path to the current line (the *scope*), every name used so far (new names must be
fresh), and the control-flow blocks still open.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

Field = tuple[str, str]  # (name, type), the type written as `masc fmt` prints it

NAME_MAX = 16       # characters in a declared name


@dataclass(frozen=True)
class Block:
    """One open block of the flow.

    `kind` is `if` (an if's first branch), `else` (its second), `loop` (a loop body),
    `match` (between the cases of a match), `case` (a case's body), `otherwise` (a
    match's `else` arm) or `graph` (a graph's nodes so far, in `nodes`). `outer` is the
    scope when the construct began; `then` the scope at the end of an if's first branch
    (for `else`); `subject`, `covered`, `otherwise` and `arms` belong to a `match`: its
    enum value, the members its cases named, whether it has its `else` arm, and the names
    bound on every finished arm (None before the first arm ends). `statements` counts what
    the block holds so far (a block is closed only once it holds something). `limit` is a
    loop's `max` or a graph's `max_steps`; `bound` every name bound inside the block, at
    any depth (after a loop, `rounds(x)` reads each of them)."""

    kind: str
    outer: tuple[Field, ...]
    statements: int = 0
    then: tuple[Field, ...] = ()
    subject: Field | None = None
    covered: tuple[str, ...] = ()
    arms: tuple[Field, ...] | None = None
    otherwise: bool = False
    nodes: tuple[str, ...] = ()
    limit: int = 0
    bound: tuple[str, ...] = ()


@dataclass(frozen=True)
class Building:
    """An agent whose enum or record output type is being written, one member or field per
    stage (a grammar cannot say "a member not listed before" within one stage)."""

    agent: str
    kind: str                      # "enum" or "record"
    items: tuple[Field, ...] = ()  # members (type "") or fields so far


@dataclass(frozen=True)
class DesignState:
    """What a design has declared so far (the input of the next stage's grammar).

    `values` is the scope: the names bound on every path to the current line, with their
    types (bound outputs included); `names` every name the flow has bound anywhere (a new
    name must be none of them); `members` the enum members and record fields declared (a
    later name that equals a member would make `x == m` compare with that value instead).
    `lengths` mirrors the checker's static list lengths: each name's length when its first
    binding had one and no later binding changed it (None: not known statically), so a
    `map` writes `max:` exactly when the checker needs one. `rounds` are the names
    `rounds(x)` may read, with their loop's or graph's bound: those a top-level loop or
    graph that has finished bound (a loop nested in a block is left out, conservatively)."""

    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]
    agents: tuple[Field, ...] = ()
    values: tuple[Field, ...] = ()
    reserved: frozenset[str] = field(default=frozenset())
    names: frozenset[str] = field(default=frozenset())
    members: frozenset[str] = field(default=frozenset())
    blocks: tuple[Block, ...] = ()
    statements: int = 0
    flow: bool = False
    building: Building | None = None
    lengths: tuple[tuple[str, int | None], ...] = ()
    rounds: tuple[tuple[str, int], ...] = ()

    def taken(self) -> set[str]:
        """Names a new declaration may not use."""
        return ({name for name, _ in self.inputs + self.outputs + self.agents + self.values}
                | set(self.names) | set(self.members) | set(self.reserved))

    def missing_types(self) -> list[str]:
        """Output types no declared agent returns yet, in the outputs' order."""
        have = {type_ for _, type_ in self.agents}
        return list(dict.fromkeys(t for _, t in self.outputs if t not in have))

    def unbound_outputs(self) -> list[Field]:
        """The outputs not bound on every path to the current line."""
        bound = {name for name, _ in self.values}
        return [output for output in self.outputs if output[0] not in bound]

    def bind(self, name: str, type_: str, length: int | None = None) -> DesignState:
        """The state after `name = ...` of type `type_` (a list of static length `length`,
        when known) in the innermost block."""
        values = self.values if any(n == name for n, _ in self.values) \
            else (*self.values, (name, type_))
        lengths = dict(self.lengths)
        if name in lengths and lengths[name] != length:
            lengths[name] = None  # as the checker: a rebinding that changes it unknows it
        elif name not in lengths:
            lengths[name] = length
        blocks = tuple(replace(block, bound=(*block.bound, name))
                       if name not in block.bound else block for block in self.blocks)
        return replace(self, values=values, names=self.names | {name}, blocks=blocks,
                       lengths=tuple(lengths.items()),
                       statements=self.statements + 1).counted()

    def length(self, name: str) -> int | None:
        """The static length of the list value `name` (None when not known)."""
        return dict(self.lengths).get(name)

    def counted(self) -> DesignState:
        """The state with one more statement in the innermost block."""
        if not self.blocks:
            return self
        inner = self.blocks[-1]
        return replace(self, blocks=(*self.blocks[:-1],
                                     replace(inner, statements=inner.statements + 1)))

    def depth(self) -> int:
        """Open constructs (`if`, `loop`, `match`, `graph`; a match's arm is part of its
        match)."""
        return sum(1 for block in self.blocks
                   if block.kind in ("if", "else", "loop", "match", "graph"))

    def indent(self) -> str:
        """The indentation of a line in the innermost open block."""
        return "    " + "  " * len(self.blocks)


def common(first: tuple[Field, ...], second: tuple[Field, ...]) -> tuple[Field, ...]:
    """The values bound in both scopes, in `first`'s order (one name has one type)."""
    names = {name for name, _ in second}
    return tuple(value for value in first if value[0] in names)


def literal(text: str) -> str:
    """`text` as a grammar string literal."""
    return json.dumps(text)


def alternatives(items: Iterable[str]) -> str:
    """A grammar choice between `items` (parenthesised when there are several)."""
    listed = list(items)
    return "(" + " | ".join(listed) + ")" if len(listed) > 1 else listed[0]


def fresh_name(rule: str, taken: Iterable[str]) -> str:
    """A terminal for a new identifier that is none of `taken`."""
    excluded = " | ".join(literal(name) for name in sorted(set(taken)))
    pattern = f"/[a-z][a-z0-9_]{{0,{NAME_MAX - 1}}}/"
    return f"{rule}: {pattern} & ~({excluded})" if excluded else f"{rule}: {pattern}"


def enum_members(type_: str) -> list[str]:
    """The members of an enum type written `enum { a, b }` (empty for any other type)."""
    if not type_.startswith("enum { ") or not type_.endswith(" }"):
        return []
    return type_[len("enum { "):-len(" }")].split(", ")


def record_fields(type_: str) -> list[Field]:
    """The fields of a record type written `{ f: T, g: U }` with primitive field types
    (empty for any other type)."""
    if not type_.startswith("{ ") or not type_.endswith(" }"):
        return []
    fields = []
    for item in type_[2:-2].split(", "):
        name, _, field_type = item.partition(": ")
        fields.append((name, field_type))
    return fields


def composite_type(building: Building) -> str:
    """The type an enum or record under construction denotes, as `masc fmt` prints it."""
    if building.kind == "enum":
        return "enum { " + ", ".join(name for name, _ in building.items) + " }"
    return "{ " + ", ".join(f"{name}: {type_}" for name, type_ in building.items) + " }"

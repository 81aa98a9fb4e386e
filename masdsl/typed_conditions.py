"""Condition grammars for typed design decoding: `if` and `loop ... until` conditions that
type-check over the values in scope, evaluated without an LLM call.

An atom is chosen by the type of what it reads (a bound value, or a field `r.f` of a bound
record value):
- `bool`: the value itself (`verdict`);
- an enum: `x == m` / `x != m` for a member `m` of its type;
- `number`: `x OP y` against another number or a small literal, OP one of `== != < <= > >=`;
- `text`/`code`: `x == y` / `x != y` against another value of the same type;
- `list[T]`: `all_equal(xs)`, `empty(xs)`, `len(xs) OP k`.
Atoms combine as `[not] atom [and [not] atom] [or ...]`: at most two of each, no
parentheses, which is exactly how `masc fmt` prints such a condition. Every operand and
operator is its own grammar literal, so no literal is a prefix of another that the
grammar could continue differently (llguidance lexes literals greedily).
"""

from __future__ import annotations

from masdsl.typed_state import Field, enum_members, literal, record_fields

ORDERINGS = (" == ", " != ", " < ", " <= ", " > ", " >= ")
EQUALITIES = (" == ", " != ")
SMALL_NUMBER = "SMALL_NUMBER: /0|[1-9][0-9]?/"


def _operands(scope: tuple[Field, ...]) -> list[Field]:
    """What a condition can read: each value, and each field of a record value."""
    operands: list[Field] = []
    for name, type_ in scope:
        operands.append((name, type_))
        operands += [(f"{name}.{field}", field_type)
                     for field, field_type in record_fields(type_)]
    return operands


def _choice(items: list[str]) -> str:
    return items[0] if len(items) == 1 else "(" + " | ".join(items) + ")"


def atoms(scope: tuple[Field, ...]) -> list[str]:
    """The grammar of every condition atom over `scope` (empty: no condition is possible)."""
    operands = _operands(scope)
    found: list[str] = []
    for name, type_ in operands:
        subject = literal(name)
        peers = [literal(other) for other, other_type in operands
                 if other_type == type_ and other != name]
        if type_ == "bool":
            found.append(subject)
        elif enum_members(type_):
            found.append(f"{subject} {_choice([literal(op) for op in EQUALITIES])} "
                         f"{_choice([literal(m) for m in enum_members(type_)])}")
        elif type_ == "number":
            found.append(f"{subject} {_choice([literal(op) for op in ORDERINGS])} "
                         f"{_choice(['SMALL_NUMBER', *peers])}")
        elif type_ in ("text", "code") and peers:
            found.append(f"{subject} {_choice([literal(op) for op in EQUALITIES])} "
                         f"{_choice(peers)}")
        elif type_.startswith("list[") and "." not in name:
            found += [literal(f"all_equal({name})"), literal(f"empty({name})"),
                      f"{literal(f'len({name})')} {_choice([literal(op) for op in ORDERINGS])}"
                      " SMALL_NUMBER"]
    return found


def condition_rules(rule: str, scope: tuple[Field, ...]) -> list[str]:
    """Rules defining `rule` as a condition over `scope`; empty when no atom exists."""
    found = atoms(scope)
    if not found:
        return []
    return [f'{rule}: {rule}_and (" or " {rule}_and)?',
            f'{rule}_and: {rule}_not (" and " {rule}_not)?',
            f'{rule}_not: "not "? {rule}_atom',
            f"{rule}_atom: " + "\n    | ".join(found)]

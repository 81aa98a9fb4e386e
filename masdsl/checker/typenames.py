"""Type expressions -> `Type`: builtin names, `type` aliases (in any order), lists, enums,
records.

Rules: a named type is a primitive or a declared alias (MAS205 otherwise, including an
alias that refers to itself); an enum names each member once, a record each field (MAS102).
"""

from __future__ import annotations

from masdsl import ast
from masdsl.checker.context import Context, list_of, suggest
from masdsl.construct import trusted
from masdsl.types import BOOL, CODE, NUMBER, TEXT, Enum, Record, RecordField, Type

_enum = trusted(Enum)
_record = trusted(Record)
_record_field = trusted(RecordField)
_PRIMITIVES: dict[str, Type] = {"text": TEXT, "number": NUMBER, "bool": BOOL, "code": CODE}


class TypeResolver:
    """Resolves type expressions against the spec's aliases, memoising each alias once."""

    def __init__(self, ctx: Context, aliases: dict[str, ast.TypeDecl]) -> None:
        self.ctx = ctx
        self.aliases = aliases
        self.resolving: set[str] = set()

    def resolve_alias(self, name: str) -> Type | None:
        """The type an alias stands for (None when it has an error, reported once)."""
        if name in self.ctx.type_aliases:
            return self.ctx.type_aliases[name]
        decl = self.aliases[name]
        self.resolving.add(name)
        resolved = self.resolve(decl.type, alias=name)
        self.resolving.discard(name)
        self.ctx.type_aliases[name] = resolved
        return resolved

    def resolve(self, node: ast.NamedType | ast.ListType | ast.EnumType | ast.RecordType,
                alias: str | None = None) -> Type | None:
        """The `Type` of a type expression; `alias` names an enum declared by `type X =`."""
        if isinstance(node, ast.NamedType):
            name = node.name.value
            if name in _PRIMITIVES:
                return _PRIMITIVES[name]
            if name in self.aliases:
                if name in self.resolving:
                    self.ctx.report("MAS205", node.name.span,
                                    f"the type '{name}' is defined in terms of itself",
                                    help="a type alias must resolve to text, number, bool, "
                                         "code, an enum or a list of them")
                    return None
                return self.resolve_alias(name)
            self._unknown(node.name)
            return None
        if isinstance(node, ast.ListType):
            element = self.resolve(node.element)
            return None if element is None else list_of(element)
        if isinstance(node, ast.RecordType):
            return self._record(node, alias)
        seen: set[str] = set()
        members: list[str] = []
        for member in node.members:
            if member.value in seen:
                self.ctx.report("MAS102", member.span,
                                f"the enum member '{member.value}' is listed twice",
                                help="list each member once")
                continue
            seen.add(member.value)
            members.append(member.value)
        return _enum(members=tuple(members), name=alias)

    def _record(self, node: ast.RecordType, alias: str | None) -> Type | None:
        fields: list[RecordField] = []
        unknown = False
        for field in node.fields:
            if any(known.name == field.name.value for known in fields):
                self.ctx.report("MAS102", field.name.span,
                                f"the record field '{field.name.value}' is declared twice",
                                help="name each field once")
                continue
            field_type = self.resolve(field.type)
            if field_type is None:
                unknown = True
                continue
            fields.append(_record_field(name=field.name.value, type=field_type))
        return None if unknown else _record(fields=tuple(fields), name=alias)

    def _unknown(self, name: ast.Name) -> None:
        value = name.value
        if value in self.ctx.agents or value in self.ctx.inputs or value in self.ctx.outputs:
            message = f"'{value}' is not a type"
        else:
            message = f"unknown type '{value}'"
        hint = suggest(value, [*_PRIMITIVES, *self.aliases])
        self.ctx.report("MAS205", name.span, message,
                        help=hint or "types are text, number, bool, code, list[T], "
                                     "enum { ... } and names declared with `type`")

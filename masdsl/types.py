"""The value types of the language, shared by the checker, the compiler and the runtime.

`text`, `number`, `bool` and `code` are primitives; `enum` is a closed set of members
(named when declared with `type Name = enum {...}`); `list[T]` holds values of one type; a
record `{ verdict: Verdict, critique: text }` holds one value per named field, in order.
Two types are compatible when they are equal; an enum is identified by its member set, a
record by its fields (names and types, in order).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

PRIMITIVES = ("text", "number", "bool", "code")


class Primitive(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["primitive"] = "primitive"
    name: Literal["text", "number", "bool", "code"]

    def render(self) -> str:
        return self.name


class Enum(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["enum"] = "enum"
    members: tuple[str, ...]
    name: str | None = None

    def render(self) -> str:
        return self.name or "enum { " + ", ".join(self.members) + " }"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Enum) and set(self.members) == set(other.members)

    def __hash__(self) -> int:
        return hash(frozenset(self.members))


class List(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["list"] = "list"
    element: Type

    def render(self) -> str:
        return f"list[{self.element.render()}]"


class RecordField(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: Type


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["record"] = "record"
    fields: tuple[RecordField, ...]
    name: str | None = None

    def render(self) -> str:
        return self.name or "{ " + ", ".join(f"{field.name}: {field.type.render()}"
                                             for field in self.fields) + " }"

    def field(self, name: str) -> Type | None:
        """The type of the field called `name`, or None."""
        return next((field.type for field in self.fields if field.name == name), None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self.fields == other.fields

    def __hash__(self) -> int:
        return hash(self.fields)


Type = Annotated[Primitive | Enum | List | Record, Field(discriminator="kind")]
List.model_rebuild()
RecordField.model_rebuild()
Record.model_rebuild()

TEXT = Primitive(name="text")
NUMBER = Primitive(name="number")
BOOL = Primitive(name="bool")
CODE = Primitive(name="code")


def primitive(name: str) -> Primitive | None:
    """The primitive type called `name`, or None."""
    return Primitive(name=name) if name in PRIMITIVES else None


TEST_RESULT = Record(fields=(RecordField(name="passed", type=BOOL),
                             RecordField(name="passed_count", type=NUMBER),
                             RecordField(name="total", type=NUMBER),
                             RecordField(name="report", type=TEXT)))
"""What `run_tests(code, tests)` gives: whether the program loaded and every test passed,
how many passed, how many there were, and a short report of each failure."""

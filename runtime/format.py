"""What to tell a model about the answer format, and how to show a value in another prompt.

`format_instructions(type)` is appended to an agent's prompt; it is short and concrete (an
example line) because a 135M model copies examples far better than it follows descriptions.
`retry_message(type, failure)` is the user message after a reply `runtime.values.parse_value`
could not read. `render_value(value, type)` shows a value as an input to another agent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from masdsl.types import Enum, List, Primitive, Record, Type
from runtime.values import ParseFailure, Value, to_json


def _example_items(element: Type) -> str:
    if isinstance(element, List):
        return "[[1, 2], [3]]"
    if isinstance(element, Record):
        return f"[{_example_json(element)}]"
    if isinstance(element, Enum):
        return json.dumps(list(element.members[:2]))
    return {"number": "[3, 1.5, 42]", "bool": "[true, false]", "code": '["print(1)", "x = 2"]',
            "text": '["first item", "second item"]'}[element.name]


def _example_json(type_: Type) -> str:
    """A JSON example value of `type_` (for a record's format instructions)."""
    if isinstance(type_, List):
        return _example_items(type_.element)
    if isinstance(type_, Enum):
        return json.dumps(type_.members[0])
    if isinstance(type_, Record):
        return "{" + ", ".join(f"{json.dumps(field.name)}: {_example_json(field.type)}"
                               for field in type_.fields) + "}"
    return {"number": "42", "bool": "true", "code": '"print(1)"',
            "text": '"your text"'}[type_.name]


def _field_kind(type_: Type) -> str:
    if isinstance(type_, Enum):
        return "one of " + " / ".join(type_.members)
    return type_.render()


def format_instructions(type_: Type) -> str:
    """The lines to append to a prompt so the reply can be parsed as `type_`."""
    if isinstance(type_, Record):
        fields = "; ".join(f"{field.name} ({_field_kind(field.type)})" for field in type_.fields)
        return ("End your reply with one line: ANSWER: followed by a JSON object with the "
                f"fields {fields}.\nFor example: ANSWER: {_example_json(type_)}")
    if isinstance(type_, List):
        return ("End your reply with one line: ANSWER: followed by a JSON list.\n"
                f"For example: ANSWER: {_example_items(type_.element)}")
    if isinstance(type_, Enum):
        return ("End your reply with one line: ANSWER: followed by exactly one of: "
                f"{', '.join(type_.members)}.\nFor example: ANSWER: {type_.members[0]}")
    return {
        "number": "End your reply with one line: ANSWER: followed by the number only.\n"
                  "For example: ANSWER: 42",
        "bool": "End your reply with one line: ANSWER: yes or ANSWER: no",
        "code": "Put your complete final code in one fenced code block:\n```\n<code>\n```",
        "text": "End your reply with one line: ANSWER: followed by your final answer.",
    }[type_.name]


def retry_message(type_: Type, failure: ParseFailure) -> str:
    """The message that asks the model to answer again in the right format."""
    return f"I could not read your answer ({failure.reason}).\n{format_instructions(type_)}"


def _scalar(value: Value, type_: Primitive | Enum) -> str:
    if isinstance(type_, Enum):
        return str(value)
    if type_.name == "bool":
        return "yes" if value is True else "no"
    if type_.name == "number" and isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.12g}"
    if type_.name == "code":
        return f"```\n{str(value).rstrip()}\n```"
    return str(value)


def render_value(value: Value, type_: Type) -> str:
    """`value` as prompt text: numbers plainly, bools as yes/no, code fenced, lists numbered
    one item per line (nested lists and lists of records as JSON), a record one
    `field: value` line per field; raises ValueError if `value` is not a `type_`."""
    data = to_json(value, type_)  # validates
    if isinstance(type_, Record):
        assert isinstance(value, tuple)
        return "\n".join(f"{field.name}: " + (
            json.dumps(to_json(item, field.type)) if isinstance(field.type, Record)
            else render_value(item, field.type))
            for field, item in zip(type_.fields, value, strict=True))
    if isinstance(type_, List):
        assert isinstance(value, tuple)
        if not value:
            return "(empty list)"
        if isinstance(type_.element, List | Record):
            return json.dumps(data)
        element = type_.element
        separator = "\n" if isinstance(element, Primitive) and element.name == "code" else " "
        return "\n".join(f"{index}.{separator}{_scalar(item, element)}"
                         for index, item in enumerate(value, start=1))
    return _scalar(value, type_)


_PIECE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_template(template: str, values: Mapping[str, tuple[Value, Type]]) -> str:
    """`template` with each `{name}` replaced by `values[name]` shown as `render_value`
    shows it (nothing when the name has no value), and `{{`/`}}` by single braces."""
    def piece(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group()[0]
        found = values.get(match.group(1))
        return "" if found is None else render_value(*found)

    return _PIECE.sub(piece, template)

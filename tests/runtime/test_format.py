"""Format instructions parse back through parse_value; values render for other prompts."""

from __future__ import annotations

import pytest

from masdsl.types import BOOL, CODE, NUMBER, TEXT, Enum, List, Type
from runtime.format import format_instructions, render_value, retry_message
from runtime.values import ParsedValue, ParseFailure, Value, parse_value

VERDICT = Enum(members=("approve", "revise"), name="Verdict")
ALL_TYPES: list[Type] = [NUMBER, BOOL, TEXT, CODE, VERDICT, List(element=NUMBER),
                         List(element=TEXT), List(element=VERDICT), List(element=BOOL),
                         List(element=CODE), List(element=List(element=NUMBER))]


def test_instructions_are_exact_for_number_and_enum() -> None:
    assert format_instructions(NUMBER) == (
        "End your reply with one line: ANSWER: followed by the number only.\n"
        "For example: ANSWER: 42")
    assert format_instructions(VERDICT) == (
        "End your reply with one line: ANSWER: followed by exactly one of: approve, revise.\n"
        "For example: ANSWER: approve")


@pytest.mark.parametrize("type_", ALL_TYPES, ids=lambda t: t.render())
def test_the_example_in_each_instruction_parses_as_its_type(type_: Type) -> None:
    instructions = format_instructions(type_)
    assert len(instructions) < 200
    example = instructions.split("For example: ", 1)[-1] if "For example" in instructions else ""
    if example:
        assert isinstance(parse_value(example, type_), ParsedValue)


# code lists are shown fenced for reading, not meant to be parsed back
PARSEABLE = [type_ for type_ in ALL_TYPES if type_ != List(element=CODE)]


@pytest.mark.parametrize("type_", PARSEABLE, ids=lambda t: t.render())
def test_rendered_values_parse_back(type_: Type) -> None:
    samples: dict[str, Value] = {
        "number": 2.5, "bool": False, "text": "Paris", "code": "def f():\n    return 1",
        "Verdict": "revise", "list[number]": (1, 2.5), "list[text]": ("a b", "c"),
        "list[Verdict]": ("approve", "revise"), "list[bool]": (True, False),
        "list[code]": ("x = 1",), "list[list[number]]": ((1,), (2, 3)),
    }
    value = samples[type_.render()]
    rendered = render_value(value, type_)
    reply = rendered if type_ == CODE else "ANSWER: " + rendered
    parsed = parse_value(reply, type_)
    assert isinstance(parsed, ParsedValue), (rendered, parsed)
    assert parsed.value == value


RENDERS: list[tuple[Value, Type, str]] = [
    (42, NUMBER, "42"),
    (4.0, NUMBER, "4"),
    (1 / 3, NUMBER, "0.333333333333"),
    (True, BOOL, "yes"),
    ("approve", VERDICT, "approve"),
    ("print(1)\n", CODE, "```\nprint(1)\n```"),
    ((1, 2), List(element=NUMBER), "1. 1\n2. 2"),
    ((), List(element=TEXT), "(empty list)"),
    (("a = 1",), List(element=CODE), "1.\n```\na = 1\n```"),
    (((1,), ()), List(element=List(element=NUMBER)), "[[1], []]"),
]


@pytest.mark.parametrize(("value", "type_", "expected"), RENDERS)
def test_render(value: Value, type_: Type, expected: str) -> None:
    assert render_value(value, type_) == expected


def test_render_rejects_a_value_of_the_wrong_type() -> None:
    with pytest.raises(ValueError, match="expected one of approve, revise"):
        render_value("maybe", VERDICT)


def test_retry_message_names_the_problem_and_repeats_the_format() -> None:
    message = retry_message(BOOL, ParseFailure("the ANSWER line 'maybe' is not yes or no"))
    assert message == ("I could not read your answer (the ANSWER line 'maybe' is not yes or no).\n"
                       "End your reply with one line: ANSWER: yes or ANSWER: no")

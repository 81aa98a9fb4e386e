"""parse_value on real-looking replies, tricky ones included; JSON conversion both ways."""

from __future__ import annotations

import pytest

from masdsl.types import BOOL, CODE, NUMBER, TEXT, Enum, List, Type
from runtime.values import ParsedValue, ParseFailure, Value, from_json, parse_value, to_json

VERDICT = Enum(members=("approve", "revise"), name="Verdict")
GRADE = Enum(members=("pass", "needs_work", "fail"))

PARSES: list[tuple[str, Type, Value]] = [
    # number: the ANSWER line first
    ("So 6 * 7 = 42.\nANSWER: 42", NUMBER, 42),
    ("ANSWER: 1,234,567", NUMBER, 1234567),
    ("ANSWER: $1,234.50", NUMBER, 1234.5),
    ("ANSWER: -17", NUMBER, -17),
    ("ANSWER: −3", NUMBER, -3),
    ("ANSWER: 3/4", NUMBER, 0.75),
    ("ANSWER: -6/4", NUMBER, -1.5),
    ("ANSWER: 0.25", NUMBER, 0.25),
    ("ANSWER: .5", NUMBER, 0.5),
    ("ANSWER: 2.5e3", NUMBER, 2500),
    ("ANSWER: 12 apples", NUMBER, 12),
    ("ANSWER: 3 + 4 = 7", NUMBER, 7),
    ("ANSWER: x = -2", NUMBER, -2),
    ("**ANSWER:** **18**", NUMBER, 18),
    ("Answer: 9", NUMBER, 9),
    ("Let me reanswer: no. The total is 12", NUMBER, 12),
    ("Final answer: 100%", NUMBER, 100),
    ("The answer is: 64.", NUMBER, 64),
    ("ANSWER: 5\nANSWER: 6", NUMBER, 6),
    ("ANSWER:\n\n8", NUMBER, 8),
    ("ANSWER: \\boxed{\\frac{3}{4}}", NUMBER, 0.75),
    ("ANSWER: 1,000 and 2", NUMBER, 1000),
    ("ANSWER: 10,5", NUMBER, 10),
    ("Step 1: 20 - 3 = 17, step 2: 17 * 2 = 34.\nANSWER: 34 (the total)", NUMBER, 34),
    # number: boxed, ####, last number
    ("The result is \\boxed{17}. Check: 1 + 16.", NUMBER, 17),
    ("\\boxed{\\dfrac{-1}{2}}", NUMBER, -0.5),
    ("$\\boxed{1{,}000}$ hmm", NUMBER, 1000),
    ("She has 3 then 5 more.\n#### 8\nDone in 2 steps", NUMBER, 8),
    ("There are 3 cats and 4 dogs, 7 pets.", NUMBER, 7),
    ("The temperature fell to -5 degrees.", NUMBER, -5),
    ("5-3 is 2", NUMBER, 2),
    ("version2 has 10", NUMBER, 10),
    ("ANSWER: 1e99999999 or 7", NUMBER, 7),
    ("ANSWER: " + "9" * 400 + ".5 or 8", NUMBER, 8),
    # bool
    ("ANSWER: yes", BOOL, True),
    ("ANSWER: No.", BOOL, False),
    ("answer: TRUE", BOOL, True),
    ("Is it prime? Yes, it is... but no wait.\nANSWER: false", BOOL, False),
    ("There is no error, so the claim holds: yes", BOOL, True),
    ("\\boxed{no}", BOOL, False),
    # enum
    ("Looks fine.\nANSWER: approve", VERDICT, "approve"),
    ("ANSWER: Revise", VERDICT, "revise"),
    ("ANSWER: **APPROVE**", VERDICT, "approve"),
    ("ANSWER: not approve, revise", VERDICT, "revise"),
    ("I would approve it... actually revise.", VERDICT, "revise"),
    ("ANSWER: needs work", GRADE, "needs_work"),
    ("ANSWER: needs_work", GRADE, "needs_work"),
    ("It does not fail, it does pass.\nANSWER: pass", GRADE, "pass"),
    ("ANSWER: revise\nbecause approve would be wrong", VERDICT, "revise"),
    # code
    ("Here:\n```python\ndef f(x):\n    return x + 1\n```\nDone.", CODE,
     "def f(x):\n    return x + 1"),
    ("```\na = 1\n```\nbetter:\n```py\na = 2\n```", CODE, "a = 2"),
    ("```python\nprint('unclosed')", CODE, "print('unclosed')"),
    ("print('no fence')", CODE, "print('no fence')"),
    ("ANSWER: `x = 3`", CODE, "x = 3"),
    # text
    ("Thinking...\nANSWER: Paris", TEXT, "Paris"),
    ("ANSWER: **Paris**", TEXT, "Paris"),
    ("Just a reply.", TEXT, "Just a reply."),
    ("ANSWER: line one\nline two", TEXT, "line one\nline two"),
    # lists
    ("ANSWER: [1, 2, 3]", List(element=NUMBER), (1, 2, 3)),
    ("ANSWER: [1.5, \"2\", \"3/4\"]", List(element=NUMBER), (1.5, 2, 0.75)),
    ("ANSWER: 1, 2, 3", List(element=NUMBER), (1, 2, 3)),
    ("ANSWER: 1,000, 2,500", List(element=NUMBER), (1000, 2500)),
    ("ANSWER:\n- 4\n- 5", List(element=NUMBER), (4, 5)),
    ("ANSWER:\n1. apples\n2. pears", List(element=TEXT), ("apples", "pears")),
    ("ANSWER: ['a', 'b']", List(element=TEXT), ("a", "b")),
    ("Candidates: [2, 3] and final [5, 7]", List(element=NUMBER), (5, 7)),
    ("Items:\n- yes\n- no\nThat is all.", List(element=BOOL), (True, False)),
    ("ANSWER: [true, \"no\"]", List(element=BOOL), (True, False)),
    ("ANSWER: [\"Approve\", \"revise\"]", List(element=VERDICT), ("approve", "revise")),
    ("ANSWER: []", List(element=NUMBER), ()),
    ("ANSWER: [[1, 2], [3]]", List(element=List(element=NUMBER)), ((1, 2), (3,))),
]


@pytest.mark.parametrize(("text", "type_", "expected"), PARSES)
def test_parses(text: str, type_: Type, expected: Value) -> None:
    result = parse_value(text, type_)
    assert isinstance(result, ParsedValue), result
    assert result.value == expected
    assert type(result.value) is type(expected)


FAILURES: list[tuple[str, Type, str]] = [
    ("", NUMBER, "the reply is empty"),
    ("   \n", TEXT, "the reply is empty"),
    ("ANSWER: <number>", NUMBER, "has no number"),
    ("ANSWER: I don't know, maybe 5 earlier", NUMBER, ""),  # a number on the line is taken
    ("I cannot compute this.", NUMBER, "no number found"),
    ("ANSWER: maybe", BOOL, "is not yes or no"),
    ("I am unsure.", BOOL, "no yes/no answer found"),
    ("ANSWER: reject", VERDICT, "names none of: approve, revise"),
    ("It is approved-ish? Revised!", VERDICT, "no answer among: approve, revise"),
    ("ANSWER: 1, two, 3", List(element=NUMBER), "item 2: expected one number, got 'two'"),
    ("No list here.", List(element=NUMBER), "no list found"),
    ("ANSWER: 1 2 3", List(element=NUMBER), "item 1: expected one number, got '1 2 3'"),
    ("ANSWER:\n- 4\n- 5 or 6", List(element=NUMBER), "item 2: expected one number"),
    ("ANSWER: [\"x\"]", List(element=VERDICT), "item 1: no answer among"),
    ("ANSWER: [1, [2]]", List(element=NUMBER), "item 2: expected number"),
    ("ANSWER: 1, 2", List(element=List(element=NUMBER)), "expected a JSON list of lists"),
    ("ANSWER:", TEXT, "the answer is empty"),
    ("```\n\n```", CODE, "no code found"),
]


@pytest.mark.parametrize(("text", "type_", "reason"), FAILURES)
def test_failures(text: str, type_: Type, reason: str) -> None:
    result = parse_value(text, type_)
    if reason == "":
        # documented leniency: these are read, not refused
        assert isinstance(result, ParsedValue)
        return
    assert isinstance(result, ParseFailure), result
    assert reason in result.reason


JSON_ROUND_TRIPS: list[tuple[Value, Type, object]] = [
    (3, NUMBER, 3),
    (2.5, NUMBER, 2.5),
    (True, BOOL, True),
    ("hi", TEXT, "hi"),
    ("revise", VERDICT, "revise"),
    ((1, 2), List(element=NUMBER), [1, 2]),
    ((("a",), ()), List(element=List(element=TEXT)), [["a"], []]),
]


@pytest.mark.parametrize(("value", "type_", "data"), JSON_ROUND_TRIPS)
def test_json_round_trips(value: Value, type_: Type, data: object) -> None:
    assert to_json(value, type_) == data
    assert from_json(data, type_) == value


@pytest.mark.parametrize(
    ("data", "type_", "message"),
    [
        (True, NUMBER, "value: expected a finite number, got True"),
        (float("nan"), NUMBER, "expected a finite number"),
        ("3", NUMBER, "expected a finite number, got '3'"),
        (1, BOOL, "expected true or false"),
        (3, TEXT, "expected a string"),
        ("maybe", VERDICT, "expected one of approve, revise, got 'maybe'"),
        ([1, "x"], List(element=NUMBER), r"value\[1\]: expected a finite number"),
        ("[1]", List(element=NUMBER), "expected a list"),
    ],
)
def test_from_json_errors_name_the_path(data: object, type_: Type, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        from_json(data, type_)  # type: ignore[arg-type]


# --- robustness: any reply at all is either a value of the type or a failure, never an error

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ALL_TYPES: list[Type] = [NUMBER, BOOL, TEXT, CODE, VERDICT, GRADE, List(element=NUMBER),
                         List(element=VERDICT), List(element=List(element=TEXT))]
REPLY_PIECES = st.sampled_from(["ANSWER:", "\\boxed{", "}", "####", "```", "\n", "[", "]", ",",
                                "1,000", "-3/4", "yes", "approve", "needs work", "- ", "1. ",
                                "'", '"', "=", "**", "e5", "/0", " "])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(REPLY_PIECES, st.text(max_size=5)), max_size=20),
       st.sampled_from(ALL_TYPES))
def test_parse_value_never_raises_and_values_have_the_type(pieces: list[str], type_: Type) -> None:
    result = parse_value("".join(pieces), type_)
    if isinstance(result, ParsedValue):
        assert from_json(to_json(result.value, type_), type_) == result.value
    else:
        assert result.reason

"""Answer extraction and equivalence on known right and wrong answers."""

from __future__ import annotations

import pytest

from trainer.tasks.math_answers import (
    answers_match,
    as_rational,
    extract_answer,
    last_boxed,
    normalize,
)


@pytest.mark.parametrize(("reply", "expected"), [
    ("So the answer is \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
    ("first \\boxed{1} then \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}",
     "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("nested \\boxed{\\sqrt{\\frac{a}{b}}} end", "\\sqrt{\\frac{a}{b}}"),
    ("\\fbox{7}", "7"),
    ("so \\boxed 5.", "5"),
    ("Janet sells 9 eggs.\n#### 1,234", "1,234"),
    ("The final answer is $42$.", "42"),
    ("Answer: 12", "12"),
    ("I think 3 then 5 and finally 7.", "7"),
    ("It costs -2.5 dollars, i.e. 3/4 of it", "3/4"),
    ("no numbers here", None),
    ("unterminated \\boxed{12", "12"),
])
def test_extract_answer(reply: str, expected: str | None) -> None:
    assert extract_answer(reply) == expected


def test_last_boxed_unterminated_is_none() -> None:
    assert last_boxed("\\boxed{12") is None
    assert last_boxed("nothing") is None


@pytest.mark.parametrize(("gold", "predicted"), [
    ("18", "18"),
    ("18", "$18"),
    ("18", "\\$18.00"),
    ("18", "18 dollars"),
    ("1000", "1,000"),
    ("\\frac{3}{4}", "0.75"),
    ("\\frac{3}{4}", "3/4"),
    ("\\dfrac{3}{4}", "\\frac{3}{4}"),
    ("-\\frac{1}{2}", "-0.5"),
    ("\\frac9{19}", "\\frac{9}{19}"),
    ("\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
    ("(-\\infty, 0]", "(-\\infty,0]"),
    ("90^\\circ", "90"),
    ("25\\%", "25"),
    ("10\\text{ cm}", "10"),
    ("864 \\mbox{ inches}^2", "864"),
    ("5", "x = 5"),
    ("-2x", "y = -2x"),
    ("\\text{(C)}", "(C)"),
    ("2\\sqrt{2}", "\\sqrt{8}"),
])
def test_equivalent_answers_match(gold: str, predicted: str) -> None:
    assert answers_match(gold, predicted)


@pytest.mark.parametrize(("gold", "predicted"), [
    ("18", "19"),
    ("18", "180"),
    ("\\frac{3}{4}", "0.7"),
    ("[2,5)", "[2,5]"),
    ("(3,\\frac{\\pi}{2})", "(\\frac{\\pi}{2},3)"),
    ("2x", "2"),
    ("\\sqrt{2}", "2"),
    ("5", ""),
    ("(C)", "(D)"),
])
def test_different_answers_do_not_match(gold: str, predicted: str) -> None:
    assert not answers_match(gold, predicted)


def test_normalize_and_rational() -> None:
    assert normalize(" \\left( 1, 2 \\right) .") == "(1,2)"
    assert as_rational("1,000") == 1000
    assert as_rational("-\\frac{1}{4}") == as_rational("-0.25")
    assert as_rational("1/0") is None
    assert as_rational("x") is None

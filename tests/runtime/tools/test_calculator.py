"""The calculator evaluates arithmetic exactly where it can and refuses everything else clearly."""

from __future__ import annotations

import math

import pytest

from runtime.tools.calculator import CalculatorError, calculate, evaluate

VALUES = [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("7 / 2", 3.5),
    ("7 // 2", 3),
    ("-7 // 2", -4),
    ("7 % 3", 1),
    ("2 ** 10", 1024),
    ("2 ^ 10", 1024),
    ("-3 ** 2", -9),
    ("+-+4", -4),
    ("sqrt(16)", 4.0),
    ("abs(-2.5)", 2.5),
    ("round(2.567, 2)", 2.57),
    ("floor(-1.5) + ceil(1.2)", 0),
    ("factorial(10)", 3628800),
    ("max(3, 9, 4) - min(2, 8)", 7),
    ("log(e)", 1.0),
    ("log(8, 2)", 3.0),
    ("10 ** -2", 0.01),
    ("3 × 4 ÷ 2", 6.0),
    ("2 ** 4095", 2**4095),
]


@pytest.mark.parametrize(("expression", "expected"), VALUES)
def test_values(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected)


def test_trigonometry_and_constants() -> None:
    assert evaluate("sin(pi / 2) + cos(0) + tan(0)") == pytest.approx(2.0)
    assert evaluate("exp(1)") == pytest.approx(math.e)


ERRORS = [
    ("", "empty expression"),
    ("1 +", "syntax error at column"),
    ("1 / 0", "division by zero at column 1"),
    ("5 % 0", "division by zero"),
    ("10 ** 10 ** 10", "exponent too large: 10000000000"),
    ("2 ** 100000", "too large"),
    ("9 ** 9999", "result of ** too large"),
    ("2.0 ** 5000", "result too large"),
    ("factorial(100000)", "factorial needs an integer"),
    ("factorial(2.5)", "factorial needs an integer"),
    ("sqrt(-1)", "sqrt: math domain error"),
    ("(-8) ** 0.5", "not a real number"),
    ("__import__('os')", "unknown function '__import__'"),
    ("x + 1", "unknown name 'x' at column 1"),
    ("'a' * 3", "only numbers are allowed"),
    ("True + 1", "only numbers are allowed"),
    ("[1, 2]", "unsupported syntax List"),
    ("(1).real", "unsupported syntax Attribute"),
    ("1 < 2", "unsupported syntax Compare"),
    ("round(1.5, ndigits=1)", "keyword arguments are not allowed"),
    ("max()", "max:"),
    ("1" + " + 1" * 1000, "longer than 2000 characters"),
]


@pytest.mark.parametrize(("expression", "message"), ERRORS)
def test_errors(expression: str, message: str) -> None:
    with pytest.raises(CalculatorError, match=message.replace("(", r"\(").replace("*", r"\*")):
        evaluate(expression)


def test_calculate_formats_results_and_errors_as_text() -> None:
    assert calculate("6 * 7") == "42"
    assert calculate("1 / 3") == "0.333333333333"
    assert calculate("4 / 2") == "2"
    assert calculate("1 / 0") == "error: division by zero at column 1"


# --- hostile expressions (issue 13) -------------------------------------------------------------

HOSTILE = [
    "round(1, -10**1000)",
    "round(1, 10**1000)",
    "round(2.5, -10**1000)",
    "-" * 1900 + "1",
    "(" * 300 + "1" + ")" * 300,
    "max(" + ",".join(["1"] * 500) + ")",
    "factorial(1000) * factorial(1000) * factorial(1000)",
    "floor(1e308 * 10)",
    "round(float('nan'))",
    "9 ** 9 ** 9",
    "(2 ** 4095) ** 2",
    "10 ** 10000 % 7",
    "1e308 ** 2",
]


@pytest.mark.parametrize("expression", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_expressions_fail_fast_with_a_message(expression: str) -> None:
    import time

    started = time.monotonic()
    reply = calculate(expression)
    assert time.monotonic() - started < 1.0
    assert reply.startswith("error: ") or reply


def test_round_with_huge_digits_is_refused_before_it_can_hang() -> None:
    reply = calculate("round(1, -10**1000)")
    assert reply == ("error: round: the digits must be within -1000..1000, got a number of "
                     "about 1001 digits at column 1")


def test_the_tool_runs_in_a_worker_process_and_survives_a_stuck_worker() -> None:
    import asyncio
    import os
    import signal

    from runtime.tools.registry import CalculatorTool

    tool = CalculatorTool()
    tool.worker.timeout_s = 0.3
    assert asyncio.run(tool.call("6 * 7")).text == "42"
    process = tool.worker._process
    assert process is not None and process.pid != os.getpid()
    os.kill(process.pid, signal.SIGSTOP)  # a worker that never answers, as a runaway would
    try:
        result = asyncio.run(tool.call("1 + 1"))
    finally:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
    assert not result.ok and "took longer than 0.3 s" in result.text
    assert asyncio.run(tool.call("2 + 3")).text == "5"  # a fresh worker
    tool.worker.close()


def test_the_event_loop_keeps_running_while_the_calculator_works() -> None:
    import asyncio

    from runtime.tools.registry import CalculatorTool

    tool = CalculatorTool()
    ticks: list[int] = []

    async def ticker() -> None:
        for index in range(3):
            ticks.append(index)
            await asyncio.sleep(0.01)

    async def both() -> str:
        result, _ = await asyncio.gather(tool.call("factorial(400) % 97"), ticker())
        return result.text

    assert asyncio.run(both()) == "0"
    assert ticks == [0, 1, 2]
    tool.worker.close()

"""Code extraction from replies and the splitting of HumanEval checks into cases."""

from __future__ import annotations

import pytest

from trainer.tasks.code_extraction import defines_function, extract_code
from trainer.tasks.code_harness import CasePlan, read_report, split_check


@pytest.mark.parametrize(("reply", "expected"), [
    ("Sure!\n```python\ndef f(x):\n    return x\n```\nDone.", "def f(x):\n    return x\n"),
    ("```\nprint(1)\n```\n```py\ndef g():\n    pass\n```", "def g():\n    pass\n"),
    ("```python\nx = 1\n```", "x = 1\n"),
    ("Here is my solution:\ndef f(x):\n    return x", "def f(x):\n    return x\n"),
    ("N = 3\ndef f():\n    return N\n", "N = 3\ndef f():\n    return N\n"),
    ("    return x + 1\n", "    return x + 1\n"),
    ("```python\ndef h():\n    return 2\n", "def h():\n    return 2\n"),
])
def test_extract_code(reply: str, expected: str) -> None:
    assert extract_code(reply) == expected


def test_defines_function() -> None:
    assert defines_function("import os\ndef add(a, b):\n    pass", "add")
    assert not defines_function("def add_one(a):\n    pass", "add")


def test_split_check_tags_cases_and_setup() -> None:
    test = (
        "METADATA = {}\n\n"
        "def check(candidate):\n"
        "    import math\n"
        "    assert candidate(1) == 2\n"
        "    for x in range(3):\n"
        "        assert candidate(x) == x + 1\n"
        "    assert True, 'debug marker'\n"
    )
    steps = split_check(test)
    assert [kind for kind, _ in steps] == ["setup", "case", "case", "setup"]
    assert steps[2][1].startswith("for x in range(3):\n    assert")
    with pytest.raises(ValueError, match="no `def check"):
        split_check("x = 1\n")


def test_read_report_counts_missing_cases_as_failed() -> None:
    plan = CasePlan(setup="", steps=(("case", "a"), ("setup", "b"), ("case", "c"), ("case", "d")))
    stdout = "noise\n@@n case 0 pass\n@@x case 2 pass\n@@n case 2 fail AssertionError: \n"
    report = read_report(stdout, "@@n", plan)
    assert (report.passed, report.total) == (1, 3)
    assert report.first_failure == "test 2: AssertionError: "

"""`docs/language.md` stays true: every code is documented under its title and severity, and
every example spec there produces exactly the diagnostic lines printed below it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from masdsl.diagnostics import CODES
from tests.test_checker_fixtures import run_checker

REFERENCE = Path(__file__).parent.parent / "docs" / "language.md"
EXAMPLE = re.compile(r"```mas\n(.*?)```\n\n```text\n(.*?)```", re.DOTALL)


def _diagnostic_examples() -> list[tuple[str, str]]:
    text = REFERENCE.read_text(encoding="utf-8")
    section = text[text.index("## Diagnostics"):]
    return [(source, expected) for source, expected in EXAMPLE.findall(section)]


def test_every_code_is_documented_with_its_title_and_severity() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for code, (severity, title) in CODES.items():
        assert f"### {code} {title} ({severity.value})" in text, code


@pytest.mark.parametrize("example", _diagnostic_examples(), ids=lambda pair: pair[1][:22])
def test_documented_example_produces_the_documented_diagnostic(
        example: tuple[str, str], tmp_path: Path) -> None:
    source, expected = example
    spec = tmp_path / "demo.mas"
    spec.write_bytes(source.rstrip("\n").encode("utf-8"))
    produced = [f"demo.mas:{d.span.line}:{d.span.column}: {d.code} {d.message}\n"
                f"  help: {d.help}" for d in run_checker(spec)]
    assert expected.rstrip("\n") in produced, "\n".join(produced)


def test_the_reference_has_an_example_for_every_checker_code() -> None:
    documented = {expected.split(": ", 1)[1].split()[0] for _, expected in
                  _diagnostic_examples()}
    assert set(CODES) - documented == {"MAS001", "MAS309", "MAS310", "MAS408", "MAS409",
                                          "MAS410"}

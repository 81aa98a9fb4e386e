"""Data-driven checker tests: every `tests/fixtures/invalid/*.mas` carries its expected
diagnostics inline, every `tests/fixtures/valid/*.mas` must check clean.

Inline expectations are comments: `x = foo(y)   # error[MAS101]: undefined name 'foo'`
means a diagnostic with code MAS101 and severity error starts on that line, and its message
contains the text after the colon (optional). Several may share a line. A comment line
`# with: key=value ...` sets checker options: `tools=a,b`, `engines=a,b` or any `Limits`
field (`max_agents=2`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from masdsl.checker import DEFAULT_TOOLS, check
from masdsl.diagnostics import CODES, Diagnostic, MasError
from masdsl.limits import Limits
from masdsl.parser import parse

FIXTURES = Path(__file__).parent / "fixtures"
INVALID = sorted((FIXTURES / "invalid").glob("*.mas"))
VALID = sorted((FIXTURES / "valid").glob("*.mas"))
EXPECTATION = re.compile(
    r"(error|warning)\[(MAS\d{3})\](?::\s*((?:(?!(?:error|warning)\[).)*))?")
OPTIONS = re.compile(r"^\s*#\s*with:([^#\n]*)", re.MULTILINE)
# Codes no checker fixture can pin: MAS001 needs invalid bytes (tested below), MAS408/MAS409/
# MAS410 belong to the compiler's cost analysis, MAS309 to its dead-node pass, and MAS310 to
# the designer's interface check (tests/runtime/test_designer.py).
NOT_CHECKER_CODES = {"MAS001", "MAS309", "MAS408", "MAS409", "MAS410", "MAS310"}


def run_checker(path: Path) -> list[Diagnostic]:
    """Parse and check one fixture with the options its `# with:` line sets."""
    data = path.read_bytes()
    options: dict[str, object] = {}
    tools, engines = DEFAULT_TOOLS, None
    for line in OPTIONS.findall(data.decode("utf-8", errors="replace")):
        for pair in line.split():
            key, _, value = pair.partition("=")
            if key == "tools":
                tools = frozenset(value.split(","))
            elif key == "engines":
                engines = frozenset(value.split(","))
            else:
                options[key] = int(value)
    limits = Limits.model_validate(options)
    try:
        program = parse(data, str(path), max_bytes=limits.max_bytes)
    except MasError as error:
        return error.diagnostics
    return check(program, limits=limits, tools=tools, engines=engines)


def expectations(path: Path) -> list[tuple[int, str, str, str]]:
    """(line, code, severity, message fragment) for every inline expectation."""
    found = []
    text = path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        comment = line[line.index("#"):]
        for severity, code, fragment in EXPECTATION.findall(comment):
            found.append((number, code, severity, fragment.strip()))
    return found


@pytest.mark.parametrize("path", INVALID, ids=lambda path: path.stem)
def test_invalid_fixture_reports_exactly_its_expected_diagnostics(path: Path) -> None:
    diagnostics = run_checker(path)
    expected = expectations(path)
    assert expected, f"{path.name} declares no expected diagnostics"
    actual_pairs = sorted({(d.span.line, d.code) for d in diagnostics})
    expected_pairs = sorted({(line, code) for line, code, _, _ in expected})
    shown = "\n".join(f"  {d.span.line}:{d.span.column} {d.code} {d.message}"
                      for d in diagnostics)
    assert actual_pairs == expected_pairs, f"{path.name} reported:\n{shown}"
    for line, code, severity, fragment in expected:
        matching = [d for d in diagnostics if d.span.line == line and d.code == code]
        assert any(d.severity == severity for d in matching), (line, code, severity)
        if fragment:
            assert any(fragment in d.message for d in matching), (line, code, fragment, shown)


@pytest.mark.parametrize("path", INVALID, ids=lambda path: path.stem)
def test_every_diagnostic_has_a_help_line_and_a_real_span(path: Path) -> None:
    for found in run_checker(path):
        assert found.help, f"{found.code} {found.message} has no help"
        assert found.span.start <= found.span.end
        assert found.path == str(path)


@pytest.mark.parametrize("path", VALID, ids=lambda path: path.stem)
def test_valid_fixture_checks_clean(path: Path) -> None:
    program = parse(path.read_bytes(), str(path))
    assert check(program) == []


def test_every_checker_code_is_pinned_by_a_fixture() -> None:
    pinned = {code for path in INVALID for _, code, _, _ in expectations(path)}
    missing = set(CODES) - NOT_CHECKER_CODES - pinned
    assert not missing, f"codes without a fixture: {sorted(missing)}"
    assert pinned <= set(CODES), f"fixtures name unknown codes: {sorted(pinned - set(CODES))}"


def test_invalid_utf8_is_mas001_at_the_bad_byte() -> None:
    data = b'mas s {\n  input question: text # caf\xe9\n}\n'
    with pytest.raises(MasError) as raised:
        parse(data, "bad.mas")
    (found,) = raised.value.diagnostics
    assert (found.code, found.span.line, found.path) == ("MAS001", 2, "bad.mas")
    assert "0xe9" in found.message

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


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = text.find("\n#", start + len(heading))
    return text[start:following if following != -1 else len(text)]


def test_every_registry_builtin_has_a_row_in_the_builtin_patterns_table() -> None:
    from masdsl.patterns import BUILTINS

    table = _section(REFERENCE.read_text(encoding="utf-8"), "## Builtin patterns")
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    for name in BUILTINS:
        assert any(re.search(rf"`{name}\(", row.split(" | ")[0]) for row in rows), name


def test_what_an_agent_receives_covers_every_builtin_that_shows_agents_inputs() -> None:
    """A builtin whose agents see data inputs (labelled ones included) has a row saying
    what they see, and so do `reply(x)` and `rounds(x)` as inputs."""
    from masdsl.patterns import BUILTINS

    text = REFERENCE.read_text(encoding="utf-8")
    receives = _section(text, "### What an agent receives")
    rows = [line.split(" | ")[0] for line in receives.splitlines() if line.startswith("| `")]
    showing = [name for name, builtin in BUILTINS.items()
               if builtin.labelled_inputs or builtin.subject.takes_agents]
    for name in [*showing, "reply", "rounds"]:
        assert any(f"{name}(" in row for row in rows), name
    labelled = re.search(r"\*\*Labelled inputs\*\*: (.*?) take data inputs", text, re.DOTALL)
    assert labelled is not None
    assert set(re.findall(r"`(\w+)`", labelled.group(1))) == {
        name for name, builtin in BUILTINS.items() if builtin.labelled_inputs}

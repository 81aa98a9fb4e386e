"""Every baseline system compiles, is canonically formatted, and declares the interface of
the tasks it is run on (math: question -> answer: number; code: question -> answer: code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from masdsl.formatter import format_source
from runtime.designer import Interface, compile_design

SYSTEMS = Path(__file__).resolve().parents[2] / "benchmarks" / "systems"
MATH = sorted(SYSTEMS.glob("*.mas"))
CODE = sorted((SYSTEMS / "code").glob("*.mas"))


@pytest.mark.parametrize(("path", "output"), [(p, "number") for p in MATH] +
                         [(p, "code") for p in CODE],
                         ids=lambda value: value.stem if isinstance(value, Path) else value)
def test_baseline_system_compiles_against_its_task_interface(path: Path, output: str) -> None:
    text = path.read_text(encoding="utf-8")
    compiled, diagnostics = compile_design(text, Interface(outputs=(("answer", output),)),
                                           str(path))
    assert compiled is not None, [d.render() for d in diagnostics]
    assert not [d for d in diagnostics if d.severity.value == "error"]
    assert format_source(text) == text


def test_the_library_has_every_pattern_for_both_kinds_of_task() -> None:
    patterns = {"single_agent", "self_consistency", "solver_verifier", "ensemble_judge",
                "debate_judge", "router"}
    assert {p.stem for p in MATH} == patterns | {"direct_answer"}  # short answers only
    assert {p.stem for p in CODE} == patterns

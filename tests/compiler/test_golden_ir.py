"""Golden IR JSON per example spec (`examples/*.mas` -> `tests/compiler/golden/<stem>.json`,
indented, sorted, reviewed by hand once). Regenerate after an intended change with
`MASDSL_UPDATE_GOLDEN=1 python -m pytest tests/compiler/test_golden_ir.py` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler.api import compile as compile_spec
from compiler.export_json import load, to_json
from compiler.validate import validate_ir

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden")
EXAMPLES = sorted((ROOT / "examples").glob("*.mas"))


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_example_matches_its_golden_ir(example: Path) -> None:
    compiled = compile_spec(example.read_bytes(), path=f"examples/{example.name}")
    text = to_json(compiled.ir, indent=2)
    golden = GOLDEN / f"{example.stem}.json"
    if os.environ.get("MASDSL_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file for {example.name}: set MASDSL_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")
    assert validate_ir(load(text)) == compiled.ir

"""The language-server benchmark's spec is a real, valid 2,000-line spec, and the benchmark
runs end to end (a short run)."""

from __future__ import annotations

import json

import pytest

from benchmarks.lsp import generated_spec, main
from masdsl.checker import check
from masdsl.parser import parse


def test_generated_spec_is_valid_and_long_enough() -> None:
    text = generated_spec(2000)
    assert 2000 <= text.count("\n") < 2100
    assert check(parse(text)) == []


@pytest.mark.slow
def test_benchmark_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pygls", reason="the language server needs the `lsp` extra (pygls)")
    assert main(["--lines", "200", "--keystrokes", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["keystrokes"] == 3 and result["lines"] >= 200
    assert 0 < result["keystroke_median_s"] < 30

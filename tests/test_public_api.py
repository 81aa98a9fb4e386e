"""The package's public API: `masdsl.parse/check/analyze/Limits/Diagnostic/MasError`."""

from __future__ import annotations

import subprocess
import sys

import pytest

import masdsl


def test_parse_check_analyze_round_trip() -> None:
    program = masdsl.parse('mas s { input q: text output o: text agent a { role "r" } '
                           "flow { o = a(q) } }")
    assert masdsl.check(program) == []
    assert masdsl.analyze(program, limits=masdsl.Limits(max_agents=1)).ok
    found = masdsl.check(program, limits=masdsl.Limits(max_nodes=1))
    assert [d.code for d in found] == ["MAS405"]
    assert isinstance(found[0], masdsl.Diagnostic)


def test_parse_errors_are_mas_errors() -> None:
    with pytest.raises(masdsl.MasError):
        masdsl.parse("mas {")


def test_unknown_attributes_raise_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = masdsl.compile_everything


def test_importing_masdsl_does_not_load_lark() -> None:
    code = "import sys, masdsl; print('lark' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"

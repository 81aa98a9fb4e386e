"""`masc compile` and `masc graph`, and the `compile` API: exit codes, output files written
atomically or not at all, stats, limits, drawing formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compiler_helpers import spec

from compiler import export_dot
from compiler.api import compile as compile_spec
from compiler.export_json import load
from masdsl.cli import main
from masdsl.diagnostics import MasError

VALID = spec("    answer = vote(ensemble(solver, n: 3, question), strategy: majority)")
INVALID = spec("    answer = solver(nowhere)")


@pytest.fixture
def valid(tmp_path: Path) -> Path:
    path = tmp_path / "spec.mas"
    path.write_text(VALID, encoding="utf-8")
    return path


def test_api_returns_ir_stats_and_warnings() -> None:
    compiled = compile_spec(spec("    dead = alt(question)\n    answer = solver(question)"))
    assert compiled.stats.llm_calls == 1
    codes = [item.code for item in compiled.diagnostics]
    assert codes.count("MAS309") == 1 and not any(item.is_error for item in compiled.diagnostics)
    assert set(codes) <= {"MAS309", "MAS105"}  # the helper declares agents it does not use
    assert load(compiled.to_json()) == compiled.ir


def test_invalid_programs_never_reach_lowering(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(program: object, *args: object) -> None:
        raise AssertionError("lowering ran on an invalid program")

    monkeypatch.setattr("compiler.api.lower", forbidden)
    with pytest.raises(MasError) as error:
        compile_spec(INVALID)
    assert any(item.code == "MAS101" for item in error.value.diagnostics)


def test_compile_writes_json_and_prints_stats(valid: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "spec.json"
    assert main(["compile", str(valid), "-o", str(out), "--stats"]) == 0
    printed = capsys.readouterr().out
    assert "worst-case LLM calls            3" in printed
    assert "  logical agent calls" in printed and "  format retries" in printed
    assert json.loads(out.read_text(encoding="utf-8"))["schema_version"] == "1"
    assert main(["compile", str(valid)]) == 0
    assert load(capsys.readouterr().out) == load(out.read_text(encoding="utf-8"))


def test_errors_exit_1_and_write_nothing(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.mas"
    bad.write_text(INVALID, encoding="utf-8")
    out = tmp_path / "bad.json"
    assert main(["compile", str(bad), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert "MAS101" in captured.err and captured.out == ""
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_limits_in_worst_case_terms_exit_1(valid: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compile", str(valid), "--max-llm-calls", "2"]) == 1
    assert "MAS408" in capsys.readouterr().err
    assert main(["compile", str(valid), "--max-generated-tokens", "100"]) == 1
    assert "MAS409" in capsys.readouterr().err


def test_unwritable_output_and_unreadable_input_exit_2(
        valid: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-folder" / "spec.json"
    assert main(["compile", str(valid), "-o", str(target)]) == 2
    assert f"masc: cannot write {target}" in capsys.readouterr().err
    assert main(["compile", str(tmp_path / "nope.mas")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_graph_formats(valid: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["graph", str(valid), "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith('digraph "t"')
    out = tmp_path / "g.mmd"
    assert main(["graph", str(valid), "--format", "mermaid", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("flowchart TD")
    monkeypatch.setattr(export_dot.shutil, "which", lambda name: None)
    assert main(["graph", str(valid), "--format", "svg", "-o", str(tmp_path / "g.svg")]) == 2
    assert "Graphviz 'dot' is not installed" in capsys.readouterr().err
    assert not (tmp_path / "g.svg").exists()

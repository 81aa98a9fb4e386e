"""`masc check` and `masc fmt`, run in-process through `masdsl.cli.main` (one subprocess
measures start-up and the import footprint)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from masdsl.cli import main
from masdsl.cli.fmt import write_atomically

ROOT = Path(__file__).resolve().parent.parent
CLEAN = "mas s {\n  input q: text\n  output a: text\n\n  agent w {\n    role \"Write.\"\n  }\n\n" \
        "  flow {\n    a = w(q)\n  }\n}\n"
MESSY = "mas s { input q: text output a: text agent w { role \"Write.\" } flow { a = w(q) } }\n"
BROKEN = "mas s {\n  flow { a = w( }\n}\n"


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


# ---- check ------------------------------------------------------------------------------


def test_check_clean_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "ok.mas"
    spec.write_text(CLEAN)
    assert main(["check", str(spec)]) == 0
    assert capsys.readouterr().out == "All checks passed.\n"


def test_check_syntax_error_concise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.mas"
    spec.write_text(BROKEN)
    assert main(["check", "--output-format", "concise", str(spec)]) == 1
    assert capsys.readouterr().out == f"{spec}:2:17: MAS003 unexpected '}}'\nFound 1 error.\n"


def test_check_syntax_error_full_is_the_default(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.mas"
    spec.write_text(BROKEN)
    assert main(["check", str(spec)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"error[MAS003]: unexpected '}}'\n --> {spec}:2:17\n  |\n"
                          "2 |   flow { a = w( }\n  |                 ^\n  = help: expected")
    assert out.endswith("\n\nFound 1 error.\n")


def test_check_reads_stdin(monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, b"mas s { flow { x = } }")
    assert main(["check", "--output-format", "concise", "-"]) == 1
    assert capsys.readouterr().out.startswith("<stdin>:1:20: MAS003 unexpected '}'")


def test_check_invalid_utf8_is_a_diagnostic(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "binary.mas"
    spec.write_bytes(b"mas s {\xff}")
    assert main(["check", "--output-format", "concise", str(spec)]) == 1
    assert "MAS001 the file is not valid UTF-8" in capsys.readouterr().out


def test_check_missing_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "ok.mas"
    spec.write_text(CLEAN)
    missing = tmp_path / "missing.mas"
    assert main(["check", str(missing), str(spec)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"masc: cannot read {missing}: No such file or directory\n"
    assert captured.out == ""  # never "All checks passed." when a file was not checked


def test_check_reports_checker_diagnostics(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "undefined.mas"
    spec.write_text("mas s {\n  output a: text\n  flow {\n    a = nowhere\n  }\n}\n")
    assert main(["check", "--output-format", "concise", str(spec)]) == 1
    assert f"{spec}:4:9: MAS101" in capsys.readouterr().out


def test_check_starts_fast_and_imports_nothing_heavy() -> None:
    example = ROOT / "examples" / "self_consistency.mas"
    probe = ("import sys\nfrom masdsl.cli import main\ncode = main(['check', sys.argv[1]])\n"
             "heavy = {'networkx', 'torch', 'transformers', 'llama_cpp', 'ray', 'vllm', "
             "'numpy', 'llguidance', 'xgrammar'}\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
             "sys.exit(code)\n")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", probe, str(example)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith("[]\n"), result.stdout
    assert elapsed < 2.0  # measured ~0.2 s; generous for a busy 2-core machine


# ---- fmt --------------------------------------------------------------------------------


def test_fmt_rewrites_in_place_and_keeps_the_mode(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "messy.mas"
    spec.write_text(MESSY)
    spec.chmod(0o640)
    assert main(["fmt", str(spec)]) == 0
    assert spec.read_text() == CLEAN
    assert spec.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["messy.mas"]  # no temp file left
    assert "1 file reformatted, 0 files already formatted" in capsys.readouterr().err


def test_fmt_leaves_formatted_files_alone(tmp_path: Path) -> None:
    spec = tmp_path / "clean.mas"
    spec.write_text(CLEAN)
    before = spec.stat()
    assert main(["fmt", str(spec)]) == 0
    after = spec.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_fmt_check_lists_changes_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy, clean = tmp_path / "messy.mas", tmp_path / "clean.mas"
    messy.write_text(MESSY)
    clean.write_text(CLEAN)
    assert main(["fmt", "--check", str(messy), str(clean)]) == 1
    assert capsys.readouterr().out == f"would reformat {messy}\n"
    assert messy.read_text() == MESSY
    assert main(["fmt", "--check", str(clean)]) == 0


def test_fmt_diff_prints_a_unified_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messy = tmp_path / "messy.mas"
    messy.write_text(MESSY)
    assert main(["fmt", "--diff", str(messy)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"--- {messy}\n+++ {messy}\n@@ -1 +1,12 @@\n-mas s {{ input")
    assert "+  flow {\n" in out
    assert messy.read_text() == MESSY


def test_fmt_stdin_to_stdout(monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    _stdin(monkeypatch, MESSY.encode())
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == CLEAN


def test_fmt_syntax_error_is_reported_and_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken, messy = tmp_path / "broken.mas", tmp_path / "messy.mas"
    broken.write_text(BROKEN)
    messy.write_text(MESSY)
    assert main(["fmt", str(broken), str(messy)]) == 1
    assert broken.read_text() == BROKEN
    assert messy.read_text() == CLEAN  # the other file is still formatted
    err = capsys.readouterr().err
    assert "error[MAS003]: unexpected '}'" in err
    assert f"masc: {broken} was not formatted: it does not parse" in err


def test_fmt_missing_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", str(tmp_path / "nope.mas")]) == 2
    assert "masc: cannot read" in capsys.readouterr().err


def test_atomic_write_failure_keeps_the_original(tmp_path: Path) -> None:
    spec = tmp_path / "spec.mas"
    spec.write_text(CLEAN)
    with pytest.raises(UnicodeEncodeError):
        write_atomically(str(spec), "half\udc80written")  # cannot be encoded: fails mid-way
    assert spec.read_text() == CLEAN
    assert os.listdir(tmp_path) == ["spec.mas"]


def test_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt"]) == 2
    assert main(["check", "--output-format", "fancy", "x.mas"]) == 2


def test_check_warnings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "unused.mas"
    spec.write_text(CLEAN.replace("  flow {", "  agent idle {\n    role \"Idle.\"\n  }\n\n"
                                             "  flow {"))
    assert main(["check", "--output-format", "concise", str(spec)]) == 0
    out = capsys.readouterr().out
    assert f"{spec}:9:9: MAS105" in out
    assert out.endswith("Found 1 warning.\n")


LONG_CALL = """mas s {
  input q: text
  output a: text

  agent r {
    role "r"
  }

  flow {
    a = r(q, first_label_is_long: q, second_label_is_longer: q, third: q)
  }
}
"""


def test_fmt_wraps_at_the_line_width(tmp_path: Path) -> None:
    spec = tmp_path / "long.mas"
    spec.write_text(LONG_CALL)
    assert main(["fmt", "--check", str(spec)]) == 0  # 76 columns fit in the default 100
    assert main(["fmt", "--line-width", "60", str(spec)]) == 0
    assert "    a = r(\n      q,\n      first_label_is_long: q,\n" in spec.read_text()
    assert main(["fmt", "--check", "--line-width", "60", str(spec)]) == 0
    assert main(["fmt", "--check", str(spec)]) == 1  # the default width joins it again


def test_fmt_rejects_a_tiny_line_width(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "--line-width", "3", str(tmp_path / "x.mas")]) == 2
    assert "below the minimum" in capsys.readouterr().err

"""Regression tests for the front-end defects of issue 13 (medium and low): line endings, BOM,
control bytes in diagnostics, bounded reads, `check` on unreadable files, `fmt` and links,
owners and signals, and the cost of hints and rendering on huge inputs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from masdsl.cli import main
from masdsl.cli.fmt import write_atomically
from masdsl.formatter import format_source
from masdsl.parser import parse
from masdsl.render import render_diagnostics

SPEC = """mas demo {
  input question: text
  output answer: text
  agent solver { role "Solve." }
  flow { answer = solver(question) }
}
"""
ROOT = Path(__file__).resolve().parents[1]


def masc(*args: str, stdin: bytes | None = None,
         timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "masdsl.cli", *args], input=stdin,
                          capture_output=True, timeout=timeout, env=environment, cwd=ROOT)


# --- line endings and the byte-order mark --------------------------------------------------

def test_a_lone_cr_ends_a_comment_like_a_newline() -> None:
    source = SPEC.replace("  flow {", "  # a comment\r  flow {")
    program = parse(source)
    assert any(item.kind == "flow" for item in program.items)
    assert [comment.text for comment in program.comments] == ["# a comment"]


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_every_line_ending_gives_the_same_program_and_format(ending: str) -> None:
    source = SPEC.replace("\n", " # note" + ending, 2).replace("\n", ending)
    reference = SPEC.replace("\n", " # note\n", 2)
    assert format_source(source) == format_source(reference)
    assert parse(source).model_dump(exclude={"span"}).keys()


def test_a_utf8_bom_is_accepted_and_spans_stay_on_the_original_text() -> None:
    from masdsl.checker import check

    source = "\ufeff" + SPEC.replace("solver(question)", "solver(questoin)")
    program = parse("\ufeff" + SPEC)
    assert check(program) == []
    errors = [item for item in check(parse(source)) if item.code == "MAS101"]
    assert [source[item.span.start:item.span.end] for item in errors] == ["questoin"]


# --- control bytes in diagnostics ------------------------------------------------------------

def test_control_bytes_and_ansi_escapes_are_escaped_in_diagnostics(tmp_path: Path) -> None:
    spec = tmp_path / "evil.mas"
    spec.write_bytes(SPEC.replace("Solve.", "Solve.\x1b[2J\x07").replace(
        "answer = solver(question)", "answer = solver(q\x1b[31mx)").encode())
    result = masc("check", str(spec))
    assert b"\x1b" not in result.stdout + result.stderr
    assert b"\\x1b" in result.stdout


# --- reading -------------------------------------------------------------------------------

def test_check_of_dev_zero_is_refused_without_reading_it_all() -> None:
    started = time.monotonic()
    result = masc("check", "/dev/zero")
    assert result.returncode == 2
    assert b"larger than 1,000,000 bytes" in result.stderr
    assert time.monotonic() - started < 20


def test_endless_stdin_is_refused() -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen([sys.executable, "-m", "masdsl.cli", "check", "-"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=environment, cwd=ROOT) as process:
        assert process.stdin is not None and process.stderr is not None
        try:
            for _ in range(64):
                process.stdin.write(b"#" * 65536)
        except BrokenPipeError:
            pass
        process.stdin.close()
        assert process.wait(timeout=30) == 2
        assert b"larger than" in process.stderr.read()


def test_check_never_says_all_passed_when_a_file_was_unreadable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "missing.mas")]) == 2
    out, err = capsys.readouterr()
    assert "All checks passed" not in out
    assert "cannot read" in err
    assert main(["check", str(tmp_path)]) == 2
    assert "it is a directory" in capsys.readouterr().err


# --- fmt -------------------------------------------------------------------------------------

UGLY = SPEC.replace("  flow { answer = solver(question) }", "flow{answer=solver(question)}")


def test_fmt_formats_a_symlinks_target_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "real.mas"
    target.write_text(UGLY)
    link = tmp_path / "link.mas"
    link.symlink_to(target)
    assert main(["fmt", str(link)]) == 0
    assert link.is_symlink()
    assert target.read_text() == format_source(UGLY)


def test_fmt_keeps_hard_links_and_mode(tmp_path: Path) -> None:
    first = tmp_path / "a.mas"
    first.write_text(UGLY)
    os.chmod(first, 0o640)
    second = tmp_path / "b.mas"
    os.link(first, second)
    assert main(["fmt", str(first)]) == 0
    assert os.stat(first).st_ino == os.stat(second).st_ino
    assert second.read_text() == format_source(UGLY)
    assert os.stat(first).st_mode & 0o777 == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_fmt_keeps_the_owner(tmp_path: Path) -> None:
    spec = tmp_path / "owned.mas"
    spec.write_text(UGLY)
    os.chown(spec, 65534, 65534)
    assert main(["fmt", str(spec)]) == 0
    info = os.stat(spec)
    assert (info.st_uid, info.st_gid) == (65534, 65534)
    assert spec.read_text() == format_source(UGLY)


def test_sigterm_during_the_write_leaves_no_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "spec.mas"
    spec.write_text(UGLY)

    def terminated(descriptor: int) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    def earlier_handler(number: int, frame: object) -> None:
        raise AssertionError("the handler installed before the write must not run during it")

    monkeypatch.setattr(os, "fsync", terminated)
    previous = signal.signal(signal.SIGTERM, earlier_handler)
    try:
        with pytest.raises(SystemExit) as stopped:
            write_atomically(str(spec), format_source(UGLY))
        assert signal.getsignal(signal.SIGTERM) is earlier_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert sorted(path.name for path in tmp_path.iterdir()) == ["spec.mas"]
    assert spec.read_text() == UGLY


# --- cost of hints and rendering ----------------------------------------------------------

def test_a_thousand_undefined_similar_names_check_quickly() -> None:
    from masdsl.checker import check

    lines = "\n".join(f"    value_{i:06d} = solver(valuex_{i:06d})" for i in range(1000))
    source = SPEC.replace("  flow { answer = solver(question) }",
                          f"  flow {{\n{lines}\n    answer = solver(question)\n  }}")
    started = time.monotonic()
    found = check(parse(source))
    assert time.monotonic() - started < 10
    assert sum(1 for item in found if item.code == "MAS101") == 1000
    assert found[0].help == "did you mean 'value_000000'?"


def test_full_rendering_splits_the_source_once() -> None:
    from masdsl.diagnostics import diagnostic
    from masdsl.spans import Span

    source = "x\n" * 50_000
    found = [diagnostic("MAS113", Span.point(source, 2 * line), "w", path="big.mas")
             for line in range(0, 45_000)]
    started = time.monotonic()
    text = render_diagnostics(found, {"big.mas": source}, "full")
    assert time.monotonic() - started < 10
    assert text.count("warning[MAS113]") == 45_000

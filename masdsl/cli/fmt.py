"""`masc fmt FILE...`: rewrite specs in the canonical layout.

Files are rewritten in place through a temporary file and `os.replace`, so a file is never
left half-written (symbolic links are followed; owner, mode and hard links are kept; see
`write_atomically`). `--check` writes nothing and exits 1 when a file would change; `--diff`
prints a unified diff instead of writing. `--line-width N` (default 100) is where long
statements wrap. `-` reads standard input and writes standard output. A file that does not
parse is reported and left untouched (exit 1); a file that cannot be read or written is
exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from masdsl.cli._files import ReadFailure, display_text, read_source


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "fmt", help="format specs in the canonical layout",
        description="Format .mas specs in place (canonical, idempotent, keeps comments).")
    parser.add_argument("files", nargs="+", metavar="FILE", help="spec files; - reads stdin")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 and list the files that would change")
    mode.add_argument("--diff", action="store_true",
                      help="write nothing; print a unified diff of the changes")
    parser.add_argument("--line-width", type=_width, default=100, metavar="N",
                        help="wrap statements wider than N columns (default 100)")
    parser.set_defaults(run=run)


def _width(text: str) -> int:
    """A `--line-width` value: a whole number of at least 20 columns."""
    try:
        width = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if width < 20:
        raise argparse.ArgumentTypeError(f"{width} is below the minimum of 20")
    return width


def run(args: argparse.Namespace) -> int:
    from masdsl.diagnostics import MasError
    from masdsl.formatter import format_source
    from masdsl.parser import decode_source
    from masdsl.render import render_diagnostics

    status = 0
    changed = unchanged = 0
    for name in args.files:
        try:
            source = read_source(name)
        except ReadFailure as failure:
            print(failure, file=sys.stderr)
            status = 2
            continue
        try:
            original = decode_source(source.data, source.path)
            formatted = format_source(original, source.path, args.line_width)
        except MasError as error:
            sys.stderr.write(render_diagnostics(
                error.diagnostics, {source.path: display_text(source.data)}, "full"))
            print(f"masc: {source.path} was not formatted: it does not parse",
                  file=sys.stderr)
            status = max(status, 1)
            continue
        if formatted == original:
            unchanged += 1
            if source.is_stdin and not (args.check or args.diff):
                sys.stdout.write(formatted)
            continue
        changed += 1
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                original.splitlines(keepends=True), formatted.splitlines(keepends=True),
                fromfile=source.path, tofile=source.path))
            status = max(status, 1)
        elif args.check:
            print(f"would reformat {source.path}")
            status = max(status, 1)
        elif source.is_stdin:
            sys.stdout.write(formatted)
        else:
            try:
                write_atomically(source.path, formatted)
            except OSError as error:
                print(f"masc: cannot write {source.path}: {error.strerror or error}",
                      file=sys.stderr)
                status = 2
    if not (len(args.files) == 1 and args.files[0] == "-"):
        verb = "would be reformatted" if args.check or args.diff else "reformatted"
        print(f"{_files(changed)} {verb}, {_files(unchanged)} already formatted",
              file=sys.stderr)
    return status


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def write_atomically(path: str, text: str) -> None:
    """Replace the spec at `path` with `text` (UTF-8) so that readers see the old or the new
    file, never a partial one.

    - a symbolic link is followed: its target is formatted and the link stays a link;
    - the permission bits and the owner are kept (the owner when we are allowed to set it);
    - a file with other hard links, or whose owner we could not keep, is rewritten in place
      instead (a rename would cut the links or change the owner); that write is not atomic;
    - SIGTERM or SIGHUP during the write removes the temporary file before the exit."""
    target = os.path.realpath(path)
    info = os.stat(target)
    data = text.encode("utf-8")
    if info.st_nlink > 1:
        _write_in_place(target, data)
        return
    directory = os.path.dirname(target)
    with _cleanup_on_termination():
        descriptor, temporary = tempfile.mkstemp(
            dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, info.st_mode & 0o7777)
            if not _keep_owner(temporary, info):
                os.unlink(temporary)
                _write_in_place(target, data)
                return
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


def _keep_owner(temporary: str, info: os.stat_result) -> bool:
    current = os.stat(temporary)
    if (current.st_uid, current.st_gid) == (info.st_uid, info.st_gid):
        return True
    try:
        os.chown(temporary, info.st_uid, info.st_gid)
    except PermissionError:
        return False
    return True


def _write_in_place(target: str, data: bytes) -> None:
    with open(target, "r+b") as handle:
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def _cleanup_on_termination() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit for the duration, so `finally` clauses run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number: int, frame: object) -> None:
        raise SystemExit(128 + number)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)

"""Reading the specs named on a `masc` command line (`-` is standard input)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

STDIN = "-"
STDIN_PATH = "<stdin>"


@dataclass(frozen=True)
class SourceFile:
    """One spec as read: the path shown in messages and its raw bytes."""

    path: str
    data: bytes

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN_PATH


class ReadFailure(Exception):
    """A file could not be read; the message is the one `masc` prints."""


def read_source(name: str) -> SourceFile:
    """Read `name` (or standard input for `-`), or raise ReadFailure with
    `masc: cannot read NAME: reason`."""
    if name == STDIN:
        return SourceFile(STDIN_PATH, sys.stdin.buffer.read())
    try:
        with open(name, "rb") as handle:
            return SourceFile(name, handle.read())
    except OSError as error:
        reason = error.strerror or str(error)
        raise ReadFailure(f"masc: cannot read {name}: {reason}") from None


def display_text(data: bytes) -> str:
    """The text used for source snippets: UTF-8, with undecodable bytes replaced."""
    return data.decode("utf-8", errors="replace")

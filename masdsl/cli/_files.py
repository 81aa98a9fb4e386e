"""Reading the specs named on a `masc` command line (`-` is standard input)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import BinaryIO

from masdsl.parser import MAX_SOURCE_BYTES

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


def read_source(name: str, max_bytes: int = MAX_SOURCE_BYTES) -> SourceFile:
    """Read `name` (or standard input for `-`), or raise ReadFailure with
    `masc: cannot read NAME: reason`. At most `max_bytes` are read: a larger input (a huge
    file, `/dev/zero`, an endless pipe) is refused without reading the rest."""
    if name == STDIN:
        return SourceFile(STDIN_PATH, _bounded(sys.stdin.buffer, STDIN_PATH, max_bytes))
    try:
        with open(name, "rb") as handle:
            return SourceFile(name, _bounded(handle, name, max_bytes))
    except IsADirectoryError:
        raise ReadFailure(f"masc: cannot read {name}: it is a directory") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ReadFailure(f"masc: cannot read {name}: {reason}") from None


def _bounded(handle: BinaryIO, name: str, max_bytes: int) -> bytes:
    data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ReadFailure(f"masc: cannot read {name}: larger than {max_bytes:,} bytes, the "
                          "largest spec accepted (MAS407)")
    return data


def display_text(data: bytes) -> str:
    """The text used for source snippets: UTF-8, with undecodable bytes replaced."""
    return data.decode("utf-8", errors="replace")

"""Offsets in a spec's text <-> LSP positions (zero-based line, column in code units).

LSP columns count code units of the negotiated position encoding (UTF-16 unless the client
offers another); our spans count Python characters. `LineIndex` converts both ways in
O(log lines) plus the length of one line, so a 2,000-line spec is never rescanned per token.
"""

from __future__ import annotations

from bisect import bisect_right

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def code_units(text: str, encoding: str = UTF16) -> int:
    """How many code units `text` takes in `encoding`."""
    if text.isascii() or encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", errors="surrogatepass"))
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


class LineIndex:
    """Line starts of one text version, for converting offsets and positions."""

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        self.text = text
        self.encoding = encoding
        self.line_starts = [0]
        self.line_starts.extend(index + 1 for index, char in enumerate(text) if char == "\n")

    def line_text(self, line: int) -> str:
        """Line `line` (zero-based) without its newline; '' past the end."""
        if line >= len(self.line_starts):
            return ""
        start = self.line_starts[line]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def position(self, offset: int) -> tuple[int, int]:
        """(line, character) of a character offset, both zero-based."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect_right(self.line_starts, offset) - 1
        start = self.line_starts[line]
        return line, code_units(self.text[start:offset], self.encoding)

    def offset(self, line: int, character: int) -> int:
        """The character offset of an LSP position, clamped to the text (a column past the
        end of its line means the line's end)."""
        if line >= len(self.line_starts):
            return len(self.text)
        start = self.line_starts[max(0, line)]
        text = self.line_text(line)
        if text.isascii() or self.encoding == UTF32:
            return start + min(character, len(text))
        units = 0
        for index, char in enumerate(text):
            if units >= character:
                return start + index
            units += code_units(char, self.encoding)
        return start + len(text)

"""Source spans: where in a spec a node, token or diagnostic comes from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Span(BaseModel):
    """A half-open character range `[start, end)` of a source text, with 1-based line/column
    of both ends (the end column is the column just past the last character)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, text: str, offset: int) -> Span:
        """An empty span at `offset` of `text` (used for 'unexpected end of input')."""
        offset = max(0, min(offset, len(text)))
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        return cls(start=offset, end=offset, line=line, column=column, end_line=line,
                   end_column=column)

    @classmethod
    def of_range(cls, text: str, start: int, end: int) -> Span:
        """The span of `text[start:end]`, lines and columns computed from the text."""
        first, last = cls.point(text, start), cls.point(text, end)
        return cls(start=first.start, end=last.start, line=first.line, column=first.column,
                   end_line=last.line, end_column=last.column)

    def cover(self, other: Span) -> Span:
        """The smallest span containing both spans."""
        first = self if self.start <= other.start else other
        last = self if self.end >= other.end else other
        return Span(start=first.start, end=last.end, line=first.line, column=first.column,
                    end_line=last.end_line, end_column=last.end_column)


NO_SPAN = Span(start=0, end=0, line=1, column=1, end_line=1, end_column=1)

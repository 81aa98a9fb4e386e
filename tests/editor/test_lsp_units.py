"""Pure pieces of the language server: position encodings, the symbol index, completion
contexts and quick fixes on snapshots (the protocol itself is tested in test_lsp.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("lsprotocol", reason="the language server needs the `lsp` extra")

from masdsl.checker import check
from masdsl.cli.lsp.actions import code_actions
from masdsl.cli.lsp.completion import blank_strings_and_comments, enclosing_headers, open_call
from masdsl.cli.lsp.document import Snapshot
from masdsl.cli.lsp.positions import UTF8, UTF16, UTF32, LineIndex
from masdsl.parser import parse

TEXT = 'mas s {\n  agent a { role "héllo 😀 wörld" temperature 0.5 }\n}\n'


@pytest.mark.parametrize(("encoding", "column"), [(UTF16, 34), (UTF8, 38), (UTF32, 33)])
def test_positions_round_trip_in_every_encoding(encoding: str, column: int) -> None:
    lines = LineIndex(TEXT, encoding)
    offset = TEXT.index("temperature")
    assert lines.position(offset) == (1, column)
    assert lines.offset(1, column) == offset
    assert lines.offset(1, 10_000) == TEXT.index("\n}")  # past the end: the line's end
    assert lines.offset(99, 0) == len(TEXT)


def test_completion_contexts_ignore_strings_and_comments() -> None:
    text = 'mas s {\n  agent a {\n    role "{ not a block"  # { nor this\n    '
    masked = blank_strings_and_comments(text)
    assert len(masked) == len(text)
    assert [header.split()[0] for header in enclosing_headers(masked)] == ["mas", "agent"]
    assert open_call("    x = ensemble([a, b], n: 2, ") == "ensemble"
    assert open_call("    x = solver(q)") is None


def test_unused_input_is_removed_by_its_quick_fix() -> None:
    text = ("mas s {\n  input question: text\n  input spare: text\n  output answer: text\n\n"
            "  agent a { role \"r\" }\n  flow { answer = a(question) }\n}\n")
    snapshot = Snapshot.build("file:///s.mas", text)
    assert [d.code for d in snapshot.diagnostics] == ["MAS113"]
    (action,) = code_actions(snapshot, 0, len(text))
    assert action.title == "Remove the unused input 'spare'"
    assert action.edit is not None and action.edit.changes is not None
    (edit,) = action.edit.changes["file:///s.mas"]
    assert (edit.range.start.line, edit.range.end.line, edit.new_text) == (2, 3, "")
    fixed = "".join(line for index, line in enumerate(text.splitlines(keepends=True))
                    if index != 2)
    assert check(parse(fixed)) == []


def test_a_spec_that_does_not_parse_has_only_its_syntax_error() -> None:
    snapshot = Snapshot.build("file:///s.mas", "mas s {\n  agent a {\n")
    assert not snapshot.parsed and [d.code for d in snapshot.diagnostics] == ["MAS004"]
    assert snapshot.compiled() == "the spec has errors; fix them to see its cost"


def test_declared_tools_are_completed_and_hovered() -> None:
    from masdsl.cli.lsp.completion import complete
    from masdsl.cli.lsp.hover import hover

    text = ('mas s {\n  input q: text\n  output o: text\n'
            '  tool web-search(query: text) -> list[text] { description "Search the web." }\n'
            '  agent a { role "r" tools [web-search] }\n  flow { o = a(q) }\n}\n')
    snapshot = Snapshot.build("file:///s.mas", text)
    assert snapshot.diagnostics == []
    offset = text.index("web-search]") + 3
    shown = hover(snapshot, offset)
    assert shown is not None and "tool web-search(query: text) -> list[text]" in shown
    assert "Search the web." in shown
    labels = [item.label for item in complete(text, text.index("web-search]"),
                                              snapshot.index)]
    assert labels == ["calculator", "python", "web-search"]

"""Pure pieces of the language server: position encodings, the symbol index, completion
contexts and quick fixes on snapshots (the protocol itself is tested in test_lsp.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("lsprotocol", reason="the language server needs the `lsp` extra")

from lsprotocol import types

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


TEMPLATES = '''mas panel {
  input q: text
  output o: text
  tool unit-convert(value: number, to_unit: text) -> number { description "Convert." }
  agent expert(field, style) -> text {
    role "An expert in {field}, {style}."
    memory 2
  }
  agent physicist = expert(field: "physics", style: "brief") { tools [unit-convert] }
  agent chemist = expert(field: "chemistry", style: "long")
  flow {
    xs = ensemble(physicist, n: 2, q)
    o = chemist(q, reply(xs), first: xs[0], n: len(xs))
  }
}
'''


def test_templates_instances_and_their_parameters_are_hovered_and_navigated() -> None:
    from masdsl.cli.lsp.hover import hover
    from masdsl.cli.lsp.navigation import definition, document_symbols, references

    snapshot = Snapshot.build("file:///p.mas", TEMPLATES)
    assert snapshot.diagnostics == []
    template = hover(snapshot, TEMPLATES.index("expert(field") + 1)
    assert template is not None and "agent expert(field, style) -> text" in template
    assert "**Instances:** `physicist`, `chemist`" in template
    instance = hover(snapshot, TEMPLATES.index("physicist =") + 1)
    assert instance is not None and "agent physicist -> text" in instance
    assert "> An expert in physics, brief." in instance
    assert "| memory | 2 earlier call(s) |" in instance
    assert '*An instance of the template `expert(field: "physics", style: "brief")`*' in instance
    # an instance named as a builtin's subject is an agent too
    used = TEMPLATES.index("ensemble(physicist") + len("ensemble(") + 1
    assert (shown := hover(snapshot, used)) is not None and "agent physicist" in shown
    declared = definition(snapshot, used)
    assert declared is not None and declared.range.start.line == 8
    # the template's name in an instance goes to the template
    target = definition(snapshot, TEMPLATES.index("= expert") + 3)
    assert target is not None and (target.range.start.line, target.range.start.character) \
        == (4, 8)
    # a parameter in an instance: hover, definition in the template, references
    argument = TEMPLATES.index('style: "long"') + 1
    shown = hover(snapshot, argument)
    assert shown is not None and "(template parameter) style" in shown
    assert "`{style}`" in shown and "`expert`" in shown
    parameter = definition(snapshot, argument)
    assert parameter is not None and (parameter.range.start.line,
                                      parameter.range.start.character) == (4, 22)
    assert len(references(snapshot, argument, True)) == 3
    # a declared tool named in an instance's own fields goes to its declaration
    tool = definition(snapshot, TEMPLATES.index("unit-convert]") + 2)
    assert tool is not None and tool.range.start.line == 3
    outline = {child.name: child.detail for child in document_symbols(snapshot)[0].children
               or []}
    assert outline["expert"] == "agent template (field, style)"
    assert outline["physicist"] == "agent = expert(...) -> text"
    assert list(outline).count("flow") == 1  # templates and instances are not flows


def test_completion_offers_every_registry_builtin_and_a_templates_parameters() -> None:
    from masdsl.checker import BUILTINS
    from masdsl.cli.lsp.completion import complete
    from masdsl.cli.lsp.hover import hover

    snapshot = Snapshot.build("file:///p.mas", TEMPLATES)
    in_flow = TEMPLATES.index("    o = chemist")
    items = {item.label: item for item in complete(TEMPLATES, in_flow, snapshot.index)}
    snippets = {label for label, item in items.items()
                if item.kind == types.CompletionItemKind.Snippet}
    assert snippets == set(BUILTINS)
    assert {"physicist", "chemist"} <= set(items) and "expert" not in items
    assert items["reply"].detail == "reply(value) -> text (list[text] for a list)"
    assert items["map"].detail is not None and items["map"].detail.startswith(
        "map(agent, max: …, inputs…) -> ")
    shown = hover(snapshot, TEMPLATES.index("len(xs)") + 1)
    assert shown is not None and shown.startswith("```mas\nlen(")
    text = TEMPLATES.replace('agent chemist = expert(field: "chemistry", style: "long")',
                             "agent chemist = expert(")
    offset = text.index("agent chemist = expert(") + len("agent chemist = expert(")
    labels = [item.label for item in complete(text, offset, snapshot.index)]
    assert labels == ["field:", "style:"]
    top = [item.label for item in complete(TEMPLATES, TEMPLATES.index("  tool"), None)]
    assert "agent template" in top and "tool" in top


def test_condition_functions_are_hovered_and_each_is_documented() -> None:
    from masdsl.ast import CONDITION_FUNCTIONS
    from masdsl.cli.lsp.hover import CONDITION_DOCS, hover
    from masdsl.cli.lsp.semantic import semantic_tokens

    assert set(CONDITION_DOCS) == set(CONDITION_FUNCTIONS)
    text = ('mas s {\n  input q: text\n  output o: number\n  agent a -> number { role "r" }\n'
            '  flow {\n    xs = ensemble(a, n: 3, q)\n'
            '    if not all_equal(xs) and len(xs) > 1 or empty(xs) { o = a(q) } '
            'else { o = a(q, xs) }\n  }\n}\n')
    snapshot = Snapshot.build("file:///c.mas", text)
    assert snapshot.diagnostics == []
    for name in CONDITION_FUNCTIONS:
        shown = hover(snapshot, text.index(f"{name}(xs)") + 1)
        assert shown is not None and shown.startswith(f"```mas\n{name}(xs)\n```")
        assert CONDITION_DOCS[name] in shown
    assert len(semantic_tokens(snapshot)) % 5 == 0


def test_condition_functions_are_completed_in_conditions_only() -> None:
    from masdsl.ast import CONDITION_FUNCTIONS
    from masdsl.cli.lsp.completion import complete

    snapshot = Snapshot.build("file:///p.mas", TEMPLATES)
    text = TEMPLATES.replace("    o = chemist", "    if not \n    o = chemist")
    in_condition = text.index("if not ") + len("if not ")
    labels = {item.label for item in complete(text, in_condition, snapshot.index)}
    assert set(CONDITION_FUNCTIONS) <= labels and "xs" in labels
    statement = {item.label for item in complete(TEMPLATES, TEMPLATES.index("    o = chemist"),
                                                 snapshot.index)}
    assert not {"all_equal", "empty"} & statement

"""`masc lsp` end to end: a real `masc lsp` process, spoken to over JSON-RPC by pygls's
client (`masdsl.cli.lsp.client.LspSession`), as an editor would.

One server serves the whole module (it runs in a background event loop), so each test pays
for requests, not for a process start. Documents get distinct URIs per test.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("pygls", reason="the language server needs the `lsp` extra (pygls)")

from lsprotocol import types

from masdsl.checker import check
from masdsl.cli.lsp.client import LspSession, insert
from masdsl.formatter import format_source
from masdsl.parser import parse

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

TYPO = """mas review {
  input question: text
  output answer: number
  type Verdict = enum { approve, revise }

  agent solver -> number {
    role "Solve the problem."
    max_tokens 256
  }

  agent verifier -> Verdict {
    role "Check the solution; end with approve or revise."
  }

  agent spare -> number {
    role "Never called."
  }

  flow {
    answer = reflect(solver, critic: verifer, rounds: 2, stop: approve, question)
  }
}
"""
CLEAN = TYPO.replace("verifer,", "verifier,")


class Server:
    """A running `masc lsp` session driven from a background event-loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.session = LspSession()
        self.call(lambda: self.session.__aenter__())

    def call(self, make: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
        async def wrapped() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def close(self) -> None:
        self.call(lambda: self.session.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    # ---- shorthands -------------------------------------------------------------------

    @property
    def client(self) -> Any:
        return self.session.client

    def open(self, name: str, text: str) -> tuple[str, list[types.Diagnostic]]:
        uri = (ROOT / "tests" / "editor" / f"{name}.mas").as_uri()
        return uri, self.call(lambda: self.session.open(uri, text))

    def at(self, uri: str, line: int, character: int) -> dict[str, Any]:
        return {"text_document": types.TextDocumentIdentifier(uri=uri),
                "position": types.Position(line=line, character=character)}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


def position_of(text: str, needle: str, occurrence: int = 0, shift: int = 1
                ) -> tuple[int, int]:
    """(line, character) inside the `occurrence`-th `needle` of `text`."""
    offset = -1
    for _ in range(occurrence + 1):
        offset = text.index(needle, offset + 1)
    offset += shift
    return text.count("\n", 0, offset), offset - (text.rfind("\n", 0, offset) + 1)


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP text edits (ASCII text) from last to first."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: types.Position) -> int:
        return starts[position.line] + position.character if position.line < len(lines) \
            else len(text)

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character),
                       reverse=True):
        text = text[:offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end):]
    return text


# ---- diagnostics ------------------------------------------------------------------------


def test_diagnostics_are_masc_checks_and_follow_each_change(server: Server) -> None:
    uri, published = server.open("typo", TYPO)
    expected = check(parse(TYPO))
    # `verifier` is unused because of the typo, `spare` because nothing calls it
    assert [d.code for d in published] == [d.code for d in expected] \
        == ["MAS105", "MAS105", "MAS101"]
    for lsp, ours in zip(published, expected, strict=True):
        assert lsp.range.start.line == ours.span.line - 1
        assert lsp.range.start.character == ours.span.column - 1
        assert lsp.range.end.character == ours.span.end_column - 1
        assert lsp.message.startswith(ours.message)
        assert ours.help and f"help: {ours.help}" in lsp.message
        assert lsp.source == "masc"
    assert published[2].severity == types.DiagnosticSeverity.Error
    assert "did you mean 'verifier'?" in published[2].message
    # fix the typo with an incremental edit: only the unused-agent warning stays
    line, character = position_of(TYPO, "verifer", shift=len("verif"))
    fixed = server.call(lambda: server.session.change(uri, 2, [insert(line, character, "i")]))
    assert [d.code for d in fixed] == ["MAS105"]
    # break the syntax: the parser's diagnostic, located where the text breaks
    line, character = position_of(TYPO, "flow {", shift=len("flow {"))
    broken = server.call(lambda: server.session.change(uri, 3, [insert(line, character,
                                                                        "\n    x = = 1")]))
    assert [d.code for d in broken] == ["MAS003"]
    assert broken[0].range.start.line == line + 1


# ---- hover ------------------------------------------------------------------------------


def test_hover_shows_types_settings_and_worst_case_cost(server: Server) -> None:
    text = (ROOT / "examples" / "self_consistency.mas").read_text(encoding="utf-8")
    uri, _ = server.open("hover", text)

    def hover(line: int, character: int) -> str:
        found = server.call(lambda: server.client.text_document_hover_async(
            types.HoverParams(**server.at(uri, line, character))))
        assert found is not None
        return str(found.contents.value)

    agent = hover(*position_of(text, "agent solver", shift=len("agent s")))
    assert "agent solver -> number" in agent
    assert "| temperature | 0.9 |" in agent and "| max_tokens | 768 |" in agent
    assert "| retries | 2 |" in agent  # a default, applied by the checker
    assert "**Worst case per run:** 3 LLM call(s)" in agent
    assert "**In this spec:** 3 run(s)" in agent
    value = hover(*position_of(text, "drafts ="))
    assert "(value) drafts: list[number]" in value
    # the ensemble statement: 3 solver runs × (1 call + 2 format retries), 768 tokens each
    assert "9 LLM call(s) (3 agent calls + 0 tool turns + 6 format retries)" in value
    assert "6,912 generated tokens" in value
    spec = hover(*position_of(text, "mas self_consistency", shift=5))
    assert "**Whole spec, worst case:** 9 LLM call(s)" in spec
    builtin = hover(*position_of(text, "ensemble("))
    assert "Independent samples" in builtin
    member = hover(*position_of(text, "question", occurrence=1))
    assert "(input) question: text" in member


def test_hover_on_a_spec_with_errors_still_shows_types(server: Server) -> None:
    uri, _ = server.open("hover-errors", TYPO)
    found = server.call(lambda: server.client.text_document_hover_async(types.HoverParams(
        **server.at(uri, *position_of(TYPO, "answer =")))))
    assert found is not None
    assert "(output) answer: number" in found.contents.value
    assert "Cost unavailable" in found.contents.value


# ---- navigation and rename --------------------------------------------------------------


def test_definition_references_and_rename(server: Server) -> None:
    uri, _ = server.open("navigate", CLEAN)
    use = position_of(CLEAN, "critic: verifier", shift=len("critic: v"))
    found = server.call(lambda: server.client.text_document_definition_async(
        types.DefinitionParams(**server.at(uri, *use))))
    assert isinstance(found, types.Location)
    assert (found.range.start.line, found.range.start.character) == \
        position_of(CLEAN, "agent verifier", shift=len("agent "))
    references = server.call(lambda: server.client.text_document_references_async(
        types.ReferenceParams(**server.at(uri, *use),
                              context=types.ReferenceContext(include_declaration=True))))
    assert len(references) == 2
    member = position_of(CLEAN, "stop: approve", shift=len("stop: a"))
    member_refs = server.call(lambda: server.client.text_document_references_async(
        types.ReferenceParams(**server.at(uri, *member),
                              context=types.ReferenceContext(include_declaration=False))))
    assert len(member_refs) == 1  # the use; the declaration left out as asked
    prepared = server.call(lambda: server.client.text_document_prepare_rename_async(
        types.PrepareRenameParams(**server.at(uri, *use))))
    assert prepared is not None
    edit = server.call(lambda: server.client.text_document_rename_async(
        types.RenameParams(**server.at(uri, *use), new_name="checker")))
    renamed = apply(CLEAN, edit.changes[uri])
    assert "agent checker -> Verdict" in renamed and "critic: checker" in renamed
    assert [d.code for d in check(parse(renamed))] == ["MAS105"]  # still only `spare`
    value = position_of(CLEAN, "answer =")
    edit = server.call(lambda: server.client.text_document_rename_async(
        types.RenameParams(**server.at(uri, *value), new_name="result")))
    assert apply(CLEAN, edit.changes[uri]).count("result") == 2  # declaration and binding
    type_use = position_of(CLEAN, "-> Verdict", shift=len("-> V"))
    found = server.call(lambda: server.client.text_document_definition_async(
        types.DefinitionParams(**server.at(uri, *type_use))))
    assert isinstance(found, types.Location)
    assert found.range.start == types.Position(*position_of(CLEAN, "type Verdict",
                                                            shift=len("type ")))
    edit = server.call(lambda: server.client.text_document_rename_async(
        types.RenameParams(**server.at(uri, *type_use), new_name="Judgement")))
    assert apply(CLEAN, edit.changes[uri]).count("Judgement") == 2
    with pytest.raises(Exception, match="reserved"):
        server.call(lambda: server.client.text_document_rename_async(
            types.RenameParams(**server.at(uri, *use), new_name="vote")))
    with pytest.raises(Exception, match="already declared"):
        server.call(lambda: server.client.text_document_rename_async(
            types.RenameParams(**server.at(uri, *use), new_name="solver")))


# ---- completion -------------------------------------------------------------------------


def complete(server: Server, uri: str, line: int, character: int
             ) -> dict[str, types.CompletionItem]:
    found = server.call(lambda: server.client.text_document_completion_async(
        types.CompletionParams(**server.at(uri, line, character))))
    items = found.items if isinstance(found, types.CompletionList) else found
    return {item.label: item for item in items}


def test_completion_follows_the_context(server: Server) -> None:
    text = CLEAN.replace("  flow {\n", "  flow {\n    drafts = ensemble(solver, n: 2, question)\n"
                         "    \n")
    uri, _ = server.open("complete", text)
    line, _ = position_of(text, "    \n", shift=0)
    items = complete(server, uri, line, 4)
    assert {"solver", "verifier", "question", "drafts", "approve", "if", "match"} <= set(items)
    assert items["solver"].kind == types.CompletionItemKind.Function
    assert items["drafts"].detail == "list[number]"
    snippet = items["reflect"]
    assert snippet.insert_text_format == types.InsertTextFormat.Snippet
    assert snippet.insert_text is not None and "critic: ${2:critic}" in snippet.insert_text
    assert "answer" not in items  # bound later in the text: not yet in scope
    # inside a builtin's parentheses its keyword parameters are offered
    call = position_of(text, "ensemble(solver, ", shift=len("ensemble(solver, "))
    assert "n:" in complete(server, uri, *call)
    # enum members after `stop:`
    stop = position_of(text, "stop: ", shift=len("stop: "))
    assert set(complete(server, uri, *stop)) == {"approve", "revise"}
    # agent settings inside an agent, tool names inside `tools [`
    setting = position_of(text, "max_tokens 256", shift=0)
    assert {"role", "tools", "temperature", "max_tokens"} <= set(
        complete(server, uri, *setting))
    tools_text = text.replace("max_tokens 256", "tools [")
    tools_uri, _ = server.open("complete-tools", tools_text)
    assert set(complete(server, tools_uri, *position_of(tools_text, "tools [",
                                                  shift=len("tools [")))) == \
        {"python", "calculator"}
    # a document that does not parse still completes names from its last good version
    line, character = position_of(text, "    \n", shift=4)
    server.call(lambda: server.session.change(uri, 2, [insert(line, character, "x = ")]))
    assert "solver" in complete(server, uri, line, character + 4)


# ---- formatting, outline, semantic tokens -----------------------------------------------


def test_formatting_symbols_and_semantic_tokens(server: Server) -> None:
    messy = CLEAN.replace("  agent solver -> number {", "agent   solver->number{") \
        .replace("rounds: 2,", "rounds:2 ,")
    uri, _ = server.open("format", messy)
    edits = server.call(lambda: server.client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                       options=types.FormattingOptions(tab_size=2,
                                                                       insert_spaces=True))))
    assert edits is not None and len(edits) == 1
    assert apply(messy, edits) == format_source(messy)
    symbols = server.call(lambda: server.client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri))))
    (spec,) = symbols
    assert spec.name == "review"
    names = [child.name for child in spec.children]
    assert names == ["question", "answer", "Verdict", "solver", "verifier", "spare", "flow"]
    verdict = spec.children[2]
    assert [member.name for member in verdict.children] == ["approve", "revise"]
    assert spec.children[3].detail == "agent -> number"
    legend = server.session.capabilities.semantic_tokens_provider.legend
    tokens = server.call(lambda: server.client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=types.TextDocumentIdentifier(uri=uri))))
    data = tokens.data
    assert len(data) % 5 == 0 and data
    decoded, line, start = [], 0, 0
    lines = messy.splitlines()
    for index in range(0, len(data), 5):
        delta_line, delta_start, length, kind, _ = data[index:index + 5]
        line += delta_line
        start = start + delta_start if delta_line == 0 else delta_start
        decoded.append((lines[line][start:start + length], legend.token_types[kind]))
    assert ("verifier", "function") in decoded
    assert ("approve", "enumMember") in decoded
    assert ("question", "variable") in decoded
    assert ("reflect", "function") in decoded
    assert ("rounds", "parameter") in decoded


# ---- code actions -----------------------------------------------------------------------


def test_quick_fixes_repair_the_spec(server: Server) -> None:
    uri, published = server.open("actions", TYPO)
    whole = types.Range(start=types.Position(line=0, character=0),
                        end=types.Position(line=len(TYPO.splitlines()), character=0))
    actions = server.call(lambda: server.client.text_document_code_action_async(
        types.CodeActionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                               range=whole,
                               context=types.CodeActionContext(diagnostics=published))))
    titles = [action.title for action in actions]
    assert "Did you mean 'verifier'? Replace 'verifer'" in titles
    assert "Remove the unused agent 'spare'" in titles
    assert "Remove the unused agent 'verifier'" in titles  # offered, but not what we want
    chosen = [edit for action in actions if action.title != "Remove the unused agent 'verifier'"
              for edit in action.edit.changes[uri]]
    text = apply(TYPO, chosen)  # edits of one version apply together
    assert check(parse(text)) == []
    assert "spare" not in text and "\n\n\n" not in text


def test_masc_check_does_not_import_pygls() -> None:
    probe = ("import sys\nfrom masdsl.cli import main\ncode = main(['check', sys.argv[1]])\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "{'pygls', 'lsprotocol', 'cattrs'}))\nsys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", probe,
                             str(ROOT / "examples" / "router.mas")], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith("[]\n"), result.stdout


def test_templates_and_declared_tools_over_the_protocol(server: Server) -> None:
    """Hover, definition and rename of the newer declarations through JSON-RPC: a template
    and its instances, a template parameter, a declared tool with an MCP-style name."""
    text = (ROOT / "examples" / "expert_panel.mas").read_text(encoding="utf-8")
    uri, diagnostics = server.open("templates", text)
    assert diagnostics == []
    template_use = position_of(text, "= expert(field", shift=len("= e"))
    found = server.call(lambda: server.client.text_document_definition_async(
        types.DefinitionParams(**server.at(uri, *template_use))))
    assert isinstance(found, types.Location)
    assert (found.range.start.line, found.range.start.character) == \
        position_of(text, "agent expert", shift=len("agent "))
    shown = server.call(lambda: server.client.text_document_hover_async(
        types.HoverParams(**server.at(uri, *template_use))))
    assert shown is not None and "agent expert(field)" in shown.contents.value
    assert "`physicist`, `chemist`, `biologist`" in shown.contents.value
    parameter = position_of(text, 'field: "chemistry"')
    found = server.call(lambda: server.client.text_document_definition_async(
        types.DefinitionParams(**server.at(uri, *parameter))))
    assert isinstance(found, types.Location)
    assert (found.range.start.line, found.range.start.character) == \
        position_of(text, "expert(field)", shift=len("expert("))
    edit = server.call(lambda: server.client.text_document_rename_async(
        types.RenameParams(**server.at(uri, *template_use), new_name="specialist")))
    renamed = apply(text, edit.changes[uri])
    assert renamed.count("specialist(") == 4 and check(parse(renamed)) == []
    tools_text = (ROOT / "examples" / "custom_tool.mas").read_text(encoding="utf-8")
    tools_uri, _ = server.open("declared-tools", tools_text)
    listed = position_of(tools_text, "constants.lookup, calculator", shift=len("constants.l"))
    found = server.call(lambda: server.client.text_document_definition_async(
        types.DefinitionParams(**server.at(tools_uri, *listed))))
    assert isinstance(found, types.Location)
    assert (found.range.start.line, found.range.start.character) == \
        position_of(tools_text, "tool constants.lookup", shift=len("tool "))

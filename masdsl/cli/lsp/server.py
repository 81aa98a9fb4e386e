"""The language server: pygls wiring of the editor features over stdio.

Every change re-parses and re-checks the whole document (a 2,000-line spec takes tens of
milliseconds; `python -m benchmarks.lsp` measures it) and publishes `masc check`'s
diagnostics for that version. Requests read the latest `Snapshot`; completion falls back
to the last version that parsed while the text is mid-edit.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from masdsl.cli.lsp.actions import code_actions
from masdsl.cli.lsp.completion import complete
from masdsl.cli.lsp.convert import offset_of, to_diagnostic
from masdsl.cli.lsp.document import Snapshot
from masdsl.cli.lsp.hover import hover
from masdsl.cli.lsp.navigation import (
    RenameError,
    definition,
    document_symbols,
    prepare_rename,
    references,
    rename,
)
from masdsl.cli.lsp.positions import UTF16, LineIndex
from masdsl.cli.lsp.semantic import LEGEND, semantic_tokens
from masdsl.diagnostics import MasError
from masdsl.formatter import format_source

COMPLETION_TRIGGERS = ["(", "[", ":", " ", "="]


class MasLanguageServer(LanguageServer):
    """A pygls server that keeps one `Snapshot` per open document."""

    def __init__(self, version: str) -> None:
        super().__init__("masc-lsp", version,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.snapshots: dict[str, Snapshot] = {}
        self.last_parsed: dict[str, Snapshot] = {}

    @property
    def encoding(self) -> str:
        found = self.workspace.position_encoding
        return str(getattr(found, "value", found) or UTF16)

    def refresh(self, uri: str) -> Snapshot:
        """Analyse the document's current text and publish its diagnostics."""
        document = self.workspace.get_text_document(uri)
        path = to_fs_path(uri) or uri
        snapshot = Snapshot.build(uri, document.source, document.version, path, self.encoding)
        self.snapshots[uri] = snapshot
        if snapshot.parsed:
            self.last_parsed[uri] = snapshot
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=document.version,
            diagnostics=[to_diagnostic(snapshot.lines, found)
                         for found in snapshot.diagnostics]))
        return snapshot

    def snapshot(self, uri: str) -> Snapshot:
        return self.snapshots.get(uri) or self.refresh(uri)


def build_server(version: str = "0") -> MasLanguageServer:
    """A server with every feature registered (not started)."""
    server = MasLanguageServer(version)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: MasLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: MasLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: MasLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.snapshots.pop(uri, None)
        ls.last_parsed.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri,
                                                                            diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: MasLanguageServer, params: types.HoverParams) -> types.Hover | None:
        snapshot = ls.snapshot(params.text_document.uri)
        text = hover(snapshot, offset_of(snapshot.lines, params.position))
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                        value=text))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: MasLanguageServer, params: types.DefinitionParams
                      ) -> types.Location | None:
        snapshot = ls.snapshot(params.text_document.uri)
        return definition(snapshot, offset_of(snapshot.lines, params.position))

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    def on_references(ls: MasLanguageServer, params: types.ReferenceParams
                      ) -> list[types.Location]:
        snapshot = ls.snapshot(params.text_document.uri)
        return references(snapshot, offset_of(snapshot.lines, params.position),
                          params.context.include_declaration)

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def on_prepare_rename(ls: MasLanguageServer, params: types.PrepareRenameParams
                          ) -> types.Range | None:
        snapshot = ls.snapshot(params.text_document.uri)
        return prepare_rename(snapshot, offset_of(snapshot.lines, params.position))

    @server.feature(types.TEXT_DOCUMENT_RENAME)
    def on_rename(ls: MasLanguageServer, params: types.RenameParams) -> types.WorkspaceEdit:
        from pygls.exceptions import JsonRpcInvalidParams

        snapshot = ls.snapshot(params.text_document.uri)
        try:
            return rename(snapshot, offset_of(snapshot.lines, params.position),
                          params.new_name)
        except RenameError as error:
            raise JsonRpcInvalidParams(str(error)) from None

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=COMPLETION_TRIGGERS))
    def on_completion(ls: MasLanguageServer, params: types.CompletionParams
                      ) -> types.CompletionList:
        uri = params.text_document.uri
        snapshot = ls.snapshot(uri)
        fallback = snapshot if snapshot.parsed else ls.last_parsed.get(uri)
        items = complete(snapshot.text, offset_of(snapshot.lines, params.position),
                         fallback.index if fallback else None)
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(ls: MasLanguageServer, params: types.DocumentFormattingParams
                      ) -> list[types.TextEdit] | None:
        snapshot = ls.snapshot(params.text_document.uri)
        try:
            formatted = format_source(snapshot.text, snapshot.uri)
        except MasError:
            return None  # a spec that does not parse is left as it is (as `masc fmt` does)
        if formatted == snapshot.text:
            return []
        end = LineIndex(snapshot.text, snapshot.lines.encoding).position(len(snapshot.text))
        whole = types.Range(start=types.Position(line=0, character=0),
                            end=types.Position(line=end[0], character=end[1]))
        return [types.TextEdit(range=whole, new_text=formatted)]

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(ls: MasLanguageServer, params: types.DocumentSymbolParams
                   ) -> list[types.DocumentSymbol]:
        return document_symbols(ls.snapshot(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, LEGEND)
    def on_semantic_tokens(ls: MasLanguageServer, params: types.SemanticTokensParams
                           ) -> types.SemanticTokens:
        return types.SemanticTokens(data=semantic_tokens(ls.snapshot(
            params.text_document.uri)))

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def on_code_action(ls: MasLanguageServer, params: types.CodeActionParams
                       ) -> list[types.CodeAction]:
        snapshot = ls.snapshot(params.text_document.uri)
        return code_actions(snapshot, offset_of(snapshot.lines, params.range.start),
                            offset_of(snapshot.lines, params.range.end))

    return server

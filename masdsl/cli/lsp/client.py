"""A small LSP client session over stdio, for the end-to-end tests and `benchmarks.lsp`.

It spawns a real `masc lsp` process and speaks JSON-RPC to it with pygls's own client, so
what is tested is the server as an editor sees it: initialisation, capabilities, document
sync and published diagnostics. `open` and `change` return the diagnostics the server
publishes for that document version.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parents[3]


def server_command() -> list[str]:
    """`python -m masdsl.cli lsp` with this interpreter."""
    return [sys.executable, "-m", "masdsl.cli", "lsp"]


class LspSession:
    """`async with LspSession() as session:` starts and initialises the server; leaving
    shuts it down (shutdown, exit) and waits for the process."""

    def __init__(self, command: Sequence[str] | None = None, timeout: float = 30.0) -> None:
        self.command = list(command or server_command())
        self.timeout = timeout
        self.client = LanguageClient("masc-test-client", "0")
        self.capabilities: types.ServerCapabilities | None = None
        self.published: dict[str, types.PublishDiagnosticsParams] = {}
        self._waiting: dict[tuple[str, int | None], asyncio.Future[list[types.Diagnostic]]] = {}
        self._stderr: asyncio.Task[bytes] | None = None

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)  # type: ignore[untyped-decorator]
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            self.published[params.uri] = params
            future = self._waiting.pop((params.uri, params.version), None)
            if future is not None and not future.done():
                future.set_result(list(params.diagnostics))

    async def __aenter__(self) -> LspSession:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT)] + ([environment["PYTHONPATH"]] if environment.get("PYTHONPATH")
                           else []))
        await self.client.start_io(*self.command, env=environment, cwd=str(ROOT))
        server = self.client._server
        if server is not None and server.stderr is not None:
            self._stderr = asyncio.create_task(server.stderr.read())
        capabilities = types.ClientCapabilities(
            general=types.GeneralClientCapabilities(
                position_encodings=[types.PositionEncodingKind.Utf16]),
            text_document=types.TextDocumentClientCapabilities(
                hover=types.HoverClientCapabilities(
                    content_format=[types.MarkupKind.Markdown]),
                completion=types.CompletionClientCapabilities(
                    completion_item=types.ClientCompletionItemOptions(snippet_support=True)),
                rename=types.RenameClientCapabilities(prepare_support=True),
                document_symbol=types.DocumentSymbolClientCapabilities(
                    hierarchical_document_symbol_support=True),
                code_action=types.CodeActionClientCapabilities(
                    code_action_literal_support=types.ClientCodeActionLiteralOptions(
                        code_action_kind=types.ClientCodeActionKindOptions(
                            value_set=[types.CodeActionKind.QuickFix]))),
                semantic_tokens=types.SemanticTokensClientCapabilities(
                    requests=types.ClientSemanticTokensRequestOptions(full=True),
                    token_types=[], token_modifiers=[], formats=[types.TokenFormat.Relative]),
                publish_diagnostics=types.PublishDiagnosticsClientCapabilities(
                    version_support=True)))
        result = await asyncio.wait_for(self.client.initialize_async(types.InitializeParams(
            capabilities=capabilities, root_uri=ROOT.as_uri(), process_id=os.getpid())),
            self.timeout)
        self.capabilities = result.capabilities
        self.client.initialized(types.InitializedParams())
        return self

    async def __aexit__(self, kind: type[BaseException] | None,
                        error: BaseException | None, trace: TracebackType | None) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.shutdown_async(None), self.timeout)
            self.client.exit(None)
        server = self.client._server
        if server is not None:
            try:
                await asyncio.wait_for(server.wait(), self.timeout)
            except TimeoutError:
                server.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), self.timeout)  # type: ignore[no-untyped-call]
        if self._stderr is not None:
            self._stderr.cancel()

    async def _diagnostics_for(self, uri: str, version: int | None
                               ) -> asyncio.Future[list[types.Diagnostic]]:
        future: asyncio.Future[list[types.Diagnostic]] = \
            asyncio.get_running_loop().create_future()
        self._waiting[(uri, version)] = future
        return future

    async def open(self, uri: str, text: str, version: int = 1) -> list[types.Diagnostic]:
        """Open a document; returns the diagnostics published for it."""
        future = await self._diagnostics_for(uri, version)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="mas", version=version,
                                                 text=text)))
        return await asyncio.wait_for(future, self.timeout)

    async def change(self, uri: str, version: int,
                     changes: Sequence[types.TextDocumentContentChangeEvent]
                     ) -> list[types.Diagnostic]:
        """Send one didChange; returns the diagnostics published for `version`."""
        future = await self._diagnostics_for(uri, version)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=list(changes)))
        return await asyncio.wait_for(future, self.timeout)


def insert(line: int, character: int, text: str) -> types.TextDocumentContentChangeEvent:
    """An incremental change inserting `text` at (line, character)."""
    at = types.Position(line=line, character=character)
    return types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at),
                                                  text=text)


def replace_all(text: str) -> types.TextDocumentContentChangeEvent:
    return types.TextDocumentContentChangeWholeDocument(text=text)

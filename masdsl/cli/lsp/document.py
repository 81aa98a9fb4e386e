"""One version of an open spec, analysed once: parse, check, symbol index, and (on demand)
the compiled IR with its worst-case statistics.

The diagnostics are exactly `masc check`'s: the parser's syntax error, or the checker's
findings (same codes, spans, messages and help). Compiling is lazy: only hover asks for
costs, and only a spec without errors compiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from masdsl import ast
from masdsl.checker import analyze
from masdsl.checker.analysis import Analysis
from masdsl.cli.lsp.index import SymbolIndex
from masdsl.cli.lsp.positions import UTF16, LineIndex
from masdsl.diagnostics import Diagnostic, MasError
from masdsl.parser import parse

if TYPE_CHECKING:
    from compiler.api import CompiledSpec


@dataclass
class Snapshot:
    """A spec's text at one version and everything the server knows about it."""

    uri: str
    version: int | None
    text: str
    lines: LineIndex
    diagnostics: list[Diagnostic]
    program: ast.Program | None = None
    analysis: Analysis | None = None
    index: SymbolIndex | None = None
    _compiled: CompiledSpec | None = field(default=None, repr=False)
    _compile_error: str | None = field(default=None, repr=False)

    @classmethod
    def build(cls, uri: str, text: str, version: int | None = None, path: str | None = None,
              encoding: str = UTF16) -> Snapshot:
        """Parse and check `text`; never raises for a bad spec."""
        lines = LineIndex(text, encoding)
        try:
            program = parse(text, path or uri)
        except MasError as error:
            return cls(uri, version, text, lines, list(error.diagnostics))
        analysis = analyze(program)
        return cls(uri, version, text, lines, list(analysis.diagnostics), program, analysis,
                   SymbolIndex.build(program, analysis))

    @property
    def parsed(self) -> bool:
        return self.index is not None

    @property
    def ok(self) -> bool:
        """True when the spec has no error (it compiles, unless the compiler's own limits
        say otherwise)."""
        return self.analysis is not None and self.analysis.ok

    def compiled(self) -> CompiledSpec | str:
        """The compiled spec, or why there is none (computed once per version)."""
        if self._compiled is None and self._compile_error is None:
            if self.program is None or not self.ok:
                self._compile_error = "the spec has errors; fix them to see its cost"
            else:
                from compiler.api import compile as compile_spec

                try:
                    self._compiled = compile_spec(self.program)
                except MasError as error:
                    first = error.diagnostics[0] if error.diagnostics else None
                    self._compile_error = (f"{first.code}: {first.message}" if first
                                           else "the spec does not compile")
        return self._compiled if self._compiled is not None else str(self._compile_error)

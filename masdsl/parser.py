"""The parser front end: text (or bytes) -> `Program`, or a `MasError` with diagnostics.

Lark parses (LALR, contextual lexer); `tree_to_ast.TreeToAst` turns its tree into our typed
AST. Lark's
exceptions never leave this module: they become located MAS0xx diagnostics.
"""

from __future__ import annotations

import re

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

import grammar
from masdsl import ast
from masdsl.diagnostics import Diagnostic, MasError, diagnostic
from masdsl.spans import Span
from masdsl.tree_to_ast import MAX_NUMBER_DIGITS, TreeToAst, make_comment, make_span, unescape
from masdsl.unsupported import Unsupported, unsupported_syntax

__all__ = ["MAX_NUMBER_DIGITS", "MAX_SOURCE_BYTES", "MAX_TREE_DEPTH", "comments", "decode_source",
           "parse", "unescape"]

# Hard limits of the front end itself. The checker's configurable limits are tighter by
# default; these protect the parser (bytes it will read, tree depth it will walk).
MAX_SOURCE_BYTES = 1_000_000
MAX_TREE_DEPTH = 400

BOM = "\ufeff"
_COMMENT_OR_STRING = re.compile(
    r'"""(?:[^"\\]|\\[\s\S]|"[^"\\]|"\\[\s\S]|""[^"\\]|""\\[\s\S])*"""'
    r'|"(?:[^"\\\n]|\\[^\n])*"'
    r"|(?P<comment>#[^\r\n]*)"
)


def normalize_source(text: str) -> str:
    """The text the parser reads: a leading UTF-8 byte-order mark becomes a space, which keeps
    every offset, so spans still index the original text. (CR needs no rewriting: it is
    whitespace, and it ends a comment as LF does, so code after `# ...<CR>` is code.)"""
    return " " + text[1:] if text.startswith(BOM) else text


def decode_source(data: bytes, path: str = "<string>") -> str:
    """Decode a spec's bytes as UTF-8, or raise MAS001 located at the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        prefix = data[: error.start].decode("utf-8", errors="replace")
        span = Span.point(prefix, len(prefix))
        raise MasError([diagnostic(
            "MAS001", span, f"the file is not valid UTF-8 (byte 0x{data[error.start]:02x} at "
            f"offset {error.start})", help="save the spec as UTF-8 text", path=path)]) from None


def parse(source: str | bytes, path: str = "<string>",
          max_bytes: int = MAX_SOURCE_BYTES) -> ast.Program:
    """Parse a spec into a `Program`. Raises `MasError` (never a Lark exception) with
    located diagnostics when the input is not a well-formed spec."""
    text = decode_source(source, path) if isinstance(source, bytes) else source
    size = len(text.encode("utf-8", errors="surrogatepass"))
    text = normalize_source(text)
    if size > max_bytes:
        raise MasError([diagnostic(
            "MAS407", Span.point(text, 0), f"the spec is {size:,} bytes; the limit is "
            f"{max_bytes:,}", help="split the system or raise the limit", path=path)])
    if "\x00" in text:
        offset = text.index("\x00")
        raise MasError([diagnostic(
            "MAS002", Span.of_range(text, offset, offset + 1),
            "unexpected NUL byte: this looks like a binary file", path=path)])
    try:
        tree = grammar.parser().parse(text)
    except UnexpectedInput as error:
        raise MasError([_syntax_diagnostic(error, text, path)]) from None
    _check_depth(tree, text, path)
    program = TreeToAst(text, path, tuple(comments(text))).build(tree)
    assert isinstance(program, ast.Program)
    return program


def comments(text: str) -> list[ast.Comment]:
    """Every `# ...` comment of a spec that parses, in order (strings are skipped over).

    Lines are counted incrementally (a comment never spans lines), so this stays linear in
    the size of the text however many comments it has."""
    found = []
    line, line_start, scanned = 1, 0, 0
    for match in _COMMENT_OR_STRING.finditer(text):
        if match.group("comment") is None:
            continue
        start, end = match.span()
        newlines = text.count("\n", scanned, start)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", scanned, start) + 1
        scanned = start
        column = start - line_start + 1
        span = make_span(start=start, end=end, line=line, column=column, end_line=line,
                     end_column=column + end - start)
        found.append(make_comment(span=span, text=match.group()))
    return found


# ---- Lark errors -> diagnostics ---------------------------------------------------------

_TERMINAL_NAMES = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string",
                   "TOOL_NAME": "a tool name", "$END": "end of input"}


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    try:
        pattern = grammar.parser().get_terminal(name).pattern
    except KeyError:
        return name
    return f"'{pattern.value}'" if pattern.type == "str" else name


def _expected(names: set[str]) -> str:
    described = sorted({_describe_terminal(name) for name in names})
    if len(described) > 12:
        described = [*described[:12], f"... ({len(described) - 12} more)"]
    return "expected " + ", ".join(described)


def _syntax_diagnostic(error: UnexpectedInput, text: str, path: str) -> Diagnostic:
    found = _unsupported(error, text)
    if found is not None:
        return diagnostic("MAS006", Span.of_range(text, found.start, found.end), found.message,
                          help=found.help, path=path)
    if isinstance(error, UnexpectedCharacters):
        offset = error.pos_in_stream or 0
        char = text[offset]
        span = Span.of_range(text, offset, offset + 1)
        help_text = _expected(set(error.allowed or ()))
        if char == '"':
            help_text = "a string must be closed on the same line; use \"\"\"...\"\"\" for " \
                        "text over several lines"
        return diagnostic("MAS002", span, f"unexpected character {char!r}", help=help_text,
                          path=path)
    if isinstance(error, UnexpectedToken):
        token = error.token
        expected = _expected(set(error.expected or ()))
        if token.type == "$END":
            span = Span.point(text, len(text))
            return diagnostic("MAS004", span, "unexpected end of input", help=expected,
                              path=path)
        span = _token_span(token, text)
        return diagnostic("MAS003", span, f"unexpected {_describe_token(token)}",
                          help=expected, path=path)
    span = Span.point(text, getattr(error, "pos_in_stream", 0) or 0)
    return diagnostic("MAS003", span, "syntax error", path=path)


def _unsupported(error: UnexpectedInput, text: str) -> Unsupported | None:
    """Syntax other languages have and this one does not (`masdsl.unsupported`)."""
    if isinstance(error, UnexpectedCharacters):
        return unsupported_syntax(text, error.pos_in_stream or 0, None)
    if isinstance(error, UnexpectedToken) and error.token.type != "$END" \
            and error.token.start_pos is not None:
        return unsupported_syntax(text, error.token.start_pos, str(error.token.value))
    return None


def _describe_token(token: Token) -> str:
    if token.type in ("NAME", "NUMBER", "STRING", "TOOL_NAME"):
        shown = token.value if len(token.value) <= 40 else token.value[:37] + "..."
        # Outside a tool list, an identifier that the error lexer read as a TOOL_NAME (the
        # two terminals overlap) is just a name to the reader.
        kind = "NAME" if token.type == "TOOL_NAME" and _PLAIN_NAME.fullmatch(token.value) \
            else token.type
        return f"{_TERMINAL_NAMES[kind].split(' ', 1)[1]} {shown!r}"
    return f"{token.value!r}"


def _token_span(token: Token, text: str) -> Span:
    start = token.start_pos if token.start_pos is not None else 0
    end = token.end_pos if token.end_pos is not None else start
    return Span.of_range(text, start, end)


def _check_depth(tree: Tree[Token], text: str, path: str) -> None:
    """Reject trees deeper than MAX_TREE_DEPTH before any recursive walk touches them."""
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            start = node.meta.start_pos if not node.meta.empty else 0
            raise MasError([diagnostic(
                "MAS406", Span.point(text, start), "the spec is nested too deeply to read",
                help="flatten nested calls and blocks into named steps", path=path)])
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))

"""The parser front end: text (or bytes) -> `Program`, or a `MasError` with diagnostics.

Lark parses (LALR, contextual lexer); `_ToAst` turns its tree into our typed AST. Lark's
exceptions never leave this module: they become located MAS0xx diagnostics.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

import grammar
from masdsl import ast
from masdsl.diagnostics import Diagnostic, MasError, diagnostic
from masdsl.spans import Span

# Hard limits of the front end itself. The checker's configurable limits are tighter by
# default; these protect the parser (bytes it will read, tree depth it will walk).
MAX_SOURCE_BYTES = 1_000_000
MAX_TREE_DEPTH = 400
MAX_NUMBER_DIGITS = 30

_COMMENT_OR_STRING = re.compile(
    r'"""(?:[^"\\]|\\[\s\S]|"[^"\\]|"\\[\s\S]|""[^"\\]|""\\[\s\S])*"""'
    r'|"(?:[^"\\\n]|\\[^\n])*"'
    r"|(?P<comment>#[^\n]*)"
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


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
    try:
        program = _ToAst(text, path).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, MasError):
            raise error.orig_exc from None
        raise
    assert isinstance(program, ast.Program)
    return program.model_copy(update={"comments": tuple(comments(text)), "path": path})


def comments(text: str) -> list[ast.Comment]:
    """Every `# ...` comment of a spec that parses, in order (strings are skipped over)."""
    found = []
    for match in _COMMENT_OR_STRING.finditer(text):
        if match.group("comment") is not None:
            found.append(ast.Comment(
                span=Span.of_range(text, match.start(), match.end()), text=match.group()))
    return found


def unescape(literal: str) -> str:
    """The value of a STRING token: quotes removed, escapes `\\n \\t \\r \\" \\\\` decoded;
    any other backslash pair is kept as written."""
    body = literal[3:-3] if literal.startswith('"""') else literal[1:-1]
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


# ---- Lark errors -> diagnostics ---------------------------------------------------------

_TERMINAL_NAMES = {"NAME": "a name", "NUMBER": "a number", "STRING": "a string",
                   "$END": "end of input"}


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
    if isinstance(error, UnexpectedCharacters):
        offset = error.pos_in_stream
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


def _describe_token(token: Token) -> str:
    if token.type in ("NAME", "NUMBER", "STRING"):
        shown = token.value if len(token.value) <= 40 else token.value[:37] + "..."
        return f"{_TERMINAL_NAMES[token.type].split(' ', 1)[1]} {shown!r}"
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


# ---- Lark tree -> AST -------------------------------------------------------------------


class _ToAst(Transformer[Token, Any]):
    """One method per grammar rule, each returning a typed node that carries its span."""

    def __init__(self, text: str, path: str) -> None:
        super().__init__()
        self.text = text
        self.path = path

    def _span(self, meta: Any) -> Span:
        return Span(start=meta.start_pos, end=meta.end_pos, line=meta.line, column=meta.column,
                    end_line=meta.end_line, end_column=meta.end_column)

    def _name(self, token: Token) -> ast.Name:
        return ast.Name(span=_token_span(token, self.text), value=str(token))

    def _number(self, token: Token) -> ast.NumberLit:
        text = str(token)
        span = _token_span(token, self.text)
        digits = sum(ch.isdigit() for ch in text.split("e")[0].split("E")[0])
        value: int | float
        if any(ch in text for ch in ".eE"):
            value = float(text)
            if digits > MAX_NUMBER_DIGITS or value in (float("inf"), float("-inf")):
                raise self._out_of_range(text, span)
        else:
            if digits > MAX_NUMBER_DIGITS:
                raise self._out_of_range(text, span)
            value = int(text)
        return ast.NumberLit(span=span, value=value)

    def _out_of_range(self, text: str, span: Span) -> MasError:
        shown = text if len(text) <= 20 else text[:17] + "..."
        return MasError([diagnostic(
            "MAS005", span, f"the number {shown} is too large to represent",
            help=f"numbers have at most {MAX_NUMBER_DIGITS} digits", path=self.path)])

    # spec and declarations
    @v_args(meta=True)
    def start(self, meta: Any, children: list[Any]) -> ast.Program:
        program: ast.Program = children[0]
        return program

    @v_args(meta=True)
    def spec(self, meta: Any, children: list[Any]) -> ast.Program:
        return ast.Program(span=self._span(meta), name=self._name(children[0]),
                           items=tuple(children[1:]))

    @v_args(meta=True)
    def input_decl(self, meta: Any, children: list[Any]) -> ast.InputDecl:
        return ast.InputDecl(span=self._span(meta), name=self._name(children[0]),
                             type=children[1])

    @v_args(meta=True)
    def output_decl(self, meta: Any, children: list[Any]) -> ast.OutputDecl:
        return ast.OutputDecl(span=self._span(meta), name=self._name(children[0]),
                              type=children[1])

    @v_args(meta=True)
    def type_decl(self, meta: Any, children: list[Any]) -> ast.TypeDecl:
        return ast.TypeDecl(span=self._span(meta), name=self._name(children[0]),
                            type=children[1])

    @v_args(meta=True)
    def named_type(self, meta: Any, children: list[Any]) -> ast.NamedType:
        return ast.NamedType(span=self._span(meta), name=self._name(children[0]))

    @v_args(meta=True)
    def list_type(self, meta: Any, children: list[Any]) -> ast.ListType:
        return ast.ListType(span=self._span(meta), element=children[0])

    @v_args(meta=True)
    def enum_type(self, meta: Any, children: list[Any]) -> ast.EnumType:
        return ast.EnumType(span=self._span(meta), members=children[0])

    def names(self, children: list[Token]) -> tuple[ast.Name, ...]:
        return tuple(self._name(token) for token in children)

    # agents
    @v_args(meta=True)
    def agent_decl(self, meta: Any, children: list[Any]) -> ast.AgentDecl:
        name, rest = children[0], children[1:]
        output = None
        if rest and not isinstance(rest[0], ast.AgentField):
            output, rest = rest[0], rest[1:]
        return ast.AgentDecl(span=self._span(meta), name=self._name(name), output=output,
                             fields=tuple(rest))

    def agent_output(self, children: list[Any]) -> Any:
        return children[0]

    def _field(self, key: str, meta: Any, value: Any) -> ast.AgentField:
        return ast.AgentField(span=self._span(meta), key=key, value=value)  # type: ignore[arg-type]

    @v_args(meta=True)
    def role_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        token = children[0]
        literal = ast.StringLit(span=_token_span(token, self.text), value=unescape(str(token)))
        return self._field("role", meta, literal)

    @v_args(meta=True)
    def tools_field(self, meta: Any, children: list[Any]) -> ast.AgentField:
        return self._field("tools", meta, children[0] if children else ())

    @v_args(meta=True)
    def model_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        return self._field("model", meta, self._name(children[0]))

    def _number_field(key: str) -> Any:  # type: ignore[misc]
        @v_args(meta=True)
        def method(self: _ToAst, meta: Any, children: list[Token]) -> ast.AgentField:
            return self._field(key, meta, self._number(children[0]))

        return method

    max_tool_turns_field = _number_field("max_tool_turns")
    temperature_field = _number_field("temperature")
    top_p_field = _number_field("top_p")
    max_tokens_field = _number_field("max_tokens")
    retries_field = _number_field("retries")

    # flow and statements
    @v_args(meta=True)
    def flow(self, meta: Any, children: list[Any]) -> ast.Flow:
        return ast.Flow(span=self._span(meta), body=children[0])

    @v_args(meta=True)
    def block(self, meta: Any, children: list[Any]) -> ast.Block:
        return ast.Block(span=self._span(meta), statements=tuple(children))

    @v_args(meta=True)
    def assign(self, meta: Any, children: list[Any]) -> ast.Assign:
        return ast.Assign(span=self._span(meta), target=self._name(children[0]),
                          value=children[1])

    @v_args(meta=True)
    def if_stmt(self, meta: Any, children: list[Any]) -> ast.If:
        return ast.If(span=self._span(meta), condition=children[0], then=children[1],
                      otherwise=children[2] if len(children) > 2 else None)

    def else_block(self, children: list[Any]) -> ast.Block:
        block: ast.Block = children[0]
        return block

    @v_args(meta=True)
    def match_stmt(self, meta: Any, children: list[Any]) -> ast.Match:
        cases = tuple(child for child in children[1:] if isinstance(child, ast.Case))
        otherwise = children[-1] if isinstance(children[-1], ast.Block) else None
        return ast.Match(span=self._span(meta), subject=self._name(children[0]), cases=cases,
                         otherwise=otherwise)

    @v_args(meta=True)
    def case(self, meta: Any, children: list[Any]) -> ast.Case:
        return ast.Case(span=self._span(meta), members=children[0], body=children[1])

    @v_args(meta=True)
    def loop_stmt(self, meta: Any, children: list[Any]) -> ast.Loop:
        until = children[1] if len(children) == 3 else None
        return ast.Loop(span=self._span(meta), max_iterations=self._number(children[0]),
                        until=until, body=children[-1])

    def until(self, children: list[Any]) -> ast.Cond:
        cond: ast.Cond = children[0]
        return cond

    when = until

    @v_args(meta=True)
    def graph_stmt(self, meta: Any, children: list[Any]) -> ast.Graph:
        return ast.Graph(span=self._span(meta), max_steps=self._number(children[0]),
                         items=tuple(children[1:]))

    @v_args(meta=True)
    def graph_start(self, meta: Any, children: list[Token]) -> ast.GraphStart:
        return ast.GraphStart(span=self._span(meta), node=self._name(children[0]))

    @v_args(meta=True)
    def graph_node(self, meta: Any, children: list[Any]) -> ast.GraphNode:
        return ast.GraphNode(span=self._span(meta), name=self._name(children[0]),
                             value=children[1])

    @v_args(meta=True)
    def graph_edge(self, meta: Any, children: list[Any]) -> ast.GraphEdge:
        return ast.GraphEdge(span=self._span(meta), source=self._name(children[0]),
                             target=self._name(children[1]),
                             when=children[2] if len(children) > 2 else None)

    # conditions
    def _cond(self, op: str, meta: Any, children: list[Token]) -> ast.Cond:
        value = self._name(children[1]) if len(children) > 1 else None
        return ast.Cond(span=self._span(meta), op=op,  # type: ignore[arg-type]
                        subject=self._name(children[0]), value=value)

    @v_args(meta=True)
    def cond_is(self, meta: Any, children: list[Token]) -> ast.Cond:
        return self._cond("is", meta, children)

    @v_args(meta=True)
    def cond_not(self, meta: Any, children: list[Token]) -> ast.Cond:
        return self._cond("not", meta, children)

    @v_args(meta=True)
    def cond_eq(self, meta: Any, children: list[Token]) -> ast.Cond:
        return self._cond("eq", meta, children)

    @v_args(meta=True)
    def cond_ne(self, meta: Any, children: list[Token]) -> ast.Cond:
        return self._cond("ne", meta, children)

    # expressions
    @v_args(meta=True)
    def ref(self, meta: Any, children: list[Token]) -> ast.Ref:
        return ast.Ref(span=self._span(meta), name=str(children[0]))

    @v_args(meta=True)
    def call(self, meta: Any, children: list[Any]) -> ast.Call:
        args = children[1] if len(children) > 1 else ()
        return ast.Call(span=self._span(meta), callee=self._name(children[0]), args=args)

    def args(self, children: list[Any]) -> tuple[ast.Arg, ...]:
        return tuple(child if isinstance(child, ast.Arg)
                     else ast.Arg(span=child.span, keyword=None, value=child)
                     for child in children)

    @v_args(meta=True)
    def keyword_arg(self, meta: Any, children: list[Any]) -> ast.Arg:
        return ast.Arg(span=self._span(meta), keyword=self._name(children[0]), value=children[1])

    @v_args(meta=True)
    def list_expr(self, meta: Any, children: list[Any]) -> ast.ListExpr:
        return ast.ListExpr(span=self._span(meta), items=tuple(children))

    @v_args(meta=True)
    def string(self, meta: Any, children: list[Token]) -> ast.StringLit:
        return ast.StringLit(span=self._span(meta), value=unescape(str(children[0])))

    @v_args(meta=True)
    def number(self, meta: Any, children: list[Token]) -> ast.NumberLit:
        return self._number(children[0])

    @v_args(meta=True)
    def true(self, meta: Any, children: list[Token]) -> ast.BoolLit:
        return ast.BoolLit(span=self._span(meta), value=True)

    @v_args(meta=True)
    def false(self, meta: Any, children: list[Token]) -> ast.BoolLit:
        return ast.BoolLit(span=self._span(meta), value=False)

"""Lark's parse tree -> the typed AST (`masdsl.ast`), with a span on every node.

The parser (`masdsl.parser`) runs Lark, bounds the tree's depth, then hands the tree to
`TreeToAst.build`. The grammar already guarantees each rule's shape, so nodes are built by
trusted constructors (`masdsl.construct`, no re-validation); `tests/test_parser_ast.py`
proves the trees are identical to validated ones. Spans of tokens come from Lark's own
line/column bookkeeping rather than recounting lines in the text.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Tree

from masdsl import ast
from masdsl.construct import trusted
from masdsl.diagnostics import MasError, diagnostic
from masdsl.spans import Span

MAX_NUMBER_DIGITS = 30
"""Numbers have at most this many digits (MAS005 beyond)."""

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)

make_span = _Span = trusted(Span)
_AgentDecl = trusted(ast.AgentDecl)
_AgentField = trusted(ast.AgentField)
_AgentTemplate = trusted(ast.AgentTemplate)
_AgentInstance = trusted(ast.AgentInstance)
_TemplateArg = trusted(ast.TemplateArg)
_Arg = trusted(ast.Arg)
_Assign = trusted(ast.Assign)
_Block = trusted(ast.Block)
_BoolLit = trusted(ast.BoolLit)
_Call = trusted(ast.Call)
_Case = trusted(ast.Case)
_BoolOp = trusted(ast.BoolOp)
_Compare = trusted(ast.Compare)
_CondCall = trusted(ast.CondCall)
_Not = trusted(ast.Not)
_Truth = trusted(ast.Truth)
_EnumType = trusted(ast.EnumType)
_FieldAccess = trusted(ast.FieldAccess)
_Index = trusted(ast.Index)
_FieldType = trusted(ast.FieldType)
_RecordType = trusted(ast.RecordType)
_Flow = trusted(ast.Flow)
_Graph = trusted(ast.Graph)
_GraphEdge = trusted(ast.GraphEdge)
_GraphNode = trusted(ast.GraphNode)
_GraphStart = trusted(ast.GraphStart)
_If = trusted(ast.If)
_InputDecl = trusted(ast.InputDecl)
_ListExpr = trusted(ast.ListExpr)
_ListType = trusted(ast.ListType)
_Loop = trusted(ast.Loop)
_Match = trusted(ast.Match)
_Name = trusted(ast.Name)
_NamedType = trusted(ast.NamedType)
_NumberLit = trusted(ast.NumberLit)
_OutputDecl = trusted(ast.OutputDecl)
_Program = trusted(ast.Program)
_Ref = trusted(ast.Ref)
_StringLit = trusted(ast.StringLit)
_TypeDecl = trusted(ast.TypeDecl)
_ToolDecl = trusted(ast.ToolDecl)
_ToolField = trusted(ast.ToolField)
make_comment = trusted(ast.Comment)


def unescape(literal: str) -> str:
    """The value of a STRING token: quotes removed, escapes `\\n \\t \\r \\" \\\\` decoded;
    any other backslash pair is kept as written."""
    body = literal[3:-3] if literal.startswith('"""') else literal[1:-1]
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


def _span(meta: Any) -> Span:
    return _Span(start=meta.start_pos, end=meta.end_pos, line=meta.line,
                                column=meta.column, end_line=meta.end_line,
                                end_column=meta.end_column)


def _tok_span(token: Token) -> Span:
    return _Span(start=token.start_pos, end=token.end_pos, line=token.line,
                                column=token.column, end_line=token.end_line,
                                end_column=token.end_column)


def _name(token: Token) -> ast.Name:
    return _Name(span=_tok_span(token), value=str(token))


class TreeToAst:
    """One method per grammar rule, each returning a typed node that carries its span.

    `build` walks Lark's tree bottom-up and calls the method named after each rule with the
    rule's position (`meta`) and its already-built children."""

    def __init__(self, text: str, path: str, comments: tuple[ast.Comment, ...] = ()) -> None:
        self.text = text
        self.path = path
        self.comments = comments
        self.rules: dict[str, Any] = {}

    def build(self, tree: Tree[Token]) -> Any:
        """The AST of a Lark tree (recursive; the parser bounds the depth first)."""
        children: list[Any] = []
        for child in tree.children:
            children.append(self.build(child) if isinstance(child, Tree) else child)
        method = self.rules.get(tree.data)
        if method is None:
            method = self.rules[tree.data] = getattr(self, str(tree.data))
        return method(tree.meta, children)

    def _number(self, token: Token) -> ast.NumberLit:
        text = str(token)
        span = _tok_span(token)
        # The grammar's mantissa is `-?[0-9]+(\.[0-9]+)?`: all digits but a sign and a dot.
        mantissa = text.split("e")[0].split("E")[0]
        digits = len(mantissa) - mantissa.startswith("-") - ("." in mantissa)
        value: int | float
        if any(ch in text for ch in ".eE"):
            value = float(text)
            if digits > MAX_NUMBER_DIGITS or value in (float("inf"), float("-inf")):
                raise self._out_of_range(text, span)
        else:
            if digits > MAX_NUMBER_DIGITS:
                raise self._out_of_range(text, span)
            value = int(text)
        return _NumberLit(span=span, value=value)

    def _out_of_range(self, text: str, span: Span) -> MasError:
        shown = text if len(text) <= 20 else text[:17] + "..."
        return MasError([diagnostic(
            "MAS005", span, f"the number {shown} is too large to represent",
            help=f"numbers have at most {MAX_NUMBER_DIGITS} digits", path=self.path)])

    # spec and declarations
    def start(self, meta: Any, children: list[Any]) -> ast.Program:
        program: ast.Program = children[0]
        return program

    def spec(self, meta: Any, children: list[Any]) -> ast.Program:
        return _Program(span=_span(meta), name=_name(children[0]), items=tuple(children[1:]),
                        comments=self.comments, path=self.path)

    def input_decl(self, meta: Any, children: list[Any]) -> ast.InputDecl:
        return _InputDecl(span=_span(meta), name=_name(children[0]),
                                             type=children[1])

    def output_decl(self, meta: Any, children: list[Any]) -> ast.OutputDecl:
        return _OutputDecl(span=_span(meta), name=_name(children[0]),
                                              type=children[1])

    def type_decl(self, meta: Any, children: list[Any]) -> ast.TypeDecl:
        return _TypeDecl(span=_span(meta), name=_name(children[0]),
                                            type=children[1])

    def named_type(self, meta: Any, children: list[Any]) -> ast.NamedType:
        return _NamedType(span=_span(meta), name=_name(children[0]))

    def list_type(self, meta: Any, children: list[Any]) -> ast.ListType:
        return _ListType(span=_span(meta), element=children[0])

    def enum_type(self, meta: Any, children: list[Any]) -> ast.EnumType:
        return _EnumType(span=_span(meta), members=children[0])

    def record_type(self, meta: Any, children: list[Any]) -> ast.RecordType:
        return _RecordType(span=_span(meta), fields=tuple(children))

    def field_type(self, meta: Any, children: list[Any]) -> ast.FieldType:
        return _FieldType(span=_span(meta), name=_name(children[0]), type=children[1])

    def names(self, meta: Any, children: list[Token]) -> tuple[ast.Name, ...]:
        return tuple(_name(token) for token in children)

    # agents
    def agent_decl(self, meta: Any, children: list[Any]) -> ast.AgentDecl:
        name, rest = children[0], children[1:]
        output = None
        if rest and not isinstance(rest[0], ast.AgentField):
            output, rest = rest[0], rest[1:]
        return _AgentDecl(span=_span(meta), name=_name(name),
                                             output=output, fields=tuple(rest))

    def agent_output(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def _field(self, key: str, meta: Any, value: Any) -> ast.AgentField:
        return _AgentField(span=_span(meta), key=key, value=value)

    def role_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        token = children[0]
        literal = _StringLit(span=_tok_span(token),
                                                value=unescape(str(token)))
        return self._field("role", meta, literal)

    def tools_field(self, meta: Any, children: list[Any]) -> ast.AgentField:
        return self._field("tools", meta, children[0] if children else ())

    def default_field(self, meta: Any, children: list[Any]) -> ast.AgentField:
        return self._field("default", meta, children[0])

    def model_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        return self._field("model", meta, _name(children[0]))

    def max_tool_turns_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        return self._field("max_tool_turns", meta, self._number(children[0]))

    def temperature_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        return self._field("temperature", meta, self._number(children[0]))

    def top_p_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        return self._field("top_p", meta, self._number(children[0]))

    def max_tokens_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        return self._field("max_tokens", meta, self._number(children[0]))

    def retries_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        return self._field("retries", meta, self._number(children[0]))

    def memory_field(self, meta: Any, children: list[Token]) -> ast.AgentField:
        return self._field("memory", meta, self._number(children[0]))

    def agent_template(self, meta: Any, children: list[Any]) -> ast.AgentTemplate:
        name, params, rest = children[0], children[1], children[2:]
        output = None
        if rest and not isinstance(rest[0], ast.AgentField):
            output, rest = rest[0], rest[1:]
        return _AgentTemplate(span=_span(meta), name=_name(name), params=params,
                              output=output, fields=tuple(rest))

    def agent_instance(self, meta: Any, children: list[Any]) -> ast.AgentInstance:
        name, template, rest = children[0], children[1], children[2:]
        args: tuple[ast.TemplateArg, ...] = ()
        if rest and isinstance(rest[0], tuple):
            args, rest = rest[0], rest[1:]
        fields = rest[0] if rest else None
        return _AgentInstance(span=_span(meta), name=_name(name), template=_name(template),
                              args=args, fields=() if fields is None else tuple(fields),
                              has_block=fields is not None)

    def template_args(self, meta: Any, children: list[Any]) -> tuple[ast.TemplateArg, ...]:
        return tuple(children)

    def template_arg(self, meta: Any, children: list[Token]) -> ast.TemplateArg:
        token = children[1]
        return _TemplateArg(span=_span(meta), name=_name(children[0]), value=_StringLit(
            span=_tok_span(token), value=unescape(str(token))))

    def instance_fields(self, meta: Any, children: list[Any]) -> list[ast.AgentField]:
        return list(children)
    # tools
    def tool_decl(self, meta: Any, children: list[Any]) -> ast.ToolDecl:
        params: tuple[ast.FieldType, ...] = ()
        result = None
        fields = []
        for child in children[1:]:
            if isinstance(child, tuple):
                params = child
            elif isinstance(child, ast.ToolField):
                fields.append(child)
            else:
                result = child
        return _ToolDecl(span=_span(meta), name=_name(children[0]), params=params,
                         result=result, fields=tuple(fields))

    def tool_params(self, meta: Any, children: list[Any]) -> tuple[ast.FieldType, ...]:
        return tuple(children)

    def tool_result(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def description_field(self, meta: Any, children: list[Token]) -> ast.ToolField:
        token = children[0]
        return _ToolField(span=_span(meta), key="description",
                          value=_StringLit(span=_tok_span(token), value=unescape(str(token))))

    def tool_names(self, meta: Any, children: list[Token]) -> tuple[ast.Name, ...]:
        return tuple(_name(token) for token in children)

    # flow and statements
    def flow(self, meta: Any, children: list[Any]) -> ast.Flow:
        return _Flow(span=_span(meta), body=children[0])

    def block(self, meta: Any, children: list[Any]) -> ast.Block:
        return _Block(span=_span(meta), statements=tuple(children))

    def assign(self, meta: Any, children: list[Any]) -> ast.Assign:
        return _Assign(span=_span(meta), target=_name(children[0]),
                                          value=children[1])

    def if_stmt(self, meta: Any, children: list[Any]) -> ast.If:
        return _If(span=_span(meta), condition=children[0],
                                      then=children[1],
                                      otherwise=children[2] if len(children) > 2 else None)

    def else_block(self, meta: Any, children: list[Any]) -> ast.Block:
        block: ast.Block = children[0]
        return block

    def match_stmt(self, meta: Any, children: list[Any]) -> ast.Match:
        cases = tuple(child for child in children[1:] if isinstance(child, ast.Case))
        otherwise = children[-1] if isinstance(children[-1], ast.Block) else None
        return _Match(span=_span(meta), subject=_name(children[0]),
                                         cases=cases, otherwise=otherwise)

    def case(self, meta: Any, children: list[Any]) -> ast.Case:
        return _Case(span=_span(meta), members=children[0],
                                        body=children[1])

    def loop_stmt(self, meta: Any, children: list[Any]) -> ast.Loop:
        until = children[1] if len(children) == 3 else None
        return _Loop(span=_span(meta),
                                        max_iterations=self._number(children[0]),
                                        until=until, body=children[-1])

    def until(self, meta: Any, children: list[Any]) -> ast.Cond:
        cond: ast.Cond = children[0]
        return cond

    when = until

    def graph_stmt(self, meta: Any, children: list[Any]) -> ast.Graph:
        return _Graph(span=_span(meta), max_steps=self._number(children[0]),
                                         items=tuple(children[1:]))

    def graph_start(self, meta: Any, children: list[Token]) -> ast.GraphStart:
        return _GraphStart(span=_span(meta), node=_name(children[0]))

    def graph_node(self, meta: Any, children: list[Any]) -> ast.GraphNode:
        return _GraphNode(span=_span(meta), name=_name(children[0]),
                                             value=children[1])

    def graph_edge(self, meta: Any, children: list[Any]) -> ast.GraphEdge:
        return _GraphEdge(span=_span(meta), source=_name(children[0]),
                                             target=_name(children[1]),
                                             when=children[2] if len(children) > 2 else None)

    # conditions
    def _bool_op(self, op: str, meta: Any, children: list[Any]) -> ast.Cond:
        if len(children) == 1:
            only: ast.Cond = children[0]
            return only
        return _BoolOp(span=_span(meta), op=op, operands=tuple(children))

    def cond_or(self, meta: Any, children: list[Any]) -> ast.Cond:
        return self._bool_op("or", meta, children)

    def cond_and(self, meta: Any, children: list[Any]) -> ast.Cond:
        return self._bool_op("and", meta, children)

    def cond_negate(self, meta: Any, children: list[Any]) -> ast.Not:
        return _Not(span=_span(meta), operand=children[0])

    def cond_truth(self, meta: Any, children: list[Any]) -> ast.Truth:
        return _Truth(span=_span(meta), operand=children[0])

    def cond_compare(self, meta: Any, children: list[Any]) -> ast.Compare:
        return _Compare(span=_span(meta), left=children[0], op=str(children[1]),
                        right=children[2])

    def cond_call(self, meta: Any, children: list[Token]) -> ast.CondCall:
        return _CondCall(span=_span(meta), function=_name(children[0]),
                         argument=_name(children[1]))

    # expressions
    def field_access(self, meta: Any, children: list[Token]) -> ast.FieldAccess:
        return _FieldAccess(span=_span(meta), subject=_name(children[0]),
                            field=_name(children[1]))

    def index(self, meta: Any, children: list[Token]) -> ast.Index:
        key = children[1]
        position = self._number(key) if key.type == "NUMBER" else _Ref(
            span=_tok_span(key), name=str(key))
        return _Index(span=_span(meta), subject=_name(children[0]), position=position)

    def ref(self, meta: Any, children: list[Token]) -> ast.Ref:
        return _Ref(span=_span(meta), name=str(children[0]))

    def call(self, meta: Any, children: list[Any]) -> ast.Call:
        args = children[1] if len(children) > 1 else ()
        return _Call(span=_span(meta), callee=_name(children[0]), args=args)

    def args(self, meta: Any, children: list[Any]) -> tuple[ast.Arg, ...]:
        return tuple(child if isinstance(child, ast.Arg)
                     else _Arg(span=child.span, keyword=None, value=child)
                     for child in children)

    def keyword_arg(self, meta: Any, children: list[Any]) -> ast.Arg:
        return _Arg(span=_span(meta), keyword=_name(children[0]),
                                       value=children[1])

    def list_expr(self, meta: Any, children: list[Any]) -> ast.ListExpr:
        return _ListExpr(span=_span(meta), items=tuple(children))

    def string(self, meta: Any, children: list[Token]) -> ast.StringLit:
        return _StringLit(span=_span(meta), value=unescape(str(children[0])))

    def number(self, meta: Any, children: list[Token]) -> ast.NumberLit:
        return self._number(children[0])

    def true(self, meta: Any, children: list[Token]) -> ast.BoolLit:
        return _BoolLit(span=_span(meta), value=True)

    def false(self, meta: Any, children: list[Token]) -> ast.BoolLit:
        return _BoolLit(span=_span(meta), value=False)

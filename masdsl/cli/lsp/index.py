"""Every name of a parsed spec, classified and located: the editor's symbol table.

One walk over the AST records each occurrence of a name with what it denotes (an agent, a
value, a type alias, an enum member, a builtin pattern, a tool, a parameter...) and whether
it is the definition. Definitions, references, rename, semantic tokens, document symbols
and completion all read this table; types and agent settings come from the checker's
`Analysis`, never from a second type check.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from masdsl import ast
from masdsl.checker import BUILTINS
from masdsl.checker.analysis import MEMBER, Analysis

SymbolKind = Literal["spec", "agent", "value", "type", "member", "builtin", "builtin_type",
                     "tool", "model", "parameter", "choice", "field", "template_parameter",
                     "condition_function"]
RENAMEABLE: frozenset[str] = frozenset({"agent", "value", "type", "member"})
NAVIGABLE: frozenset[str] = RENAMEABLE | {"tool", "template_parameter"}
"""Symbols with a definition to go to and references to list (a tool's name may hold `-`
or `.`, so tools are not renamed; a template parameter is named `template.parameter`)."""
ValueRole = Literal["input", "output", "value", "graph_node", ""]
Statement = ast.Assign | ast.If | ast.Match | ast.Loop | ast.Graph


@dataclass(frozen=True)
class Occurrence:
    """One name in the text: `[start, end)` offsets, its kind and name, and whether this
    occurrence declares it (`role` tells inputs, outputs and graph nodes apart)."""

    start: int
    end: int
    kind: SymbolKind
    name: str
    definition: bool = False
    role: ValueRole = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


@dataclass
class SymbolIndex:
    """The occurrences of one program, sorted by offset, with lookups by position and by
    symbol, the flow's statements (for per-statement cost) and its expressions (for
    hover types)."""

    program: ast.Program
    analysis: Analysis
    occurrences: list[Occurrence] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    expressions: list[ast.Expr] = field(default_factory=list)
    agents: dict[str, ast.AgentDecl | ast.AgentTemplate | ast.AgentInstance] = field(
        default_factory=dict)
    """Every agent name: declared agents, templates and their instances."""
    type_decls: dict[str, ast.TypeDecl] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)  # member -> enum names
    values: set[str] = field(default_factory=set)
    starts: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, program: ast.Program, analysis: Analysis) -> SymbolIndex:
        index = cls(program=program, analysis=analysis)
        _Walker(index).program(program)
        index.occurrences.sort(key=lambda item: (item.start, item.end))
        index.starts = [item.start for item in index.occurrences]
        return index

    # ---- lookups ------------------------------------------------------------------------

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence under `offset` (a cursor just past a name still touches it)."""
        position = bisect_right(self.starts, offset) - 1
        found = None
        for candidate in self.occurrences[max(0, position - 1):position + 1]:
            if candidate.start <= offset <= candidate.end:
                found = candidate  # the later one wins: `a,b` at the comma is `b`
        return found

    def of(self, kind: str, name: str) -> list[Occurrence]:
        """Every occurrence of one symbol, in text order."""
        return [item for item in self.occurrences if item.kind == kind and item.name == name]

    def definition(self, kind: str, name: str) -> Occurrence | None:
        """Where a symbol is declared: the declaration, or a value's first binding."""
        found = self.of(kind, name)
        return next((item for item in found if item.definition), found[0] if found else None)

    def statement_at(self, offset: int) -> Statement | None:
        """The innermost flow statement containing `offset`."""
        inside = [stmt for stmt in self.statements if stmt.span.start <= offset <= stmt.span.end]
        return min(inside, key=lambda stmt: stmt.span.end - stmt.span.start, default=None)

    def expression_at(self, offset: int) -> ast.Expr | None:
        """The innermost expression containing `offset`."""
        inside = [expr for expr in self.expressions
                  if expr.span.start <= offset <= expr.span.end]
        return min(inside, key=lambda expr: expr.span.end - expr.span.start, default=None)

    def values_before(self, offset: int) -> list[str]:
        """The values a statement at `offset` can read: the inputs, then every value bound
        earlier in the text (graph nodes may be read before their binding)."""
        names = [item.name for item in self.occurrences if item.kind == "value"
                 and (item.role in ("input", "graph_node")
                      or (item.role == "value" and item.start < offset))]
        return list(dict.fromkeys(names))


class _Walker:
    """Fills a `SymbolIndex` in one pass over the program."""

    def __init__(self, index: SymbolIndex) -> None:
        self.index = index
        self.defined: set[tuple[str, str]] = set()
        program = index.program
        agents: list[ast.AgentDecl | ast.AgentTemplate | ast.AgentInstance] = [
            *program.agents, *program.templates, *program.instances]
        index.agents = {agent.name.value: agent for agent in agents}
        index.type_decls = {decl.name.value: decl for decl in program.type_decls}
        index.values = ({decl.name.value for decl in program.inputs}
                        | {decl.name.value for decl in program.outputs}
                        | set(index.analysis.bindings))
        for flow in program.flows:
            for stmt in self._statements(flow.body):
                if isinstance(stmt, ast.Assign):
                    index.values.add(stmt.target.value)
                elif isinstance(stmt, ast.Graph):
                    index.values.update(item.name.value for item in stmt.items
                                        if isinstance(item, ast.GraphNode))

    def _statements(self, block: ast.Block) -> Iterator[Statement]:
        for stmt in block.statements:
            yield stmt
            for inner in _blocks(stmt):
                yield from self._statements(inner)

    def add(self, name: ast.Name | ast.Ref, kind: SymbolKind, definition: bool = False,
            role: ValueRole = "", qualified: str | None = None) -> None:
        """Record one occurrence; `qualified` names the symbol when its text alone does
        not (a template parameter, `template.parameter`)."""
        text = qualified or (name.value if isinstance(name, ast.Name) else name.name)
        if definition:
            if (kind, text) in self.defined:
                definition = False  # a rebinding is a use of the first binding
            self.defined.add((kind, text))
        self.index.occurrences.append(Occurrence(name.span.start, name.span.end, kind, text,
                                                 definition, role))

    def keyword(self, node: ast.Node, word: str, kind: SymbolKind) -> None:
        start = node.span.start
        self.index.occurrences.append(Occurrence(start, start + len(word), kind, word))

    def program(self, program: ast.Program) -> None:
        self.add(program.name, "spec", definition=True)
        for item in program.items:
            if isinstance(item, ast.InputDecl | ast.OutputDecl):
                self.add(item.name, "value", definition=True, role=item.kind)
                self.type(item.type, None)
            elif isinstance(item, ast.TypeDecl):
                self.add(item.name, "type", definition=True)
                self.type(item.type, item.name.value)
            elif isinstance(item, ast.AgentDecl):
                self.agent(item)
            elif isinstance(item, ast.AgentTemplate):
                self.agent(ast.AgentDecl(span=item.span, name=item.name, output=item.output,
                                         fields=item.fields))
                for placeholder in item.params:
                    self.add(placeholder, "template_parameter", definition=True,
                             qualified=f"{item.name.value}.{placeholder.value}")
            elif isinstance(item, ast.AgentInstance):
                self.add(item.name, "agent", definition=True)
                self.add(item.template, "agent")
                for arg in item.args:
                    self.add(arg.name, "template_parameter",
                             qualified=f"{item.template.value}.{arg.name.value}")
                self.fields(item.fields)
            elif isinstance(item, ast.ToolDecl):
                self.add(item.name, "tool", definition=True)
                for param in item.params:
                    self.type(param.type, None)
                if item.result is not None:
                    self.type(item.result, None)
            else:
                self.block(item.body)

    def type(self, node: ast.TypeExpr, alias: str | None) -> None:
        if isinstance(node, ast.NamedType):
            kind: SymbolKind = "type" if node.name.value in self.index.type_decls \
                else "builtin_type"
            self.add(node.name, kind)
        elif isinstance(node, ast.ListType):
            self.type(node.element, alias)
        elif isinstance(node, ast.RecordType):
            for field in node.fields:
                self.type(field.type, None)
        else:
            for member in node.members:
                self.index.members.setdefault(member.value, []).append(alias or "enum")
                self.add(member, "member", definition=True)

    def agent(self, agent: ast.AgentDecl) -> None:
        self.add(agent.name, "agent", definition=True)
        if agent.output is not None:
            self.type(agent.output, None)
        self.fields(agent.fields)

    def fields(self, fields: tuple[ast.AgentField, ...]) -> None:
        for item in fields:
            self.keyword(item, item.key, "field")
            if isinstance(item.value, tuple):
                for tool in item.value:
                    self.add(tool, "tool")
            elif isinstance(item.value, ast.Name):
                self.add(item.value, "model")

    def block(self, block: ast.Block) -> None:
        for stmt in block.statements:
            self.statement(stmt)

    def statement(self, stmt: Statement) -> None:
        self.index.statements.append(stmt)
        if isinstance(stmt, ast.Assign):
            self.expr(stmt.value)
            self.add(stmt.target, "value", definition=True, role="value")
        elif isinstance(stmt, ast.If):
            self.cond(stmt.condition)
        elif isinstance(stmt, ast.Match):
            self.add(stmt.subject, "value")
            for case in stmt.cases:
                for member in case.members:
                    self.add(member, "member")
        elif isinstance(stmt, ast.Loop):
            if stmt.until is not None:
                self.cond(stmt.until)
        elif isinstance(stmt, ast.Graph):
            for item in stmt.items:
                if isinstance(item, ast.GraphStart):
                    self.add(item.node, "value")
                elif isinstance(item, ast.GraphNode):
                    self.add(item.name, "value", definition=True, role="graph_node")
                    self.expr(item.value)
                else:
                    for end in (item.source, item.target):
                        if end.value != "end":
                            self.add(end, "value")
                    if item.when is not None:
                        self.cond(item.when)
        for inner in _blocks(stmt):
            self.block(inner)

    def cond(self, cond: ast.Cond) -> None:
        for function in _condition_functions(cond):
            self.add(function, "condition_function")
        members = self.index.analysis.expression_types
        for name in ast.condition_names(cond):
            member = (name.span.start, name.span.end, MEMBER) in members
            self.add(name, "member" if member else "value")

    def expr(self, expr: ast.Expr, parameter: str | None = None) -> None:
        self.index.expressions.append(expr)
        if isinstance(expr, ast.Ref):
            kind = self.resolve(expr.name, parameter)
            if kind is not None:
                self.add(expr, kind)
        elif isinstance(expr, ast.FieldAccess):
            self.add(expr.subject, "value")
        elif isinstance(expr, ast.Index):
            self.add(expr.subject, "value")
            if isinstance(expr.position, ast.Ref):
                self.add(expr.position, "value")
        elif isinstance(expr, ast.ListExpr):
            for item in expr.items:
                self.expr(item, parameter)
        elif isinstance(expr, ast.Call):
            builtin = expr.callee.value in BUILTINS
            self.add(expr.callee, "builtin" if builtin else "agent")
            for arg in expr.args:
                if arg.keyword is not None:
                    self.add(arg.keyword, "parameter")
                self.expr(arg.value, arg.keyword.value if arg.keyword else None)

    def resolve(self, name: str, parameter: str | None) -> SymbolKind | None:
        index = self.index
        if parameter in ("strategy", "show"):
            return "choice"
        if name in index.agents:
            return "agent"
        if name in index.values:
            return "value"
        if name in index.members:
            return "member"
        return None


def _condition_functions(cond: ast.Cond) -> list[ast.Name]:
    """The function names of a condition's calls (`all_equal`, `len`, `empty`)."""
    found: list[ast.Name] = []
    stack: list[object] = [cond]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.CondCall):
            found.append(node.function)
        elif isinstance(node, ast.Truth | ast.Not):
            stack.append(node.operand)
        elif isinstance(node, ast.Compare):
            stack.extend((node.left, node.right))
        elif isinstance(node, ast.BoolOp):
            stack.extend(node.operands)
    return found


def _blocks(stmt: Statement) -> list[ast.Block]:
    """The blocks directly inside a statement."""
    if isinstance(stmt, ast.If):
        return [stmt.then] + ([stmt.otherwise] if stmt.otherwise else [])
    if isinstance(stmt, ast.Match):
        return [case.body for case in stmt.cases] + ([stmt.otherwise] if stmt.otherwise else [])
    if isinstance(stmt, ast.Loop):
        return [stmt.body]
    return []

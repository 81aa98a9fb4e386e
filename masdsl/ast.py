"""The typed abstract syntax tree of a `.mas` spec.

Every node is a frozen Pydantic model with a `kind` tag (so unions serialise and validate
unambiguously) and a `span` pointing back into the source text. Identifiers are `Name`
nodes, so a diagnostic about a name can point at exactly that name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from masdsl.spans import Span


class Node(BaseModel):
    """Base of every AST node."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    span: Span


class Name(Node):
    """An identifier as written, e.g. the `solver` in `agent solver { ... }`."""

    kind: Literal["name"] = "name"
    value: str


# ---- types ------------------------------------------------------------------------------


class NamedType(Node):
    """A builtin type (`text`, `number`, `bool`, `code`) or a `type` alias, by name."""

    kind: Literal["named_type"] = "named_type"
    name: Name


class ListType(Node):
    """`list[T]`."""

    kind: Literal["list_type"] = "list_type"
    element: TypeExpr


class EnumType(Node):
    """`enum { a, b, c }`: a closed set of members, in declaration order."""

    kind: Literal["enum_type"] = "enum_type"
    members: tuple[Name, ...]


class FieldType(Node):
    """`name: T`, one field of a record type."""

    kind: Literal["field_type"] = "field_type"
    name: Name
    type: TypeExpr


class RecordType(Node):
    """`{ verdict: Verdict, critique: text }`: named fields, in declaration order."""

    kind: Literal["record_type"] = "record_type"
    fields: tuple[FieldType, ...]


TypeExpr = Annotated[NamedType | ListType | EnumType | RecordType, Field(discriminator="kind")]


# ---- expressions ------------------------------------------------------------------------


class Ref(Node):
    """A reference to a system input, a bound value, an agent or an enum member."""

    kind: Literal["ref"] = "ref"
    name: str


class FieldAccess(Node):
    """`review.verdict`: one field of a bound record value."""

    kind: Literal["field"] = "field"
    subject: Name
    field: Name


class StringLit(Node):
    kind: Literal["string"] = "string"
    value: str


class NumberLit(Node):
    kind: Literal["number"] = "number"
    value: int | float


class BoolLit(Node):
    kind: Literal["bool"] = "bool"
    value: bool


class ListExpr(Node):
    """`[a, b, c]`: a list of agents (for `ensemble`/`debate`) or of values (`weights`)."""

    kind: Literal["list"] = "list"
    items: tuple[Expr, ...]


class Arg(Node):
    """One call argument: positional (`keyword` is None) or `keyword: value`."""

    kind: Literal["arg"] = "arg"
    keyword: Name | None
    value: Expr


class Call(Node):
    """`callee(args)`: an agent call or a builtin pattern (`ensemble`, `vote`, ...)."""

    kind: Literal["call"] = "call"
    callee: Name
    args: tuple[Arg, ...]


class Index(Node):
    """`xs[0]`, `xs[-1]`, `xs[k]`: one item of the bound list `subject`, without an LLM call.
    `position` is an integer literal (negative counts from the end) or a bound number."""

    kind: Literal["index"] = "index"
    subject: Name
    position: NumberLit | Ref


Expr = Annotated[
    Ref | FieldAccess | StringLit | NumberLit | BoolLit | ListExpr | Call | Index,
    Field(discriminator="kind"),
]


# ---- conditions -------------------------------------------------------------------------


CONDITION_FUNCTIONS = ("all_equal", "len", "empty")
"""The functions a condition may apply to a list: `all_equal(xs)` (bool: every item equal,
compared as `vote` compares), `len(xs)` (number) and `empty(xs)` (bool)."""

CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]


class CondCall(Node):
    """`all_equal(xs)`, `len(xs)` or `empty(xs)` inside a condition (see
    `CONDITION_FUNCTIONS`); the argument is a bound name."""

    kind: Literal["cond_call"] = "cond_call"
    function: Name
    argument: Name


Operand = Annotated[Ref | FieldAccess | StringLit | NumberLit | BoolLit | CondCall,
                    Field(discriminator="kind")]


class Truth(Node):
    """A bare operand used as a condition: a bool value (`x`), `all_equal(xs)`, `empty(xs)`."""

    kind: Literal["truth"] = "truth"
    operand: Operand


class Compare(Node):
    """`left op right`. `==`/`!=` compare two values of one type; a name that is not bound
    but is a member of the other side's enum is that member (`kind == algebra`). `<`, `<=`,
    `>`, `>=` compare numbers."""

    kind: Literal["compare"] = "compare"
    op: CompareOp
    left: Operand
    right: Operand


class Not(Node):
    """`not c`."""

    kind: Literal["not"] = "not"
    operand: Cond


class BoolOp(Node):
    """`a and b and ...` / `a or b or ...` (two or more operands, left to right)."""

    kind: Literal["bool_op"] = "bool_op"
    op: Literal["and", "or"]
    operands: tuple[Cond, ...]


Cond = Annotated[Truth | Compare | Not | BoolOp, Field(discriminator="kind")]
"""A condition: tested by `if`, `loop ... until` and graph edges' `when`, without an LLM
call."""


def condition_names(cond: Cond) -> list[Name | Ref]:
    """Every name a condition reads, in source order (refs and function arguments)."""
    found: list[Name | Ref] = []
    stack: list[Any] = [cond]
    while stack:
        node = stack.pop()
        if isinstance(node, Ref):
            found.append(node)
        elif isinstance(node, FieldAccess):
            found.append(node.subject)
        elif isinstance(node, CondCall):
            found.append(node.argument)
        elif isinstance(node, Truth):
            stack.append(node.operand)
        elif isinstance(node, Compare):
            stack.extend((node.right, node.left))
        elif isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, BoolOp):
            stack.extend(reversed(node.operands))
    return found


# ---- statements -------------------------------------------------------------------------


class Assign(Node):
    """`target = value`. Rebinding a name is allowed only with the same type."""

    kind: Literal["assign"] = "assign"
    target: Name
    value: Expr


class Block(Node):
    kind: Literal["block"] = "block"
    statements: tuple[Stmt, ...]


class If(Node):
    """`if cond { ... } else { ... }`: a conditional on a bool or enum value."""

    kind: Literal["if"] = "if"
    condition: Cond
    then: Block
    otherwise: Block | None = None


class Case(Node):
    """`case m1, m2 { ... }` inside a `match`."""

    kind: Literal["case"] = "case"
    members: tuple[Name, ...]
    body: Block


class Match(Node):
    """The router: `match x { case a { ... } ... else { ... } }` over an enum value `x`."""

    kind: Literal["match"] = "match"
    subject: Name
    cases: tuple[Case, ...]
    otherwise: Block | None = None


class Loop(Node):
    """`loop max N until cond { ... }`: at most N iterations; `until` is tested after each."""

    kind: Literal["loop"] = "loop"
    max_iterations: NumberLit
    until: Cond | None = None
    body: Block


class GraphStart(Node):
    kind: Literal["graph_start"] = "graph_start"
    node: Name


class GraphNode(Node):
    kind: Literal["graph_node"] = "graph_node"
    name: Name
    value: Expr


class GraphEdge(Node):
    """`edge a -> b when cond`; the target `end` leaves the graph."""

    kind: Literal["graph_edge"] = "graph_edge"
    source: Name
    target: Name
    when: Cond | None = None


GraphItem = Annotated[GraphStart | GraphNode | GraphEdge, Field(discriminator="kind")]


class Graph(Node):
    """A general graph with conditional and cyclic edges, bounded by `max_steps` node runs."""

    kind: Literal["graph"] = "graph"
    max_steps: NumberLit
    items: tuple[GraphItem, ...]


Stmt = Annotated[Assign | If | Match | Loop | Graph, Field(discriminator="kind")]


# ---- declarations -----------------------------------------------------------------------


class InputDecl(Node):
    kind: Literal["input"] = "input"
    name: Name
    type: TypeExpr


class OutputDecl(Node):
    kind: Literal["output"] = "output"
    name: Name
    type: TypeExpr


class TypeDecl(Node):
    kind: Literal["type_decl"] = "type_decl"
    name: Name
    type: TypeExpr


AgentFieldKey = Literal[
    "role", "tools", "max_tool_turns", "temperature", "top_p", "max_tokens", "retries", "model",
    "default", "memory",
]


class AgentField(Node):
    """One `key value` line of an agent: `role "..."`, `tools [python]`, `temperature 0.7`,
    `default other` (a constant: a literal, an enum member as a `Ref`, or a list of them)."""

    kind: Literal["agent_field"] = "agent_field"
    key: AgentFieldKey
    value: StringLit | NumberLit | BoolLit | Ref | ListExpr | Name | tuple[Name, ...]


class AgentDecl(Node):
    """`agent name -> T { fields }`; the output type defaults to `text`."""

    kind: Literal["agent"] = "agent"
    name: Name
    output: TypeExpr | None = None
    fields: tuple[AgentField, ...]

    def field(self, key: str) -> AgentField | None:
        """The first field with this key (duplicates are a diagnostic), or None."""
        return next((f for f in self.fields if f.key == key), None)


class AgentTemplate(Node):
    """`agent expert(field) -> T { fields }`: near-identical agents declared once. Each
    `{param}` in its role is replaced by an instance's argument (`{{`/`}}` are braces); a
    template is not an agent and is never called."""

    kind: Literal["agent_template"] = "agent_template"
    name: Name
    params: tuple[Name, ...]
    output: TypeExpr | None = None
    fields: tuple[AgentField, ...]


class TemplateArg(Node):
    """`param: "value"`, one argument of an agent instance."""

    kind: Literal["template_arg"] = "template_arg"
    name: Name
    value: StringLit


class AgentInstance(Node):
    """`agent physicist = expert(field: "physics") { temperature 0.2 }`: an ordinary agent
    made from a template; its own fields (optional) replace the template's."""

    kind: Literal["agent_instance"] = "agent_instance"
    name: Name
    template: Name
    args: tuple[TemplateArg, ...]
    fields: tuple[AgentField, ...] = ()
    has_block: bool = False
    """True when written with a `{ ... }` block (possibly empty), so `fmt` keeps it."""


class Flow(Node):
    kind: Literal["flow"] = "flow"
    body: Block


class ToolDecl(Node):
    """`tool name(param: T, ...) -> R { description "..." }`: a tool agents may list in
    `tools [...]`, bound at run time. Its name follows MCP (letters, digits, `_ - .`); the
    result type defaults to `text`; the body's fields are kept as written (a duplicate is a
    diagnostic, not a parse error)."""

    kind: Literal["tool"] = "tool"
    name: Name
    params: tuple[FieldType, ...]
    result: TypeExpr | None = None
    fields: tuple[ToolField, ...] = ()

    def description(self) -> str | None:
        """The first `description` (None when the body sets none)."""
        return next((f.value.value for f in self.fields if f.key == "description"), None)


class ToolField(Node):
    """One `key value` line of a tool's body (today only `description "..."`)."""

    kind: Literal["tool_field"] = "tool_field"
    key: Literal["description"]
    value: StringLit


Item = Annotated[
    InputDecl | OutputDecl | TypeDecl | AgentDecl | Flow | AgentTemplate | AgentInstance
    | ToolDecl,
    Field(discriminator="kind")
]


class Comment(Node):
    """A `# ...` comment; kept so the formatter can put it back."""

    kind: Literal["comment"] = "comment"
    text: str


class Program(Node):
    """A whole spec: `mas name { items }`, plus its comments and where it came from."""

    kind: Literal["program"] = "program"
    name: Name
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = ()
    path: str = "<string>"

    @property
    def inputs(self) -> list[InputDecl]:
        return [item for item in self.items if isinstance(item, InputDecl)]

    @property
    def outputs(self) -> list[OutputDecl]:
        return [item for item in self.items if isinstance(item, OutputDecl)]

    @property
    def agents(self) -> list[AgentDecl]:
        return [item for item in self.items if isinstance(item, AgentDecl)]

    @property
    def type_decls(self) -> list[TypeDecl]:
        return [item for item in self.items if isinstance(item, TypeDecl)]

    @property
    def templates(self) -> list[AgentTemplate]:
        return [item for item in self.items if isinstance(item, AgentTemplate)]

    @property
    def instances(self) -> list[AgentInstance]:
        return [item for item in self.items if isinstance(item, AgentInstance)]

    @property
    def flows(self) -> list[Flow]:
        return [item for item in self.items if isinstance(item, Flow)]

    @property
    def tools(self) -> list[ToolDecl]:
        return [item for item in self.items if isinstance(item, ToolDecl)]


def without_spans(node: BaseModel) -> Any:
    """A plain structure of the tree with every span, comment and path dropped: two programs
    that differ only in layout compare equal this way (`parse(fmt(x)) == parse(x)`)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items()
                    if key not in ("span", "comments", "path")}
        if isinstance(value, list | tuple):
            return [strip(item) for item in value]
        return value

    return strip(node.model_dump())



def bindings(node: Block | Assign | If | Match | Loop | Graph) -> Iterator[Assign | GraphNode]:
    """Every binding inside `node`, nested blocks included: a block's assignments and graph
    nodes in order, then those of the blocks nested in it (the last nested block first)."""
    stack: list[Block] = []
    statements: tuple[Stmt, ...] = node.statements if isinstance(node, Block) else (node,)
    while True:
        for statement in statements:
            if isinstance(statement, Assign):
                yield statement
            elif isinstance(statement, If):
                stack.append(statement.then)
                if statement.otherwise is not None:
                    stack.append(statement.otherwise)
            elif isinstance(statement, Match):
                stack.extend(case.body for case in statement.cases)
                if statement.otherwise is not None:
                    stack.append(statement.otherwise)
            elif isinstance(statement, Loop):
                stack.append(statement.body)
            else:
                yield from (item for item in statement.items if isinstance(item, GraphNode))
        if not stack:
            return
        statements = stack.pop().statements

for _model in (FieldType, RecordType, Truth, Compare, Not, BoolOp, ListType, ListExpr, Arg,
               Call, Block, If, Case, Match, Loop, Graph, AgentDecl, Flow, Program, InputDecl,
               OutputDecl, TypeDecl, Assign, GraphNode, AgentTemplate, AgentInstance,
               ToolDecl):
    _model.model_rebuild()

"""The intermediate representation: frozen Pydantic node and edge models around a networkx
multigraph.

The IR is *executable*: a scheduler runs it without the AST. Every node carries what it needs
to run (an agent call carries its resolved agent settings and labelled input ports in
order), every edge carries its value type and the ports it joins, and every node keeps the
span of the AST node it came from (the trainer maps designer tokens to nodes through it).
Loops, reflection, debate rounds and graphs are unrolled to their bounds, so the IR is a DAG
and the worst-case counts are exact. The execution semantics of each kind are in
`docs/ir.md`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, model_serializer

from masdsl.spans import Span
from masdsl.types import Type

SCHEMA_VERSION = "1"

OUT, TEXT, TIED = "out", "text", "tied"
"""Output port names: every node's value is `out`; agent nodes also give their raw reply as
`text`; a `vote` node with a tiebreak says whether the vote tied on `tied`."""

GUARD = "guard"
"""The target port of a guard edge (a control edge, not a data input)."""

Scalar = bool | int | float | str
Constant = Scalar | tuple[Scalar, ...]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Port(Model):
    """A named, typed port. An input port either receives exactly one data edge or holds a
    `constant` (set by constant folding), never both."""

    name: str
    type: Type
    constant: Constant | None = None


class AgentSettings(Model):
    """An agent with every default resolved: what the runtime needs to make its LLM calls."""

    name: str
    role: str
    output: Type
    tools: tuple[str, ...] = ()
    max_tool_turns: int = 0
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 512
    retries: int = 2
    model: str = "executor"
    default: Constant | None = None
    """The agent's value when its reply never parses (None: the value is absent then)."""
    memory: int = 0
    """How many of the agent's earlier calls in the same execution each call sees as
    earlier conversation turns (`memory N`; 0: none)."""

    @model_serializer(mode="wrap")
    def _without_absent_default(self, handler):  # type: ignore[no-untyped-def]
        # An agent without a default (or memory) serialises as before the field existed, so
        # IR JSON of specs that do not use them stays byte-identical.
        data = handler(self)
        if isinstance(data, dict):
            if self.default is None:
                data.pop("default", None)
            if not self.memory:
                data.pop("memory", None)
        return data

    @property
    def worst_case_calls(self) -> int:
        """LLM calls of one run in the worst case: every tool turn and format retry used."""
        return (1 + self.max_tool_turns) * (1 + self.retries)


class NodeBase(Model):
    """Fields shared by every IR node. `reaches_output` / `feeds_output` are filled in by the
    `annotate_reachability` pass (None before it ran)."""

    id: str
    span: Span
    label: str
    scope: tuple[str, ...] = ()
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    reaches_output: bool | None = None
    feeds_output: bool | None = None

    def input_port(self, name: str) -> Port | None:
        return next((port for port in self.inputs if port.name == name), None)

    def output_port(self, name: str) -> Port | None:
        return next((port for port in self.outputs if port.name == name), None)

    @property
    def is_llm(self) -> bool:
        return False


class InputNode(NodeBase):
    """A system input: its value is given by the caller."""

    kind: Literal["input"] = "input"
    name: str


class OutputNode(NodeBase):
    """A system output: receives the final value of the output name on port `value`."""

    kind: Literal["output"] = "output"
    name: str


class LiteralNode(NodeBase):
    """A constant value (string, number, bool)."""

    kind: Literal["literal"] = "literal"
    value: Constant


class ListNode(NodeBase):
    """Builds a list from its `item_i` inputs in order (absent items are left out)."""

    kind: Literal["list"] = "list"


class MergeNode(NodeBase):
    """Joins the values a name can have after a branch, loop or graph: the *last present*
    input in port order (`in_0`, `in_1`, ...); absent when none is present."""

    kind: Literal["merge"] = "merge"
    name: str


AgentKind = Literal[
    "agent_call", "ensemble_member", "vote_tiebreak", "vote_judge", "debate_turn",
    "debate_judge", "reflect_answer", "reflect_critique", "reflect_revise",
]
AGENT_KINDS: tuple[str, ...] = AgentKind.__args__  # type: ignore[attr-defined]


class AgentNode(NodeBase):
    """One agent run: an LLM call (plus tool turns and format retries). Inputs are shown to
    the model in port order, each under its port name as a label."""

    kind: AgentKind
    agent: AgentSettings
    member: int | None = None
    round: int | None = None
    memory: tuple[str, ...] = ()
    """The input ports (named `memory.<i>`, fed by earlier calls' `text` ports) that carry
    the agent's earlier calls for its conversation memory, oldest first; they are not
    shown as inputs (see `docs/ir.md`)."""

    @model_serializer(mode="wrap")
    def _without_empty_memory(self, handler):  # type: ignore[no-untyped-def]
        # A node without memory serialises as before the field existed (byte-identical IR).
        data = handler(self)
        if not self.memory and isinstance(data, dict):
            data.pop("memory", None)
        return data

    @property
    def is_llm(self) -> bool:
        return True


class CollectNode(NodeBase):
    """Collects ensemble members `member_i` into a list, in order, leaving absent ones out."""

    kind: Literal["collect"] = "collect"


class VoteNode(NodeBase):
    """Combines `candidates` (a list) into one value by `majority` or `weighted` vote."""

    kind: Literal["vote"] = "vote"
    strategy: Literal["majority", "weighted"]
    weights: tuple[float, ...] | None = None
    has_tiebreak: bool = False


BranchConstruct = Literal["if", "match", "loop_until", "reflect_stop", "map_item"]


class BranchNode(NodeBase):
    """Evaluates a condition subject: passes `subject` through as `out`; guard edges from it
    carry the values (`when`) under which their targets run."""

    kind: Literal["branch"] = "branch"
    origin: BranchConstruct
    domain: tuple[str, ...]


class RouteEdge(Model):
    """One `edge source -> target when ...` of a graph; `subject` names an input port of the
    graph step node, `when` the subject values for which the edge holds."""

    source: str
    target: str
    subject: str | None = None
    when: tuple[str, ...] | None = None


class GraphStepNode(NodeBase):
    """Chooses the graph node that runs at step `step + 1`: the first edge (in source order)
    from the node given on `current` whose condition holds; `end` when the graph ends."""

    kind: Literal["graph_step"] = "graph_step"
    graph: str
    step: int
    edges: tuple[RouteEdge, ...]
    domain: tuple[str, ...]


class AppendNode(NodeBase):
    """`append(xs, x)` without an LLM call: `out` is the list on `list` (empty when absent or
    when there is no such port: a loop's first iteration) with the value on `item` added at
    the end (left out when absent)."""

    kind: Literal["append"] = "append"


class FormatNode(NodeBase):
    """`format(template, name: value, ...)` without an LLM call: `out` is `template` with each
    `{name}` replaced by the value on port `in_<name>` as an agent would be shown it (nothing
    when absent), `{{`/`}}` by braces."""

    kind: Literal["format"] = "format"
    template: str


class FieldNode(NodeBase):
    """Reads one field of the record on `subject` without an LLM call: `out` is the value of
    field `field` (absent when the record is absent)."""

    kind: Literal["field"] = "field"
    field: str


class ReplyNode(NodeBase):
    """`reply(x)` without an LLM call: `out` is the full reply of the agent call whose value
    arrives on `value` (followed through merges, branches, field reads and votes), or,
    for a value no agent produced, the value shown as an agent would be shown it; for a
    list, one such text per item. Absent when the value is absent."""

    kind: Literal["reply"] = "reply"


class RoundsNode(NodeBase):
    """`rounds(x)` without an LLM call: `out` is the list of the values on `round_0`,
    `round_1`, ... (a name's value after each iteration or graph step), absent ones left
    out."""

    kind: Literal["rounds"] = "rounds"


TermOp = Literal["port", "const", "all_equal", "len", "empty", "truth", "not", "and", "or",
                 "==", "!=", "<", "<=", ">", ">="]


class Term(Model):
    """One node of a condition's expression tree: `port` reads an input port of its
    `condition` node, `const` is a literal (an enum member is its name as a string); the
    functions `all_equal`/`len`/`empty` apply to the list on `port`; `truth`, `not`, `and`,
    `or` and the comparisons combine `operands`."""

    op: TermOp
    port: str | None = None
    value: Scalar | None = None
    operands: tuple[Term, ...] = ()


class ConditionNode(NodeBase):
    """Evaluates a condition over its input ports without an LLM call: `out` is a bool
    (absent when a port it reads is absent). A `branch` node on `out` guards what runs."""

    kind: Literal["condition"] = "condition"
    test: Term


class ListOpNode(NodeBase):
    """A list operation without an LLM call on the list on port `list` (absent in, absent
    out): `index` is the item at `position` (negative counts from the end), or at the
    number on port `position` when `position` is None; absent when out of range or not a
    whole number. `rest` is every item but the first; `len` the number of items."""

    kind: Literal["list_op"] = "list_op"
    op: Literal["index", "rest", "len"]
    position: int | None = None


class RunTestsNode(NodeBase):
    """Runs the program on port `code`, then each test on port `tests` (a list, or one
    test), in the python tool's sandbox, without an LLM call. `out` is the record
    `{ passed, passed_count, total, report }`; absent when `code` or `tests` is absent."""

    kind: Literal["run_tests"] = "run_tests"


IRNode = Annotated[
    InputNode | OutputNode | LiteralNode | ListNode | MergeNode | AgentNode | CollectNode
    | VoteNode | BranchNode | GraphStepNode | ConditionNode | FieldNode | AppendNode
    | FormatNode | ReplyNode | RoundsNode | ListOpNode | RunTestsNode,
    Field(discriminator="kind"),
]


class Edge(Model):
    """A data edge (`source.source_port` feeds `target.target_port`) or a guard edge (target
    port `guard`: the target runs only if the source's value is present and in `when`)."""

    source: str
    source_port: str = OUT
    target: str
    target_port: str
    type: Type
    kind: Literal["data", "guard"] = "data"
    when: tuple[str, ...] | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.source, self.target, self.target_port, self.source_port)


class Declaration(Model):
    """A system input or output as declared."""

    name: str
    type: Type
    span: Span


class ToolParameter(Model):
    """One typed parameter of a declared tool."""

    name: str
    type: Type


class ToolDeclaration(Model):
    """A tool the spec declares (`tool name(params) -> result { description "..." }`): what
    the runtime shows the model and checks a binding (a Python function or an MCP server's
    tool) against. Agents name it in `AgentSettings.tools`."""

    name: str
    description: str
    parameters: tuple[ToolParameter, ...]
    result: Type
    span: Span


class IRDocument(Model):
    """The serialised IR (`masc compile -o spec.json`): sorted nodes and edges, and the
    declared tools (left out of the JSON when there are none, so specs without tools
    serialise as before tools existed)."""

    schema_version: str = SCHEMA_VERSION
    name: str
    path: str = "<string>"
    inputs: tuple[Declaration, ...]
    outputs: tuple[Declaration, ...]
    nodes: tuple[IRNode, ...]
    edges: tuple[Edge, ...]
    tools: tuple[ToolDeclaration, ...] = ()

    @model_serializer(mode="wrap")
    def _without_absent_tools(self, handler):  # type: ignore[no-untyped-def]
        data = handler(self)
        if not self.tools and isinstance(data, dict):
            data.pop("tools", None)
        return data


class IR:
    """A compiled system: declarations plus a `networkx.MultiDiGraph` whose nodes hold their
    model under the attribute `node` and whose edges (keyed by target port) hold `edge`.
    Passes never mutate an IR: they build a new one."""

    __slots__ = ("graph", "inputs", "name", "outputs", "path", "tools")

    def __init__(self, name: str, inputs: Iterable[Declaration], outputs: Iterable[Declaration],
                 nodes: Iterable[IRNode], edges: Iterable[Edge], path: str = "<string>",
                 tools: Iterable[ToolDeclaration] = ()) -> None:
        self.name = name
        self.path = path
        self.tools = tuple(tools)
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.graph = nx.MultiDiGraph()
        for node in nodes:
            self.graph.add_node(node.id, node=node)
        for edge in edges:
            self.graph.add_edge(edge.source, edge.target, key=edge.target_port, edge=edge)

    def node(self, node_id: str) -> IRNode:
        node: IRNode = self.graph.nodes[node_id]["node"]
        return node

    def nodes(self) -> list[IRNode]:
        """Every node, sorted by id (creation order)."""
        return [self.graph.nodes[node_id]["node"] for node_id in sorted(self.graph.nodes)]

    def edges(self) -> list[Edge]:
        """Every edge, sorted by (source, target, target port, source port)."""
        found = [data["edge"] for _, _, data in self.graph.edges(data=True)]
        return sorted(found, key=lambda edge: edge.key)

    def in_edges(self, node_id: str) -> list[Edge]:
        return sorted((data["edge"] for _, _, data in self.graph.in_edges(node_id, data=True)),
                      key=lambda edge: edge.key)

    def out_edges(self, node_id: str) -> list[Edge]:
        return sorted((data["edge"] for _, _, data in self.graph.out_edges(node_id, data=True)),
                      key=lambda edge: edge.key)

    def guard_of(self, node_id: str) -> Edge | None:
        """The guard edge into a node, if it has one (a node has at most one)."""
        for _, _, data in self.graph.in_edges(node_id, data=True):
            if data["edge"].kind == "guard":
                edge: Edge = data["edge"]
                return edge
        return None

    def agent_nodes(self) -> Iterator[AgentNode]:
        return (node for node in self.nodes() if isinstance(node, AgentNode))

    def replace(self, nodes: Iterable[IRNode], edges: Iterable[Edge]) -> IR:
        """A new IR with the same declarations and the given nodes and edges."""
        return IR(self.name, self.inputs, self.outputs, nodes, edges, self.path, self.tools)

    def document(self) -> IRDocument:
        return IRDocument(name=self.name, path=self.path, inputs=self.inputs,
                          outputs=self.outputs, nodes=tuple(self.nodes()),
                          edges=tuple(self.edges()), tools=self.tools)

    @classmethod
    def from_document(cls, document: IRDocument) -> IR:
        return cls(document.name, document.inputs, document.outputs, document.nodes,
                   document.edges, document.path, document.tools)

    def tool(self, name: str) -> ToolDeclaration | None:
        """The declared tool called `name`, or None (a builtin, or not declared)."""
        return next((tool for tool in self.tools if tool.name == name), None)

    def used_tools(self) -> list[str]:
        """Every tool name some agent node lists, sorted."""
        return sorted({name for node in self.agent_nodes() for name in node.agent.tools})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IR) and self.document() == other.document()

    def __hash__(self) -> int:
        return hash((self.name, len(self.graph)))

    def __repr__(self) -> str:
        return (f"IR({self.name!r}, {self.graph.number_of_nodes()} nodes, "
                f"{self.graph.number_of_edges()} edges)")

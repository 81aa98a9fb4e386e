"""The checker's working state and the small helpers every rule module shares.

A `Context` lives for one `analyze` call only: it accumulates diagnostics and resolved
types while the rule modules walk the tree, then `analyze` freezes it into an `Analysis`.
It is mutable on purpose (an accumulator), and never shared between calls.

Unknown types are `None`: a rule that meets `None` stays silent, so one mistake (say an
undefined name) produces one diagnostic, not a cascade of type mismatches.
"""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from masdsl import ast
from masdsl.checker.analysis import AgentSettings, ExpressionKey, ToolSignature
from masdsl.construct import trusted
from masdsl.diagnostics import CODES, Diagnostic, Severity
from masdsl.limits import Limits
from masdsl.patterns import BUILTINS
from masdsl.spans import Span
from masdsl.types import Enum, List, Primitive, Record, Type

_diagnostic = trusted(Diagnostic)
_list = trusted(List)
_span = trusted(Span)

RESERVED = frozenset(BUILTINS) | frozenset({"text", "number", "bool", "code", "list", "enum",
                                            "end", "true", "false"})
"""Names that may not be declared: builtin patterns, type names, the graph exit `end`, and
the literals `true`/`false` (a value named `true` could never be referenced)."""


@dataclass
class Context:
    """Everything one check accumulates (see the module docstring)."""

    limits: Limits
    tools: frozenset[str]
    engines: frozenset[str] | None
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # declarations
    type_aliases: dict[str, Type | None] = field(default_factory=dict)
    agents: dict[str, AgentSettings] = field(default_factory=dict)
    templates: dict[str, ast.AgentTemplate] = field(default_factory=dict)
    inputs: dict[str, Type | None] = field(default_factory=dict)
    outputs: dict[str, Type | None] = field(default_factory=dict)
    declared_tools: dict[str, ToolSignature] = field(default_factory=dict)
    # the flow
    values: dict[str, Type | None] = field(default_factory=dict)   # first binding's type
    lengths: dict[str, int | None] = field(default_factory=dict)   # static list lengths
    flow_names: set[str] = field(default_factory=set)               # bound anywhere
    expression_types: dict[ExpressionKey, Type] = field(default_factory=dict)
    static_lengths: dict[ExpressionKey, int] = field(default_factory=dict)
    used_agents: set[str] = field(default_factory=set)
    used_inputs: set[str] = field(default_factory=set)
    node_count: int = 0
    walk_cut_short: bool = False   # MAS406 stopped a descent: usage facts are incomplete
    muted: int = 0                 # > 0 while inferring a forward reference silently
    inferring: set[str] = field(default_factory=set)
    suggestions_left: int = 100    # "did you mean" hints for undefined names (MAS101)
    # forward-reference types inferred so far, per scope (keyed by the id of the scope's
    # `forward` dict, which the entry keeps alive so the id cannot be reused)
    forward_memo: dict[int, tuple[object, dict[str, Type | None]]] = field(default_factory=dict)

    def report(self, code: str, span: Span, message: str, help: str | None = None) -> None:
        """Record a diagnostic (unless muted: a silent re-inference must not repeat one)."""
        if self.muted:
            return
        severity, _ = CODES[code]
        self.diagnostics.append(_diagnostic(
            code=code, severity=severity, span=span, message=message, help=help,
            path=self.path))

    def record(self, expr: ast.Node, kind: str, value_type: Type | None) -> Type | None:
        """Remember an expression's type for the compiler; returns it for chaining."""
        if value_type is not None and not self.muted:
            self.expression_types[(expr.span.start, expr.span.end, kind)] = value_type
        return value_type

    def count_node(self, span: Span, head: bool = False) -> None:
        """Count one statement or call against `max_nodes` (MAS405, reported once at `span`,
        or at its first character when `head`)."""
        if self.muted:
            return
        self.node_count += 1
        if self.node_count == self.limits.max_nodes + 1:
            where = head_span(span, 1) if head else span
            self.report("MAS405", where, f"the flow has more than {self.limits.max_nodes} "
                        "statements and calls", help="split the system or raise max_nodes")

    def too_deep(self, depth: int, span: Span, head: bool = False) -> bool:
        """True (after reporting MAS406 at `span`, or its first character when `head`) when
        `depth` exceeds `max_depth`: the caller stops descending."""
        if depth <= self.limits.max_depth:
            return False
        if self.walk_cut_short or self.muted:
            return True  # one MAS406 per spec, reported by the real walk, not an inference
        self.walk_cut_short = True
        where = head_span(span, 1) if head else span
        self.report("MAS406", where, f"nesting deeper than {self.limits.max_depth} blocks "
                    "and calls", help="bind inner calls to names first, then use the names")
        return True


def render(value_type: Type | None) -> str:
    """A type as the spec writes it (`?` when unknown)."""
    return "?" if value_type is None else value_type.render()


def same_type(left: Type, right: Type) -> bool:
    """Type equality: primitives by name, enums by member set, lists by element."""
    if isinstance(left, Primitive) and isinstance(right, Primitive):
        return left.name == right.name
    if isinstance(left, Enum) and isinstance(right, Enum):
        return set(left.members) == set(right.members)
    if isinstance(left, List) and isinstance(right, List):
        return same_type(left.element, right.element)
    if isinstance(left, Record) and isinstance(right, Record):
        return len(left.fields) == len(right.fields) and all(
            a.name == b.name and same_type(a.type, b.type)
            for a, b in zip(left.fields, right.fields, strict=True))
    return False


def list_of(element: Type) -> List:
    """`list[element]` without re-validating an already valid type."""
    return _list(element=element)


SUGGESTION_CUTOFF = 0.7
# At most this many candidates are compared in full for one suggestion, so a spec with
# thousands of undefined names and thousands of bound ones stays linear, not quadratic.
MAX_COMPARED_CANDIDATES = 32


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """'did you mean ...?' for a misspelt name, or None.

    difflib's ratio is 2·matches/(len(a)+len(b)), so a candidate whose length is too far from
    the name's can never reach the cutoff and is skipped without comparing. Of the rest, at
    most MAX_COMPARED_CANDIDATES are compared in full, those closest in length and sharing the
    first character first: a best-effort hint in bounded time."""
    size = len(name)
    first = name[:1]
    pool = [candidate for candidate in set(candidates)
            if 2 * min(size, len(candidate)) >= SUGGESTION_CUTOFF * (size + len(candidate))
            and candidate != name]
    if len(pool) > MAX_COMPARED_CANDIDATES:
        pool = heapq.nsmallest(MAX_COMPARED_CANDIDATES, pool, key=lambda candidate: (
            abs(len(candidate) - size), candidate[:1] != first, candidate))
    close = difflib.get_close_matches(name, sorted(pool), n=1, cutoff=SUGGESTION_CUTOFF)
    return f"did you mean '{close[0]}'?" if close else None


def is_integer(node: object) -> bool:
    """True for an integer literal (a float such as `3.0` is not one)."""
    return isinstance(node, ast.NumberLit) and isinstance(node.value, int) \
        and not isinstance(node.value, bool)


def head_span(span: Span, length: int) -> Span:
    """The first `length` characters of a one-line start of `span` (a keyword's span)."""
    end = min(span.end, span.start + length)
    return _span(start=span.start, end=end, line=span.line, column=span.column,
                                end_line=span.line, end_column=span.column + (end - span.start))


def is_error_free(diagnostics: list[Diagnostic]) -> bool:
    return not any(d.severity is Severity.ERROR for d in diagnostics)

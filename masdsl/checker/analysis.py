"""What the checker learns about a spec, in the form the compiler consumes.

`Analysis` is the checker's result: the diagnostics plus every type it resolved, so later
stages never re-derive a type. It is built only by `masdsl.checker.analyze`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from masdsl.diagnostics import Diagnostic, Severity
from masdsl.types import RecordField, Type

ExpressionKey = tuple[int, int, str]
"""How `Analysis.expression_types` is keyed: `(span.start, span.end, node.kind)` of an
expression node (`kind` is the AST tag: "ref", "string", "number", "bool", "list", "call").
The kind disambiguates nodes that share a span, e.g. nothing else can share a call's span
and kind. Use `Analysis.type_of(expr)` rather than building keys by hand."""

MEMBER = "member"
"""The kind under which a condition's name that stands for an enum member is recorded in
`Analysis.expression_types` (its value is the enum type): `kind == algebra`."""

# Defaults of agent settings not given in the spec (documented in docs/language.md).
DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOP_P = 1.0
DEFAULT_MAX_TOKENS = 512
DEFAULT_RETRIES = 2
DEFAULT_TOOL_TURNS_WITH_TOOLS = 3
DEFAULT_MODEL = "executor"
BUILTIN_MODELS = ("executor", "designer")


Scalar = bool | int | float | str
Constant = Scalar | tuple[Scalar, ...]
"""A constant value as the IR stores it: text, code and enum members are `str`."""


class AgentSettings(BaseModel):
    """One agent with every setting resolved and its default applied.

    `output` is the agent's declared output type (`text` when none is written); it is None
    only when the spec names an unknown type there (and then has an error diagnostic).
    `default` is the value the agent gives when its reply never parses (None: absent);
    `memory` how many earlier calls of the agent each call sees (0: none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    output: Type | None
    role: str
    tools: tuple[str, ...] = ()
    max_tool_turns: int = 0
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    max_tokens: int = DEFAULT_MAX_TOKENS
    retries: int = DEFAULT_RETRIES
    model: str = DEFAULT_MODEL
    default: Constant | None = None
    memory: int = 0


class ToolSignature(BaseModel):
    """A tool the spec declares: `tool name(params) -> result { description "..." }`, with
    its types resolved. Parameters are (name, type) pairs in declaration order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    params: tuple[RecordField, ...]
    result: Type
    description: str = ""


class Analysis(BaseModel):
    """The checker's findings about one spec.

    - `diagnostics`: every finding, sorted (`sort_diagnostics`).
    - `type_aliases`: each `type Name = ...` resolved to a `Type`.
    - `agents`: per agent name, its `AgentSettings`.
    - `bindings`: the type of every name that holds a value: inputs, outputs, values bound
      in the flow and graph nodes.
    - `expression_types`: the value type of every expression, keyed by `ExpressionKey`.
      Expressions that denote agents (callee names, `ensemble([a, b])` lists) and
      expressions whose type is unknown because of an error have no entry.
    - `static_lengths`: the statically known length of list-valued expressions (same keys;
      the most items the list can have), and a `map` call's bound under the kind
      `map_bound` (`masdsl.checker.lists.MAP_BOUND`).
    - `tools`: the declared tools whose types all resolved, by name, in declaration order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    diagnostics: tuple[Diagnostic, ...] = ()
    type_aliases: dict[str, Type] = {}
    agents: dict[str, AgentSettings] = {}
    bindings: dict[str, Type] = {}
    expression_types: dict[ExpressionKey, Type] = {}
    static_lengths: dict[ExpressionKey, int] = {}
    tools: dict[str, ToolSignature] = {}

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    def type_of(self, expr: object) -> Type | None:
        """The type of an AST expression node, or None when it has none (see above)."""
        span = getattr(expr, "span", None)
        kind = getattr(expr, "kind", None)
        if span is None or kind is None:
            return None
        return self.expression_types.get((span.start, span.end, kind))

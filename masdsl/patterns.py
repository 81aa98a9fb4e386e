"""The one registry of builtin patterns (`ensemble`, `vote`, `append`, `debate`, `reflect`),
as data.

Every consumer reads this table and nothing else lists the patterns:
- the checker validates calls against each entry's subject and parameters, and reserves the
  names (`masdsl.checker`);
- lowering dispatches on the entry's name to the pattern's own lowering function and creates
  the IR node kinds the entry lists (`compiler.lower_builtins`; a test checks both cover the
  table);
- typed design decoding writes each entry's `typed_forms` (`masdsl.typed_grammar`);
- the designer's language summary shows each entry's `summary` (`runtime.designer`);
- training metrics map IR node kinds to the entry's `construct` (`trainer.metrics`);
- the language server completes the names with their parameters.
A new pattern is one entry here plus its own checking, lowering and runtime code.
Every further positional argument of a builtin call is a data input shown to its agents.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ValueKind(StrEnum):
    """What an argument of a builtin must be."""

    AGENT = "agent"                  # one agent name
    AGENTS = "agents"                # a list of agent names `[A, B]`
    AGENT_OR_AGENTS = "agent_or_agents"
    VALUE_LIST = "value_list"        # a data value of type list[T]
    INTEGER = "integer"              # an integer literal
    NUMBERS = "numbers"              # a list of number literals, each >= 0
    CHOICE = "choice"                # one name out of `choices`
    MEMBER = "member"                # an enum member of an agent's output, or true/false
    TEMPLATE = "template"            # a string literal with {name} placeholders


@dataclass(frozen=True)
class Param:
    """One parameter of a builtin. `limit` names the `Limits` field bounding an integer."""

    name: str
    kind: ValueKind
    required: bool = False
    minimum: int | None = None
    limit: str | None = None
    choices: tuple[str, ...] = ()
    default: str | int | None = None
    doc: str = ""

    @property
    def takes_agents(self) -> bool:
        """True when the argument names agents rather than carrying data."""
        return self.kind in (ValueKind.AGENT, ValueKind.AGENTS, ValueKind.AGENT_OR_AGENTS)


@dataclass(frozen=True)
class TypedForm:
    """How typed design decoding writes a pattern (`masdsl.typed_grammar`): the literal text
    it starts with, the grammar of the rest, and the type it produces. Slots: `{agent}` is
    the agent whose output type `{type}` the form is built on, `{peer}` any declared agent
    with that same output type (a judge or tiebreak), `{critic}` any declared agent,
    `{first}`/`{second}` a pair of distinct declared agents, `{value}` any input or value
    in scope, `{item}` one of type `{type}`, `{list}` one of type `list[{type}]`; in `rest`,
    `{args}` is the data-argument rule, `FANOUT` and `ROUNDS` bounded counts, and
    `TEMPLATE_TEXT` a run of plain text. `result` is the produced type, written over
    `{type}`."""

    prefix: str
    rest: str
    result: str = "{type}"


@dataclass(frozen=True)
class Builtin:
    """A builtin pattern: `name(subject, keyword: value, ..., data inputs...)`.

    `construct` names the family a metric counts it in; `node_kinds` are the IR node kinds
    its lowering creates; `summary` is its line in the designer's language summary;
    `typed_form` how typed decoding writes it (None: typed decoding does not), and
    `typed_variants` further ways it writes it (other parameters of the same pattern)."""

    name: str
    subject: Param
    params: tuple[Param, ...]
    result: str
    doc: str
    construct: str = ""
    node_kinds: tuple[str, ...] = ()
    summary: str = ""
    typed_form: TypedForm | None = None
    typed_variants: tuple[TypedForm, ...] = ()
    named_values: bool = False
    """True when keywords other than `params` are named data values (`format`'s
    placeholders) rather than unknown parameters (MAS108)."""

    @property
    def typed_forms(self) -> tuple[TypedForm, ...]:
        """Every way typed design decoding writes the pattern (none when it does not)."""
        return () if self.typed_form is None else (self.typed_form, *self.typed_variants)

    def param(self, name: str) -> Param | None:
        """The keyword parameter called `name`, or None when the pattern has none."""
        return next((param for param in self.params if param.name == name), None)


VOTE_STRATEGIES = ("majority", "weighted", "consensus")
VOTE_SHOWS = ("answers", "replies")
"""What a vote's judge or tiebreak sees of the candidates: their parsed answers only
(`answers`, the default) or also every candidate's full reply (`replies`)."""

# Which keyword parameters each vote strategy accepts (beyond `strategy`) and requires.
VOTE_STRATEGY_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "majority": (frozenset({"tiebreak"}), frozenset()),
    "weighted": (frozenset({"weights"}), frozenset({"weights"})),
    "consensus": (frozenset({"judge"}), frozenset({"judge"})),
}

BUILTINS: dict[str, Builtin] = {
    "ensemble": Builtin(
        name="ensemble",
        subject=Param("agents", ValueKind.AGENT_OR_AGENTS, required=True,
                      doc="one agent sampled n times, or a list of agents sharing one "
                          "output type"),
        params=(Param("n", ValueKind.INTEGER, minimum=1, limit="max_fanout",
                      doc="samples per agent; required for a single agent, default 1 for "
                          "a list"),),
        result="list[T] where T is the agents' output type",
        doc="Independent samples; fan-out = n × agents.",
        construct="ensemble", node_kinds=("ensemble_member", "collect"),
        summary="xs = ensemble(agent, n: 3, question)                 samples -> list",
        typed_form=TypedForm("ensemble({agent}, n: ", 'FANOUT ", " {args} ")"',
                             result="list[{type}]")),
    "vote": Builtin(
        name="vote",
        subject=Param("values", ValueKind.VALUE_LIST, required=True,
                      doc="the candidates, a value of type list[T]"),
        params=(Param("strategy", ValueKind.CHOICE, choices=VOTE_STRATEGIES,
                      default="majority", doc="how the winner is chosen"),
                Param("tiebreak", ValueKind.AGENT,
                      doc="majority only: an agent with output T that breaks ties"),
                Param("weights", ValueKind.NUMBERS,
                      doc="weighted only (required): one weight >= 0 per candidate"),
                Param("judge", ValueKind.AGENT,
                      doc="consensus only (required): an agent with output T that decides"),
                Param("show", ValueKind.CHOICE, choices=VOTE_SHOWS, default="answers",
                      doc="with a judge or tiebreak: `replies` also shows it every "
                          "candidate's full reply (the candidates must be an ensemble(...) "
                          "written in place)")),
        result="T",
        doc="Reduce a list of candidates to one value.",
        construct="ensemble", node_kinds=("vote", "vote_judge", "vote_tiebreak"),
        summary="x = vote(xs, strategy: majority)                      majority | weighted | "
                "consensus (judge: J)",
        typed_form=TypedForm("vote(ensemble({agent}, n: ",
                             'FANOUT ", " {args} "), strategy: majority)"'),
        typed_variants=(
            TypedForm("vote(ensemble({agent}, n: ",
                      'FANOUT ", " {args} "), strategy: majority, tiebreak: {peer})"'),
            TypedForm("vote(ensemble({agent}, n: ",
                      'FANOUT ", " {args} "), strategy: consensus, judge: {peer}, '
                      'show: replies)"'))),
    "append": Builtin(
        name="append",
        subject=Param("list", ValueKind.VALUE_LIST, required=True,
                      doc="the list so far; in a loop body, the name being bound (absent on "
                          "the first iteration: the result is then just the item)"),
        params=(),
        result="list[T] where T is the item's type",
        doc="The list with the item added at the end, without an LLM call. A history that "
            "grows once per loop iteration or graph step stays bounded by that bound.",
        construct="state", node_kinds=("append",),
        summary="history = append(history, x)                        grows a list, no LLM "
                "call",
        typed_form=TypedForm("append({list}, ", '"{item})"', result="list[{type}]")),
    "format": Builtin(
        name="format",
        subject=Param("template", ValueKind.TEMPLATE, required=True,
                      doc='a string literal with {name} placeholders ({{ and }} are braces)'),
        params=(),
        result="text",
        doc="Text built from values without an LLM call: each {name} is replaced by the "
            "value given as `name: value`, shown as an agent would see it.",
        construct="state", node_kinds=("format",), named_values=True,
        summary='p = format("Solve {q} in {n} steps", q: question, n: 3)  text, no LLM call',
        typed_form=TypedForm('format("', 'TEMPLATE_TEXT? "{{{value}}}" TEMPLATE_TEXT? '
                                         '"\\", {value}: {value})"', result="text")),
    "debate": Builtin(
        name="debate",
        subject=Param("debaters", ValueKind.AGENTS, required=True,
                      doc="at least two agents, at most max_fanout"),
        params=(Param("judge", ValueKind.AGENT, required=True,
                      doc="decides after the last round"),
                Param("rounds", ValueKind.INTEGER, required=True, minimum=1,
                      limit="max_loop", doc="rounds in which every debater answers")),
        result="the judge's output type",
        doc="Debaters answer in rounds, each seeing the earlier rounds; a judge decides.",
        construct="debate", node_kinds=("debate_turn", "debate_judge"),
        summary="x = debate([a, b], judge: j, rounds: 2, question)     debate then judge",
        typed_form=TypedForm("debate([{first}, {second}], judge: {agent}, rounds: ",
                             'ROUNDS ", " {args} ")"')),
    "reflect": Builtin(
        name="reflect",
        subject=Param("agent", ValueKind.AGENT, required=True, doc="answers and revises"),
        params=(Param("critic", ValueKind.AGENT_OR_AGENTS, required=True,
                      doc="critiques each answer; a list [c1, c2] of critics all critique "
                          "it, and the reviser sees every critique"),
                Param("rounds", ValueKind.INTEGER, required=True, minimum=1,
                      limit="max_loop", doc="at most this many critique/revise rounds"),
                Param("stop", ValueKind.MEMBER,
                      doc="stop early when the critic's verdict equals this member")),
        result="the agent's output type",
        doc="Answer, then up to `rounds` times critique and revise; worst case 1 + 2R calls.",
        construct="reflection",
        node_kinds=("reflect_answer", "reflect_critique", "reflect_revise"),
        summary="x = reflect(solver, critic: c, rounds: 2, stop: approve, question)",
        typed_form=TypedForm("reflect({agent}, critic: {critic}, rounds: ",
                             'ROUNDS ", " {args} ")"'),
        typed_variants=(TypedForm("reflect({agent}, critic: [{first}, {second}], rounds: ",
                                  'ROUNDS ", " {args} ")"'),)),
}


def construct_of_node_kind(kind: str) -> str | None:
    """The construct family of an IR node kind a builtin's lowering creates, or None."""
    for builtin in BUILTINS.values():
        if kind in builtin.node_kinds:
            return builtin.construct
    return None

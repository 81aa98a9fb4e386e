"""The one registry of builtin patterns (`ensemble`, `vote`, `append`, `format`, `debate`,
`reflect`, `head`, `rest`, `len`, `map`, `run_tests`), as data.

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
Every further positional argument of a builtin call is a data input shown to its agents;
so is a labelled one (`label: value`) for a pattern with `labelled_inputs`.
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
    AGENTS_OR_FLOW = "agents_or_flow"  # an agent, `[A, B]`, or a call: a flow sampled n times
    VALUE = "value"                  # any data value (its type is checked by the pattern)
    NAME = "name"                    # a bound name (not an expression)


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
        return self.kind in (ValueKind.AGENT, ValueKind.AGENTS, ValueKind.AGENT_OR_AGENTS,
                             ValueKind.AGENTS_OR_FLOW)


@dataclass(frozen=True)
class TypedForm:
    """How typed design decoding writes a pattern (`masdsl.typed_grammar`): the literal text
    it starts with, the grammar of the rest, and the type it produces. Slots: `{agent}` is
    the agent whose output type `{type}` the form is built on, `{peer}` any declared agent
    with that same output type (a judge or tiebreak), `{critic}` any declared agent,
    `{first}`/`{second}` a pair of distinct declared agents, `{value}` any input or value
    in scope, `{item}` one of type `{type}`, `{list}` one of type `list[{type}]`; in `rest`,
    `{args}` is the data-argument rule, `FANOUT` and `ROUNDS` bounded counts, and
    `TEMPLATE_TEXT` a run of plain text. Slots over the values in scope: `{produced}` a
    value of type `{type}` an earlier statement bound (not an input), `{rounded}` one
    `rounds(x)` may read, `{long}` a `list[{type}]` whose static length is not 1,
    `{anylist}` any list, `{sized}` a list of static length 1..MAX_FANOUT, `{unsized}` one
    of unknown length (a `map` over it needs `max:`), `{program}` a code value, `{tests}`
    a text, list[text] or list[code] value. An empty `rest` means the prefix is the whole
    expression. `result` is the produced type, written over `{type}` (braces of a record
    type doubled)."""

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
    labelled_inputs: bool = False
    """True when a keyword that is no parameter is a labelled data input shown to the
    pattern's agents under its label (`vote(xs, judge: j, strategy: consensus, question: q)`),
    as in an agent call; a keyword close to a parameter's name stays MAS108."""
    own_labels: tuple[str, ...] = ()
    """Labels the pattern gives its agents' inputs itself (`candidates`, `answer`, ...): a
    labelled data input may not take one (MAS133)."""

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

REFLECT_HISTORIES = ("latest", "all")
"""What a reflection's revision sees: the latest answer and critique only (`latest`, the
default) or also every earlier round's answer and critiques (`all`)."""

# Which keyword parameters each vote strategy accepts (beyond `strategy`) and requires.
VOTE_STRATEGY_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "majority": (frozenset({"tiebreak"}), frozenset()),
    "weighted": (frozenset({"weights"}), frozenset({"weights"})),
    "consensus": (frozenset({"judge"}), frozenset({"judge"})),
}

BUILTINS: dict[str, Builtin] = {
    "ensemble": Builtin(
        name="ensemble",
        subject=Param("agents", ValueKind.AGENTS_OR_FLOW, required=True,
                      doc="one agent sampled n times, a list of agents sharing one "
                          "output type, or a flow written as a call (e.g. reflect(...)) "
                          "run n times"),
        params=(Param("n", ValueKind.INTEGER, minimum=1, limit="max_fanout",
                      doc="samples per agent; required for a single agent, default 1 for "
                          "a list"),),
        result="list[T] where T is the agents' output type",
        doc="Independent samples; fan-out = n × agents.",
        construct="ensemble", node_kinds=("ensemble_member", "collect"),
        summary="xs = ensemble(agent, n: 3, question)                 samples -> list",
        labelled_inputs=True,
        typed_form=TypedForm("ensemble({agent}, n: ", 'FANOUT ", " {args} ")"',
                             result="list[{type}]"),
        typed_variants=(TypedForm("ensemble(reflect({agent}, critic: {critic}, rounds: ",
                                  'ROUNDS ", " {args} "), n: " FANOUT ")"',
                                  result="list[{type}]"),)),
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
        labelled_inputs=True, own_labels=("candidates", "replies"),
        typed_form=TypedForm("vote(ensemble({agent}, n: ",
                             'FANOUT ", " {args} "), strategy: majority)"'),
        typed_variants=(
            TypedForm("vote(ensemble({agent}, n: ",
                      'FANOUT ", " {args} "), strategy: majority, tiebreak: {peer})"'),
            TypedForm("vote(ensemble({agent}, n: ",
                      'FANOUT ", " {args} "), strategy: consensus, judge: {peer}, '
                      'show: replies)"'),
            TypedForm("vote(ensemble(reflect({agent}, critic: {critic}, rounds: ",
                      'ROUNDS ", " {args} "), n: " FANOUT "), strategy: majority)"'))),
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
        labelled_inputs=True,
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
                      doc="stop early when the critic's verdict equals this member"),
                Param("history", ValueKind.CHOICE, choices=REFLECT_HISTORIES,
                      default="latest",
                      doc="what a revision sees: the latest answer and critique (`latest`) "
                          "or every earlier round's too (`all`)")),
        result="the agent's output type",
        doc="Answer, then up to `rounds` times critique and revise; worst case 1 + 2R calls.",
        construct="reflection",
        node_kinds=("reflect_answer", "reflect_critique", "reflect_revise"),
        summary="x = reflect(solver, critic: c, rounds: 2, stop: approve, question)",
        labelled_inputs=True, own_labels=("answer", "critique"),
        typed_form=TypedForm("reflect({agent}, critic: {critic}, rounds: ",
                             'ROUNDS ", " {args} ")"'),
        typed_variants=(TypedForm("reflect({agent}, critic: [{first}, {second}], rounds: ",
                                  'ROUNDS ", " {args} ")"'),)),
    "reply": Builtin(
        name="reply",
        subject=Param("value", ValueKind.VALUE, required=True,
                      doc="a value; its full reply is the reply of the agent call it came "
                          "from"),
        params=(),
        result="text (list[text] for a list)",
        doc="The full reply (the worked text, not just the parsed value) of the agent call "
            "a value came from, without an LLM call; a value no agent produced is shown as "
            "an agent would be shown it.",
        construct="state", node_kinds=("reply",),
        summary="why = reply(x)                                       x's full reply, text",
        typed_form=TypedForm("reply({produced})", "", result="text"),
        typed_variants=(TypedForm("reply({anylist})", "", result="list[text]"),)),
    "rounds": Builtin(
        name="rounds",
        subject=Param("name", ValueKind.NAME, required=True,
                      doc="a name bound in a loop or graph that has finished"),
        params=(),
        result="list[T] where T is the name's type, at most the loop's max / max_steps long",
        doc="The value a name had after each iteration of its loop (or each step of its "
            "graph that ran it), in order, without an LLM call.",
        construct="state", node_kinds=("rounds",),
        summary="xs = rounds(x)                                       x after each round",
        typed_form=TypedForm("rounds({rounded})", "", result="list[{type}]")),
    "head": Builtin(
        name="head",
        subject=Param("list", ValueKind.VALUE_LIST, required=True, doc="a list[T]"),
        params=(),
        result="T",
        doc="The first item, without an LLM call (as xs[0]); absent when the list is empty.",
        construct="state", node_kinds=("list_op",),
        summary="first = head(xs)                                    first item; xs[0], xs[-1], "
                "xs[k] pick any, no LLM call",
        typed_form=TypedForm("head({list})", ""),
        typed_variants=(TypedForm("{list}[0]", ""), TypedForm("{list}[-1]", ""))),
    "rest": Builtin(
        name="rest",
        subject=Param("list", ValueKind.VALUE_LIST, required=True, doc="a list[T]"),
        params=(),
        result="list[T]",
        doc="Every item but the first, without an LLM call (empty for an empty list).",
        construct="state", node_kinds=("list_op",),
        summary="others = rest(xs)                                   all but the first item",
        typed_form=TypedForm("rest({long})", "", result="list[{type}]")),
    "len": Builtin(
        name="len",
        subject=Param("list", ValueKind.VALUE_LIST, required=True, doc="a list[T]"),
        params=(),
        result="number",
        doc="The number of items, without an LLM call.",
        construct="state", node_kinds=("list_op",),
        summary="n = len(xs)                                         number of items",
        typed_form=TypedForm("len({anylist})", "", result="number")),
    "map": Builtin(
        name="map",
        subject=Param("agent", ValueKind.AGENT, required=True,
                      doc="the agent called once per item"),
        params=(Param("max", ValueKind.INTEGER, minimum=1, limit="max_fanout",
                      doc="at most this many items are mapped; required when the list's "
                          "length is not known statically"),),
        result="list[T] where T is the agent's output type",
        doc="Call the agent once per item of the list (the second argument), each call "
            "seeing the item as `item` and the further inputs; the bound is the list's "
            "static length or `max`.",
        construct="ensemble", node_kinds=("ensemble_member", "collect", "list_op"),
        summary="ys = map(solver, questions, max: 5, context)        one call per item -> "
                "list",
        labelled_inputs=True, own_labels=("item",),
        typed_form=TypedForm("map({agent}, {sized}", '(", " {args})? ")"',
                             result="list[{type}]"),
        typed_variants=(TypedForm("map({agent}, {unsized}, max: ", 'FANOUT (", " {args})? ")"',
                                  result="list[{type}]"),)),
    "run_tests": Builtin(
        name="run_tests",
        subject=Param("code", ValueKind.VALUE, required=True,
                      doc="the candidate program, a code or text value"),
        params=(),
        result="{ passed: bool, passed_count: number, total: number, report: text }",
        doc="Run the program, then each test (a list of text/code snippets, or one), in the "
            "python tool's sandbox, without an LLM call.",
        construct="state", node_kinds=("run_tests",),
        summary="r = run_tests(program, tests)                       sandboxed, no LLM call: "
                "r.passed, r.passed_count, r.total, r.report",
        typed_form=TypedForm("run_tests({program}, {tests})", "",
                             result="{{ passed: bool, passed_count: number, total: number, "
                                    "report: text }}")),
}


def construct_of_node_kind(kind: str) -> str | None:
    """The construct family of an IR node kind a builtin's lowering creates, or None."""
    for builtin in BUILTINS.values():
        if kind in builtin.node_kinds:
            return builtin.construct
    return None

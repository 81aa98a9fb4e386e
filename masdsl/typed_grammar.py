"""Stage grammars for typed design decoding: every design they accept type-checks.

A context-free grammar cannot say "call only agents declared above" or "read only values
bound before", so one grammar for the whole spec lets a designer write specs that parse but
do not compile. Typed decoding samples a design in stages instead, one declaration or one
flow statement at a time; each stage's grammar is generated from what the earlier stages
declared, so names are fresh where they are declared and declared where they are used, and
the value bound to each output has the output's type. The designer (`runtime.designer`)
runs the stages; this module only writes their grammars (llguidance's Lark dialect, which
adds `&` and `~` on terminals) from plain data.

The text is laid out the way `masc fmt` prints a spec (two-space indents, one blank line
between declarations). Stages end at natural token boundaries: after an agent's closing
brace, or after a statement's closing parenthesis.

Stage kinds, in the order a design goes through them:
- `head`: `mas NAME {`, the interface's inputs and outputs, then the first agent, whose
  output type is one of the outputs' types;
- `declaration`: another agent (a fresh name, any primitive or output type), or `flow {`
  and the first statement; agents for output types nothing returns yet come first;
- `statement`: another binding of a fresh name, or the outputs' bindings and the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations

from masdsl.patterns import BUILTINS

Field = tuple[str, str]  # (name, type)

PRIMITIVES = ("text", "number", "bool", "code")
TOOLS = ("python", "calculator")

ROLE_MAX = 160      # characters in a role prompt
NAME_MAX = 16       # characters in a declared name
MAX_FANOUT = 5      # `ensemble(..., n: K)` samples K in 2..MAX_FANOUT
MAX_ROUNDS = 3      # `debate`/`reflect` rounds in 1..MAX_ROUNDS


@dataclass(frozen=True)
class DesignState:
    """What a design has declared so far (the input of the next stage's grammar)."""

    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]
    agents: tuple[Field, ...] = ()
    values: tuple[Field, ...] = ()          # names bound by earlier flow statements
    reserved: frozenset[str] = field(default=frozenset())

    def taken(self) -> set[str]:
        """Names a new declaration may not use."""
        return ({name for name, _ in self.inputs + self.outputs + self.agents + self.values}
                | set(self.reserved))

    def missing_types(self) -> list[str]:
        """Output types no declared agent returns yet, in the outputs' order."""
        have = {type_ for _, type_ in self.agents}
        return list(dict.fromkeys(t for _, t in self.outputs if t not in have))


def _literal(text: str) -> str:
    return json.dumps(text)


def _alternatives(items: Iterable[str]) -> str:
    listed = list(items)
    return "(" + " | ".join(listed) + ")" if len(listed) > 1 else listed[0]


def _fresh_name(rule: str, taken: Iterable[str]) -> str:
    """A terminal for a new identifier that is none of `taken`."""
    excluded = " | ".join(_literal(name) for name in sorted(set(taken)))
    pattern = f"/[a-z][a-z0-9_]{{0,{NAME_MAX - 1}}}/"
    return f"{rule}: {pattern} & ~({excluded})" if excluded else f"{rule}: {pattern}"


_AGENT_BODY = f"""\
agent_body: "    role " ROLE "\\n" tools_field? temperature_field? max_tokens_field?
tools_field: "    tools [" {_alternatives(_literal(t) for t in (*TOOLS, ", ".join(TOOLS)))} "]\\n"
temperature_field: "    temperature " TEMPERATURE "\\n"
max_tokens_field: "    max_tokens " MAX_TOKENS "\\n"
ROLE: /"[A-Za-z][^"\\\\\\n]{{7,{ROLE_MAX - 1}}}"/
TEMPERATURE: /(0|1)\\.[0-9]|2\\.0/
MAX_TOKENS: /[1-9][0-9]{{1,2}}/
"""


def _agent_rule(types: Sequence[str]) -> str:
    """`agent NAME -> TYPE { ... }` (the leading `\\n\\n  agent ` belongs to the caller)."""
    return (f'agent: NEW_AGENT " -> " {_alternatives(_literal(t) for t in types)} '
            '" {\\n" agent_body "  }"')


def head_grammar(state: DesignState) -> str:
    """The first stage: the spec's header, its interface, and its first agent."""
    lines = [f"  input {name}: {type_}\n" for name, type_ in state.inputs]
    lines += [f"  output {name}: {type_}\n" for name, type_ in state.outputs]
    header = " ".join(_literal(line) for line in lines)
    first = state.missing_types() or list(PRIMITIVES)
    return "\n".join([
        f'start: "mas " SPEC_NAME " {{\\n" {header} "\\n  agent " agent',
        _agent_rule(first),
        _AGENT_BODY,
        "SPEC_NAME: /[a-z][a-z0-9_]{0,23}/",
        _fresh_name("NEW_AGENT", state.taken()),
    ]) + "\n"


def _agent_types(state: DesignState) -> list[str]:
    return list(dict.fromkeys([*PRIMITIVES, *(t for _, t in state.outputs)]))


@dataclass(frozen=True)
class Form:
    """One expression form a stage grammar offers: the literal text it starts with, the rest
    of its grammar, and the type of the value it produces."""

    prefix: str
    rest: str
    result: str


def _forms(state: DesignState, result: str | None) -> list[Form]:
    """Every form over the declared agents whose type is `result` (any type when None): a
    call, and each builtin pattern of the registry that has a typed form (`masdsl.patterns`),
    with `{agent}` the agent giving the type and the other slots every declared agent (or
    pair). `{args}` in `rest` stands for the argument-list rule."""
    names = [name for name, _ in state.agents]
    patterns = [builtin.typed_form for builtin in BUILTINS.values()
                if builtin.typed_form is not None]
    forms: list[Form] = []
    for agent, type_ in state.agents:
        if result is not None and type_ != result:
            continue
        forms.append(Form(f"{agent}(", '{args} ")"', type_))
        for pattern in patterns:
            slots: list[dict[str, str]] = [{"agent": agent}]
            if "{critic}" in pattern.prefix:
                slots = [{**slot, "critic": critic} for slot in slots for critic in names]
            if "{first}" in pattern.prefix:
                slots = [{**slot, "first": first, "second": second} for slot in slots
                         for first, second in combinations(names, 2)]
            forms += [Form(pattern.prefix.format(**slot), pattern.rest, type_) for slot in slots]
    return forms


def _expressions(state: DesignState, rule: str, result: str | None) -> list[str]:
    """Rules for `rule`: expressions over the declared agents and bound values whose type is
    `result` (any type when None). Each argument list is a non-empty subset of the inputs and
    bound values, in declaration order, so no label repeats."""
    refs = [name for name, _ in state.inputs + state.values]
    subsets = [", ".join(chosen) for size in range(1, len(refs) + 1)
               for chosen in combinations(refs, size)]
    args = f"{rule}_args"
    alternatives = [f"{_literal(form.prefix)} {form.rest.format(args=args)}"
                    for form in _forms(state, result)]
    return [f"{rule}: " + "\n    | ".join(alternatives),
            f"{args}: " + " | ".join(_literal(subset) for subset in subsets)]


def absorb(state: DesignState, stage_text: str) -> DesignState | None:
    """The state after a stage whose grammar was generated from `state`: with the agent it
    declared or the value it bound added (unchanged for the final stage). None when the text
    is not what a stage grammar admits. The stage grammars lay every declaration out in a
    fixed form, so what was declared is read back from the same tables that wrote them."""
    if stage_text.endswith("}\n"):  # the outputs' bindings and the end
        return state
    marker = "\n  agent " if "\n  agent " in stage_text else None
    if marker is not None and stage_text.endswith("\n  }"):
        declaration = stage_text[stage_text.rindex(marker) + len(marker):]
        name, arrow, rest = declaration.partition(" -> ")
        types = [t for t in _agent_types(state) if rest.startswith(t + " {\n")]
        if not arrow or not types or name in state.taken():
            return None
        return replace(state, agents=(*state.agents, (name, max(types, key=len))))
    line = stage_text[stage_text.rfind("\n    ") + len("\n    "):]
    name, equals, expression = line.partition(" = ")
    forms = [form for form in _forms(state, None) if expression.startswith(form.prefix)]
    if not equals or not forms or name in state.taken():
        return None
    chosen = max(forms, key=lambda form: len(form.prefix))
    return replace(state, values=(*state.values, (name, chosen.result)))


_COUNTS = f"""\
FANOUT: /[2-{MAX_FANOUT}]/
ROUNDS: /[1-{MAX_ROUNDS}]/
"""


def _statement_alternatives(state: DesignState, more_statements: bool) -> tuple[str, list[str]]:
    """The choice between one more binding (when allowed) and the final output bindings."""
    finals = [f'{_literal(name + " = ")} final_{index}'
              for index, (name, _) in enumerate(state.outputs)]
    final = ' "\\n    " '.join(finals) + ' "\\n  }\\n}\\n"'
    rules: list[str] = []
    for index, (_, type_) in enumerate(state.outputs):
        rules += _expressions(state, f"final_{index}", type_)
    choice = final
    if more_statements:
        rules += _expressions(state, "value", None)
        rules.append(_fresh_name("NEW_VALUE", state.taken()))
        choice = f'(NEW_VALUE " = " value | {final})'
    return choice, rules


def declaration_grammar(state: DesignState, more_agents: bool, more_statements: bool) -> str:
    """A later declaration stage: another agent (while `more_agents`), or the flow's start."""
    missing = state.missing_types()
    choice, rules = _statement_alternatives(state, more_statements)
    options = []
    if more_agents:
        options.append('"\\n\\n  agent " agent')
    if not missing:
        options.append(f'"\\n\\n  flow {{\\n    " {choice}')
    if not options:
        raise ValueError("no agent may be declared, yet an output type has no agent")
    return "\n".join([
        "start: " + " | ".join(options),
        _agent_rule(missing or _agent_types(state)),
        _AGENT_BODY,
        _fresh_name("NEW_AGENT", state.taken()),
        *(rules if not missing else []),
        _COUNTS,
    ]) + "\n"


def statement_grammar(state: DesignState, more_statements: bool) -> str:
    """A flow stage after the first statement: one more binding, or the outputs and the end."""
    choice, rules = _statement_alternatives(state, more_statements)
    return "\n".join([f'start: "\\n    " {choice}', *rules, _COUNTS]) + "\n"

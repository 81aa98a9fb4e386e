"""Stage grammars for typed design decoding: every design they accept type-checks.

A context-free grammar cannot say "call only agents declared above" or "read only values
bound before", so one grammar for the whole spec lets a designer write specs that parse but
do not compile. Typed decoding samples a design in stages instead, one declaration or one
flow statement at a time; each stage's grammar is generated from what the earlier stages
declared (`masdsl.typed_state.DesignState`), so names are fresh where they are declared and
declared where they are used, conditions read values of the right types, and every output
is bound on every path with its type. The designer (`runtime.designer`) runs the stages;
these modules only write their grammars (llguidance's Lark dialect, which adds `&` and `~`
on terminals) from plain data and read each stage's text back.

The text is laid out the way `masc fmt` prints a spec (two-space indents, one blank line
between declarations). Stages end at natural token boundaries: after an agent's closing
brace, after an enum member's or record field's comma, after a statement's closing
parenthesis, or after a block header's `{`.

Stage kinds, in the order a design goes through them:
- `head`: `mas NAME {`, the interface's inputs and outputs, then the first agent, whose
  output type is one of the outputs' types;
- `declaration`: another agent (a fresh name; a primitive or output type, or an enum or
  record written member by member in `composite` stages), or `flow {` and the first
  statement; agents for output types nothing returns yet come first;
- `statement` (`masdsl.typed_flow`): closing open blocks, then a binding or the header of
  an `if`, `loop` or `match` (conditions: `masdsl.typed_conditions`), or the end.
"""

from __future__ import annotations

from dataclasses import replace

from masdsl.typed_flow import (
    COUNTS,
    MAX_FANOUT,
    MAX_ROUNDS,
    Form,
    _forms,
    absorb_lines,
    statement_rules,
)
from masdsl.typed_state import (
    NAME_MAX,
    Building,
    DesignState,
    Field,
    alternatives,
    composite_type,
    fresh_name,
    literal,
)

__all__ = ["MAX_FANOUT", "MAX_ROUNDS", "NAME_MAX", "DesignState", "Field", "Form", "_forms",
           "absorb", "composite_grammar", "declaration_grammar", "head_grammar",
           "statement_grammar"]

PRIMITIVES = ("text", "number", "bool", "code")
TOOLS = ("python", "calculator")

ROLE_MAX = 160      # characters in a role prompt
MAX_MEMBERS = 4     # members of an enum output type (at least 2)
MAX_FIELDS = 3      # fields of a record output type (at least 2)

_AGENT_BODY = f"""\
agent_body: "    role " ROLE "\\n" tools_field? temperature_field? max_tokens_field? memory_field?
tools_field: "    tools [" {alternatives(literal(t) for t in (*TOOLS, ", ".join(TOOLS)))} "]\\n"
temperature_field: "    temperature " TEMPERATURE "\\n"
max_tokens_field: "    max_tokens " MAX_TOKENS "\\n"
memory_field: "    memory " MEMORY "\\n"
ROLE: /"[A-Za-z][^"\\\\\\x00-\\x1f\\x7f]{{7,{ROLE_MAX - 1}}}"/
TEMPERATURE: /(0|1)\\.[0-9]|2\\.0/
MAX_TOKENS: /[1-9][0-9]{{1,2}}/
MEMORY: /[1-3]/
"""


def _agent_rule(types: list[str], composite: bool) -> str:
    """`agent NAME -> TYPE { ... }` (the leading `\\n\\n  agent ` belongs to the caller);
    with `composite`, also the opening brace of an enum or record output type (the stage
    then ends there; `composite_grammar` writes its members or fields, one per stage, so
    none repeats and none is the agent's own name)."""
    plain = f'{alternatives(literal(t) for t in types)} " {{\\n" agent_body "  }}"'
    if not composite:
        return f'agent: NEW_AGENT " -> " {plain}'
    return f'agent: NEW_AGENT " -> " ({plain} | "enum {{" | "{{")'


def head_grammar(state: DesignState) -> str:
    """The first stage: the spec's header, its interface, and its first agent."""
    lines = [f"  input {name}: {type_}\n" for name, type_ in state.inputs]
    lines += [f"  output {name}: {type_}\n" for name, type_ in state.outputs]
    header = " ".join(literal(line) for line in lines)
    first = state.missing_types() or list(PRIMITIVES)
    return "\n".join([
        f'start: "mas " SPEC_NAME " {{\\n" {header} "\\n  agent " agent',
        _agent_rule(first, composite=False),
        _AGENT_BODY,
        "SPEC_NAME: /[a-z][a-z0-9_]{0,23}/",
        fresh_name("NEW_AGENT", state.taken()),
    ]) + "\n"


def _agent_types(state: DesignState) -> list[str]:
    return list(dict.fromkeys([*PRIMITIVES, *(t for _, t in state.outputs)]))


def declaration_grammar(state: DesignState, more_agents: bool, more_statements: bool) -> str:
    """A later declaration stage: another agent (while `more_agents`), or the flow's start."""
    missing = state.missing_types()
    options = []
    if more_agents:
        options.append('"\\n\\n  agent " agent')
    rules: list[str] = []
    if not missing:
        start, rules = statement_rules(replace(state, flow=True), more_statements)
        options.append(f'"\\n\\n  flow {{" {start}')
    if not options:
        raise ValueError("no agent may be declared, yet an output type has no agent")
    return "\n".join([
        "start: " + " | ".join(options),
        _agent_rule(missing or _agent_types(state), composite=not missing),
        _AGENT_BODY,
        fresh_name("NEW_AGENT", state.taken()),
        *rules,
        *([] if rules else [COUNTS]),
    ]) + "\n"


def composite_grammar(state: DesignState) -> str:
    """The next member of an enum (or field of a record) output type being declared: it
    ends with `,` (another follows) or, from the second on, closes the type and writes the
    agent's body. An enum agent may declare a `default` member, so a failed router still
    routes."""
    building = state.building
    assert building is not None
    seen = {name for name, _ in building.items}
    limit = MAX_MEMBERS if building.kind == "enum" else MAX_FIELDS
    item = "NEW_MEMBER" if building.kind == "enum" else 'NEW_MEMBER ": " FIELD_TYPE'
    body = "agent_body"
    extra = [f"FIELD_TYPE: {alternatives(literal(t) for t in PRIMITIVES)}"]
    if building.kind == "enum" and seen:
        body = 'agent_body default_field?'
        extra = [f'default_field: "    default " '
                 f'{alternatives(literal(m) for m in sorted(seen))} "\\n"']
    endings = []
    if len(seen) + 1 < limit:
        endings.append('","')
    if seen:
        endings.append(f'" }} {{\\n" {body} "  }}"')
    return "\n".join([
        f'start: " " {item} {alternatives(endings)}',
        _AGENT_BODY,
        *extra,
        fresh_name("NEW_MEMBER", state.taken() | seen | {building.agent}),
    ]) + "\n"


def statement_grammar(state: DesignState, more_statements: bool) -> str:
    """A flow stage after the first statement: closing blocks, then one more statement or
    header (while `more_statements`), or the outputs' bindings and the end."""
    start, rules = statement_rules(state, more_statements)
    return "\n".join([f"start: {start}", *rules]) + "\n"


def _absorb_composite(state: DesignState, building: Building,
                      stage_text: str) -> DesignState | None:
    if not stage_text.startswith(" "):
        return None
    more = stage_text.endswith(",")
    text = stage_text[1:-1] if more else stage_text[1:stage_text.find(" } {\n")]
    if not more and " } {\n" not in stage_text:
        return None
    name, _, type_ = text.partition(": ")
    if building.kind == "enum":
        type_ = ""
    if name in state.taken() | {n for n, _ in building.items} | {building.agent}:
        return None
    grown = replace(building, items=(*building.items, (name, type_)))
    members = state.members | {name}
    if more:
        return replace(state, building=grown, members=members)
    return replace(state, building=None, members=members,
                   agents=(*state.agents, (building.agent, composite_type(grown))))


def absorb(state: DesignState, stage_text: str) -> DesignState | None:
    """The state after a stage whose grammar was generated from `state`: with the agent it
    declared, the member it added, or the lines of flow it wrote (unchanged for the final
    stage). None when the text is not what a stage grammar admits. The stage grammars lay
    every declaration out in a fixed form, so what was declared is read back from the same
    tables that wrote them."""
    if state.building is not None:
        return _absorb_composite(state, state.building, stage_text)
    if stage_text.endswith("}\n"):  # the end
        return state
    marker = "\n  agent "
    if not state.flow and marker in stage_text and "\n  flow {" not in stage_text:
        declaration = stage_text[stage_text.rindex(marker) + len(marker):]
        name, arrow, rest = declaration.partition(" -> ")
        if not arrow or name in state.taken():
            return None
        for kind, opening in (("enum", "enum {"), ("record", "{")):
            if rest == opening:
                return replace(state, building=Building(agent=name, kind=kind))
        types = [t for t in _agent_types(state) if rest.startswith(t + " {\n")]
        if not types or not stage_text.endswith("\n  }"):
            return None
        return replace(state, agents=(*state.agents, (name, max(types, key=len))))
    if not state.flow:
        if "\n  flow {" not in stage_text:
            return None
        state = replace(state, flow=True)
        stage_text = stage_text[stage_text.index("\n  flow {") + len("\n  flow {"):]
    if not stage_text.startswith("\n"):
        return None
    return absorb_lines(state, [line.strip() for line in stage_text.split("\n")[1:]])

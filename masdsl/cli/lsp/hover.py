"""Hover text (Markdown): what a name is, its type, an agent's settings, and worst-case cost.

Types come from the checker's `Analysis`; costs from the compiler's statistics
(`compiler.stats`): the whole spec's `Stats`, and for a statement or an agent the same
worst case restricted to its IR nodes (`worst_case_split` with `include`). Nothing here
types or costs the program a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from masdsl import ast
from masdsl.checker import BUILTINS, Builtin
from masdsl.checker.analysis import AgentSettings
from masdsl.cli.lsp.document import Snapshot
from masdsl.cli.lsp.index import Occurrence, Statement
from masdsl.types import Enum, Type

if TYPE_CHECKING:
    from compiler.ir import IRNode
    from compiler.stats import CallSplit

TOOL_DOCS = {
    "python": "runs Python in a sandbox (no network, CPU/memory/output limits) and shows "
              "the agent what it printed",
    "calculator": "evaluates an arithmetic expression exactly",
}
FIELD_DOCS = {
    "role": "the agent's system prompt",
    "tools": "tools the agent may call by writing `<tool name=\"python\">...</tool>`",
    "max_tool_turns": "tool calls per run (default 3 with tools, else 0)",
    "temperature": "sampling temperature, 0-2 (default 1.0)",
    "top_p": "nucleus sampling, (0, 1] (default 1.0)",
    "max_tokens": "generated tokens per call (default 512)",
    "retries": "format retries when a reply does not parse as the output type (default 2)",
    "model": "which model runs the agent: `executor` (default) or `designer`",
    "default": "the agent's value when no reply parses, even after the format retries",
    "memory": "earlier calls of this agent each call sees as conversation turns (default none)",
}
CONDITION_DOCS = {
    "all_equal": "`bool`: every item of the list is equal (compared as `vote` compares)",
    "len": "`number`: how many items the list has",
    "empty": "`bool`: the list has no items",
}
"""What each of `masdsl.ast.CONDITION_FUNCTIONS` gives (a test checks they match)."""
_ROLE_CHARS = 160


def hover(snapshot: Snapshot, offset: int) -> str | None:
    """The Markdown shown for `offset`, or None when there is nothing to say."""
    index = snapshot.index
    if index is None:
        return None
    found = index.at(offset)
    parts: list[str] = []
    if found is not None:
        parts.append(_describe(snapshot, found))
    else:
        expr = index.expression_at(offset)
        shown = index.analysis.type_of(expr) if expr is not None else None
        if shown is not None:
            parts.append(f"```mas\n{shown.render()}\n```")
    stmt = index.statement_at(offset)
    if found is not None and found.kind == "spec":
        parts.append(spec_cost(snapshot))
    elif stmt is not None and (found is None or found.kind != "agent"):
        parts.append(statement_cost(snapshot, stmt))
    text = "\n\n---\n\n".join(part for part in parts if part)
    return text or None


def _describe(snapshot: Snapshot, found: Occurrence) -> str:
    index = snapshot.index
    assert index is not None
    analysis = index.analysis
    name = found.name
    if found.kind == "agent":
        settings = analysis.agents.get(name)
        agent = index.agents.get(name)
        if isinstance(agent, ast.AgentTemplate):
            return template_hover(agent, [instance for instance in index.program.instances
                                             if instance.template.value == name])
        if settings is None:
            return f"agent `{name}`"
        shown = agent_hover(snapshot, settings)
        if isinstance(agent, ast.AgentInstance):
            args = ", ".join(f'{arg.name.value}: "{arg.value.value}"' for arg in agent.args)
            shown += f"\n\n*An instance of the template `{agent.template.value}({args})`*"
        return shown
    if found.kind == "condition_function":
        return (f"```mas\n{name}(xs)\n```\ncondition function, no LLM call: "
                f"{CONDITION_DOCS.get(name, '')}")
    if found.kind == "template_parameter":
        template, _, parameter = name.partition(".")
        return (f"```mas\n(template parameter) {parameter}\n```\nreplaces `{{{parameter}}}` "
                f"in the role of the agent template `{template}`")
    if found.kind == "value":
        bound = analysis.bindings.get(name)
        declared = index.definition("value", name)
        role = declared.role if declared is not None else ""
        what = {"input": "input", "output": "output", "graph_node": "graph node"}.get(
            role, "value")
        return f"```mas\n({what}) {name}: {bound.render() if bound else '?'}\n```"
    if found.kind == "type":
        alias = analysis.type_aliases.get(name)
        return f"```mas\ntype {name} = {_expand(alias) if alias else '?'}\n```"
    if found.kind == "member":
        owners = ", ".join(dict.fromkeys(index.members.get(name, [])))
        return f"```mas\n(enum member) {name}\n```\nmember of {owners or 'an enum'}"
    if found.kind == "builtin":
        return builtin_hover(BUILTINS[name])
    if found.kind == "builtin_type":
        return f"```mas\n{name}\n```\nbuiltin type"
    if found.kind == "tool":
        signature = index.analysis.tools.get(name)
        if signature is not None:
            params = ", ".join(f"{param.name}: {param.type.render()}"
                               for param in signature.params)
            return (f"```mas\ntool {name}({params}) -> {signature.result.render()}\n```\n"
                    f"{signature.description or 'a declared tool'}")
        return f"```mas\n(tool) {name}\n```\n{TOOL_DOCS.get(name, 'a registered tool')}"
    if found.kind == "field":
        return f"```mas\n(agent setting) {name}\n```\n{FIELD_DOCS.get(name, '')}"
    if found.kind == "parameter":
        docs = [param.doc for builtin in BUILTINS.values() for param in builtin.params
                if param.name == name]
        return f"```mas\n(parameter) {name}\n```\n{docs[0] if docs else ''}"
    if found.kind == "model":
        return f"```mas\n(model) {name}\n```\nthe engine that runs this agent"
    if found.kind == "choice":
        return f"```mas\n(vote strategy) {name}\n```"
    return f"```mas\nmas {name}\n```"


def _expand(alias: Type) -> str:
    """A type written out (an enum alias shows its members, not its own name)."""
    if isinstance(alias, Enum):
        return "enum { " + ", ".join(alias.members) + " }"
    return alias.render()


def builtin_signature(builtin: Builtin) -> str:
    """`ensemble(agents, n: …, inputs…)`: the subject, the keyword parameters, and data
    inputs where the pattern shows any to its agents (`format`: named values)."""
    parts = [builtin.subject.name, *(f"{param.name}: …" for param in builtin.params)]
    if builtin.named_values:
        parts.append("name: value…")
    elif builtin.labelled_inputs or builtin.subject.takes_agents:
        parts.append("inputs…")
    return f"{builtin.name}({', '.join(parts)})"


def builtin_hover(builtin: Builtin) -> str:
    """A builtin pattern's signature, documentation and parameters."""
    lines = [f"```mas\n{builtin_signature(builtin)} -> {builtin.result}\n```", builtin.doc, "",
             f"- `{builtin.subject.name}` (first): {builtin.subject.doc}"]
    lines += [f"- `{param.name}`{' (required)' if param.required else ''}: {param.doc}"
              for param in builtin.params]
    return "\n".join(lines)


def template_hover(template: ast.AgentTemplate, instances: list[ast.AgentInstance]) -> str:
    """An agent template's parameters, output type, role and the instances made from it."""
    from masdsl.formatter import format_type

    params = ", ".join(param.value for param in template.params)
    output = f" -> {format_type(template.output)}" if template.output is not None else ""
    role = next((field.value.value for field in template.fields if field.key == "role"
                 and isinstance(field.value, ast.StringLit)), "")
    role = role if len(role) <= _ROLE_CHARS else role[:_ROLE_CHARS] + "…"
    role_lines = "\n".join("> " + line for line in role.splitlines()) if role else "> (none)"
    made = ", ".join(f"`{instance.name.value}`" for instance in instances) or "none yet"
    return (f"```mas\nagent {template.name.value}({params}){output}\n```\n"
            "agent template: never called itself; each instance "
            f"(`agent name = {template.name.value}(param: \"value\")`) is an agent whose "
            f"role has its arguments in place of `{{param}}`\n\n{role_lines}\n\n"
            f"**Instances:** {made}")


def agent_hover(snapshot: Snapshot, settings: AgentSettings) -> str:
    """An agent's output type, every setting (defaults applied), and its worst-case cost
    per run and in this spec."""
    output = settings.output.render() if settings.output else "?"
    role = settings.role if len(settings.role) <= _ROLE_CHARS \
        else settings.role[:_ROLE_CHARS] + "…"
    rows = [("tools", ", ".join(settings.tools) or "none"),
            ("max_tool_turns", str(settings.max_tool_turns)),
            ("memory", f"{settings.memory} earlier call(s)" if settings.memory else "none"),
            ("temperature", f"{settings.temperature:g}"), ("top_p", f"{settings.top_p:g}"),
            ("max_tokens", str(settings.max_tokens)), ("retries", str(settings.retries)),
            ("model", settings.model)]
    table = "| setting | value |\n|---|---|\n" + "\n".join(f"| {key} | {value} |"
                                                      for key, value in rows)
    role_lines = "\n".join("> " + line for line in role.splitlines()) if role else "> (none)"
    text = [f"```mas\nagent {settings.name} -> {output}\n```", role_lines, table,
            run_cost(settings)]
    compiled = snapshot.compiled()
    if not isinstance(compiled, str):
        runs = sum(1 for node in compiled.ir.agent_nodes() if node.agent.name == settings.name)
        from compiler.ir import AgentNode

        split, tokens = cost_of(snapshot, lambda node: isinstance(node, AgentNode)
                                and node.agent.name == settings.name)
        text.append(f"**In this spec:** {runs} run(s) in the IR; worst case "
                    f"{_calls(split)}, {tokens:,} generated tokens")
    return "\n\n".join(text)


def run_cost(settings: AgentSettings) -> str:
    """One run of the agent in the worst case, by the compiler's own accounting."""
    from compiler.ir import AgentSettings as RunSettings
    from compiler.stats import run_split

    if settings.output is None:
        return "*Cost unavailable: the agent's output type is unknown*"
    run = RunSettings.model_validate(settings, from_attributes=True)
    logical, turns, retries = run_split(run)
    return (f"**Worst case per run:** {run.worst_case_calls} LLM call(s) = {logical} call + "
            f"{turns} tool turn(s) + {retries} format retries; "
            f"{run.worst_case_calls * run.max_tokens:,} generated tokens")


def cost_of(snapshot: Snapshot, include: Callable[[IRNode], bool]) -> tuple[CallSplit, int]:
    """The worst-case call split and generated tokens of the IR nodes `include` accepts,
    along the compiler's worst-case guard choices. The spec must compile."""
    from compiler.stats import GuardForest, tokens, worst_case, worst_case_split

    compiled = snapshot.compiled()
    assert not isinstance(compiled, str)
    forest = GuardForest(compiled.ir)
    split = worst_case_split(compiled.ir, forest, include=include)
    generated = worst_case(compiled.ir, lambda node: tokens(node) if include(node) else 0,
                           forest)
    return split, generated


def _calls(split: CallSplit) -> str:
    return (f"{split.total} LLM call(s) ({split.agent_calls} agent calls + "
            f"{split.tool_turns} tool turns + {split.format_retries} format retries)")


def statement_cost(snapshot: Snapshot, stmt: Statement) -> str:
    """The worst case of one flow statement (its IR nodes only)."""
    compiled = snapshot.compiled()
    if isinstance(compiled, str):
        return f"*Cost unavailable: {compiled}*"
    span = stmt.span
    split, generated = cost_of(snapshot, lambda node: span.start <= node.span.start
                               and node.span.end <= span.end)
    return (f"**This {_statement_word(stmt)}, worst case:** {_calls(split)}, "
            f"{generated:,} generated tokens")


def spec_cost(snapshot: Snapshot) -> str:
    """The whole spec's worst case (`masc compile --stats`)."""
    compiled = snapshot.compiled()
    if isinstance(compiled, str):
        return f"*Cost unavailable: {compiled}*"
    stats = compiled.stats
    return (f"**Whole spec, worst case:** {_calls(stats.split)}, "
            f"{stats.generated_tokens:,} generated tokens; critical path "
            f"{stats.critical_path} calls; parallel width {stats.parallel_width}; "
            f"{stats.agent_runs} agent runs, {stats.nodes} IR nodes")


def _statement_word(stmt: Statement) -> str:
    return {ast.Assign: "statement", ast.If: "if", ast.Match: "match", ast.Loop: "loop",
            ast.Graph: "graph"}.get(type(stmt), "statement")

"""The checker: names, types, control flow and limits of a parsed spec.

`analyze(program)` returns an `Analysis` (diagnostics plus every resolved type, for the
compiler); `check(program)` returns just the sorted diagnostics. Both collect every finding
instead of stopping at the first, never raise on a parsed `Program`, and stop descending
where nesting exceeds `limits.max_depth` (MAS406).

Modules, one job each: `declarations` (the namespace, agent settings), `typenames` (type
expressions), `expressions` (names and values in scope), `calls` (agent and builtin calls,
shaped by the data table `builtins`), `lists` (indexing, head/rest/len, map), `steps`
(run_tests), `flow` (statements, scoping, graphs), `analysis`
(the result models), `context` (the working state).
"""

from __future__ import annotations

from masdsl import ast
from masdsl.checker.analysis import AgentSettings, Analysis, ExpressionKey
from masdsl.checker.context import RESERVED, Context
from masdsl.checker.declarations import declare
from masdsl.checker.expressions import Scope
from masdsl.checker.flow import check_block, collect_bound_names
from masdsl.checker.tools import check_tool_use
from masdsl.construct import trusted
from masdsl.diagnostics import Diagnostic, sort_diagnostics
from masdsl.limits import Limits
from masdsl.patterns import BUILTINS, Builtin, Param, ValueKind
from masdsl.spans import NO_SPAN
from masdsl.types import Type

DEFAULT_TOOLS: frozenset[str] = frozenset({"python", "calculator"})
_DEFAULT_LIMITS = Limits()
_analysis = trusted(Analysis)

__all__ = ["BUILTINS", "DEFAULT_TOOLS", "AgentSettings", "Analysis", "Builtin",
           "ExpressionKey", "Param", "ValueKind", "analyze", "check"]


def analyze(program: ast.Program, limits: Limits = _DEFAULT_LIMITS,
            tools: frozenset[str] = DEFAULT_TOOLS,
            engines: frozenset[str] | None = None) -> Analysis:
    """Check `program` and return everything learnt about it.

    `tools` are the builtin tool names agents may use besides the tools the spec declares
    (`checker.tools`); `engines`, when given, are the named engines
    an agent's `model` may name besides `executor` and `designer` (None: any name)."""
    ctx = Context(limits=limits, tools=frozenset(tools), engines=engines, path=program.path)
    if program.span.end > limits.max_bytes:
        ctx.report("MAS407", NO_SPAN,
            f"the spec is over {limits.max_bytes:,} bytes", help="split the system or raise "
            "max_bytes")
    declare(ctx, program)
    flows = program.flows
    scope = Scope(bound=dict(ctx.inputs))
    if flows:
        bound_names: dict[str, ast.Expr] = {}
        collect_bound_names(flows[0].body, bound_names)
        ctx.flow_names = set(bound_names)
        check_block(ctx, scope, flows[0].body, 1)
        for output in program.outputs:
            name = output.name.value
            if name in RESERVED:
                continue  # already MAS114; it cannot be bound without another MAS114
            if name not in ctx.values:
                ctx.report("MAS301", output.name.span, f"the output '{name}' is never bound",
                           help=f"assign it in the flow: {name} = ...")
            elif name not in scope.bound:
                ctx.report("MAS302", output.name.span, f"the output '{name}' is not bound on "
                           "every path", help="bind it in every branch of the if/match "
                           "statements (an `if` needs an `else`)")
    # Unused-name warnings need the whole flow walked; after MAS406 they would be noise.
    for agent in [] if ctx.walk_cut_short else program.agents + program.instances:
        if agent.name.value not in ctx.used_agents:
            ctx.report("MAS105", agent.name.span, f"the agent '{agent.name.value}' is never "
                       "used", help="call it in the flow or remove it")
    used_templates = {item.template.value for item in program.instances}
    for template in [] if ctx.walk_cut_short else program.templates:
        if template.name.value not in used_templates | ctx.used_agents:
            ctx.report("MAS105", template.name.span, f"the agent template "
                       f"'{template.name.value}' is never used",
                       help="declare an agent from it, or remove it")
    for declared in [] if ctx.walk_cut_short else program.inputs:
        if declared.name.value not in ctx.used_inputs:
            ctx.report("MAS113", declared.name.span, f"the input '{declared.name.value}' is "
                       "never used", help="pass it to an agent or remove it")
    check_tool_use(ctx, program)
    bindings: dict[str, Type] = {}
    for source in (ctx.inputs, ctx.outputs, ctx.values):
        for name, bound_type in source.items():
            if bound_type is not None:
                bindings.setdefault(name, bound_type)
    return _analysis(
        diagnostics=tuple(sort_diagnostics(ctx.diagnostics)),
        type_aliases={name: alias for name, alias in ctx.type_aliases.items()
                      if alias is not None},
        agents=dict(ctx.agents), bindings=bindings,
        expression_types=ctx.expression_types, static_lengths=ctx.static_lengths,
        tools=dict(ctx.declared_tools))


def check(program: ast.Program, limits: Limits = _DEFAULT_LIMITS,
          tools: frozenset[str] = DEFAULT_TOOLS,
          engines: frozenset[str] | None = None) -> list[Diagnostic]:
    """The sorted diagnostics of `program` (see `analyze`)."""
    return list(analyze(program, limits, tools, engines).diagnostics)

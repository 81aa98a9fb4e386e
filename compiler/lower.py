"""Lowering: a checked `Program` -> `IR`. System inputs become `input` nodes, the flow is
lowered statement by statement (`lower_stmt`, `lower_expr`, `lower_builtins`), and each
declared output becomes an `output` node fed by the output name's final value."""

from __future__ import annotations

from compiler.builder import Builder, Context, out
from compiler.ir import (
    IR,
    OUT,
    AgentSettings,
    Declaration,
    InputNode,
    OutputNode,
    Port,
    ToolDeclaration,
    ToolParameter,
)
from compiler.lower_stmt import lower_block
from compiler.resolve import fail
from masdsl import ast
from masdsl.checker.analysis import MEMBER, Analysis


def _declarations(program: ast.Program, analysis: Analysis,
                  items: list[ast.InputDecl] | list[ast.OutputDecl]) -> list[Declaration]:
    """The interface declarations with the types the checker resolved."""
    found = []
    for item in items:
        declared = analysis.bindings.get(item.name.value)
        if declared is None:
            raise fail(program, item.type.span, "MAS205",
                       f"the type of '{item.name.value}' is unknown")
        found.append(Declaration(name=item.name.value, type=declared, span=item.span))
    return found


def ir_agents(analysis: Analysis) -> dict[str, AgentSettings]:
    """The checker's resolved agent settings as the IR's `AgentSettings` (agents whose output
    type is unknown, after an error, are left out)."""
    return {name: AgentSettings.model_validate(settings, from_attributes=True)
            for name, settings in analysis.agents.items() if settings.output is not None}


def ir_tools(program: ast.Program, analysis: Analysis) -> list[ToolDeclaration]:
    """The declared tools, in declaration order, with the types the checker resolved."""
    found: list[ToolDeclaration] = []
    for item in program.tools:
        signature = analysis.tools.get(item.name.value)
        if signature is None or any(tool.name == signature.name for tool in found):
            continue
        found.append(ToolDeclaration(
            name=signature.name, description=signature.description, result=signature.result,
            parameters=tuple(ToolParameter(name=param.name, type=param.type)
                             for param in signature.params), span=item.span))
    return found


def lower(program: ast.Program, analysis: Analysis) -> IR:
    """Lower a program the front end accepted into an (unoptimised) IR, reading every type
    and agent setting from the checker's `analysis` (nothing is resolved twice). Raises
    `LoweringError` with a located diagnostic if the program is not well-formed."""
    members = frozenset((start, end) for start, end, kind in analysis.expression_types
                        if kind == MEMBER)
    builder = Builder(program=program, agents=ir_agents(analysis), members=members,
                      lengths=dict(analysis.static_lengths))
    inputs = _declarations(program, analysis, program.inputs)
    outputs = _declarations(program, analysis, program.outputs)
    env = {}
    context = Context()
    for declaration in inputs:
        node_id = builder.new_id(f"input_{declaration.name}")
        builder.add(InputNode(id=node_id, span=declaration.span, label=declaration.name,
                              name=declaration.name,
                              outputs=(Port(name=OUT, type=declaration.type),)), context, [])
        env[declaration.name] = out(node_id, declaration.type)
    flows = program.flows
    if not flows:
        raise fail(program, program.span, "MAS307", "the spec has no flow")
    for flow in flows:
        env = lower_block(builder, context, env, flow.body)
    for declaration in outputs:
        value = env.get(declaration.name)
        if value is None:
            raise fail(program, declaration.span, "MAS301",
                       f"output '{declaration.name}' is never bound")
        if value.type != declaration.type:
            raise fail(program, declaration.span, "MAS201",
                       f"output '{declaration.name}' is declared {declaration.type.render()} "
                       f"but bound to {value.type.render()}")
        port = Port(name="value", type=declaration.type)
        builder.add(OutputNode(id=builder.new_id(f"output_{declaration.name}"),
                               span=declaration.span, label=declaration.name,
                               name=declaration.name, inputs=(port,)), context, [(port, value)])
    return IR(program.name.value, inputs, outputs, builder.nodes, builder.edges, program.path,
              ir_tools(program, analysis))

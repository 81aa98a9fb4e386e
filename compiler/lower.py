"""Lowering: a checked `Program` -> `IR`. System inputs become `input` nodes, the flow is
lowered statement by statement (`lower_stmt`, `lower_expr`, `lower_builtins`), and each
declared output becomes an `output` node fed by the output name's final value."""

from __future__ import annotations

from collections.abc import Mapping

from compiler.builder import Builder, Context, out
from compiler.ir import IR, OUT, AgentSettings, Declaration, InputNode, OutputNode, Port
from compiler.lower_stmt import lower_block
from compiler.resolve import fail, resolve_agent, resolve_type
from masdsl import ast


def lower(program: ast.Program, agents: Mapping[str, AgentSettings] | None = None) -> IR:
    """Lower a program the front end accepted into an (unoptimised) IR. `agents` are the
    checker's resolved agent settings (resolved here from the declarations when not given).
    Raises `LoweringError` with a located diagnostic if the program is not well-formed."""
    if agents is None:
        agents = {agent.name.value: resolve_agent(program, agent) for agent in program.agents}
    builder = Builder(program=program, agents=dict(agents))
    inputs = [Declaration(name=item.name.value, type=resolve_type(program, item.type),
                          span=item.span) for item in program.inputs]
    outputs = [Declaration(name=item.name.value, type=resolve_type(program, item.type),
                           span=item.span) for item in program.outputs]
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
    return IR(program.name.value, inputs, outputs, builder.nodes, builder.edges, program.path)

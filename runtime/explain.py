"""What an agent node is told: the exact messages of its first LLM call, with a placeholder
for every input that is only known at run time (`masc explain SPEC NODE`).

The system message is built by the same function the runtime uses
(`runtime.agent_turn.system_prompt`: the role, the tool protocol, the answer format), and
the user message by the same `user_prompt`, so what is printed is what the model receives;
only the values are placeholders, each saying where the value comes from. Notes after the
messages say when the node runs and what follows a reply that does not parse.
"""

from __future__ import annotations

from compiler.ir import (
    IR,
    TEXT,
    AgentNode,
    CollectNode,
    Edge,
    InputNode,
    IRNode,
    ListNode,
    LiteralNode,
    MergeNode,
    Port,
    ReplyNode,
    RoundsNode,
    VoteNode,
)
from masdsl.types import TEXT as TEXT_TYPE
from runtime.agent_turn import AgentInput, system_prompt, user_prompt
from runtime.format import format_instructions
from runtime.tools.registry import ToolRegistry


def matching_nodes(ir: IR, query: str) -> list[AgentNode]:
    """The agent nodes `query` names: a node id (`n00004.agent_call_judge`, or its part
    after the dot), a node label (`judge`, `solver[1]`, `critic critique 2`) or an agent
    name (every node that runs that agent), in node order."""
    found = []
    for node in ir.agent_nodes():
        names = {node.id, node.id.split(".", 1)[-1], node.label, node.agent.name}
        if query in names:
            found.append(node)
    return found


def _source(ir: IR, edge: Edge) -> str:
    """Where a port's value comes from, in words."""
    source: IRNode = ir.node(edge.source)
    if isinstance(source, InputNode):
        return f"the system input `{source.name}`"
    if isinstance(source, AgentNode):
        what = "raw reply" if edge.source_port == TEXT else "answer"
        return f"the {what} of {source.label} ({source.id})"
    if isinstance(source, MergeNode):
        return f"the latest present value of `{source.name}` ({source.id})"
    if isinstance(source, CollectNode | ListNode):
        return f"the present items of {source.label} ({source.id})"
    if isinstance(source, VoteNode):
        return f"the result of {source.label} ({source.id})"
    if isinstance(source, LiteralNode):
        return f"the constant {source.value!r}"
    if isinstance(source, ReplyNode):
        return (f"the full reply behind the value given to {source.label} ({source.id}): "
                "the reply of the agent call it came from")
    if isinstance(source, RoundsNode):
        return f"the value after each round, {source.label} ({source.id})"
    return f"{source.kind} {source.id}"


def _placeholder(ir: IR, node: AgentNode, port: Port) -> AgentInput:
    if port.constant is not None:  # a constant is shown exactly as the runtime shows it
        return AgentInput(port.name, port.constant, port.type)
    edge = next((edge for edge in ir.in_edges(node.id)
                 if edge.kind == "data" and edge.target_port == port.name), None)
    origin = _source(ir, edge) if edge is not None else "nothing (always absent)"
    shown = f"<{port.type.render()}: {origin}>"
    return AgentInput(port.name, shown, TEXT_TYPE, raw_text=True)


def explain(ir: IR, node: AgentNode, tools: ToolRegistry) -> str:
    """The messages of `node`'s first call and notes on when and how it runs."""
    agent = node.agent
    inputs = [_placeholder(ir, node, port) for port in node.inputs
              if port.name not in node.memory]
    lines = [f"{node.id}: {node.kind} of agent `{agent.name}` (model {agent.model}), "
             f"{node.label}", "", "--- system ---", system_prompt(agent, tools), ""]
    for port in node.memory:  # conversation memory: each earlier call's exchange
        edge = next(edge for edge in ir.in_edges(node.id) if edge.target_port == port)
        earlier = ir.node(edge.source)
        lines += [f"--- user (earlier call {earlier.label}, {earlier.id}) ---",
                  f"<the user message of {earlier.id}, when it ran>", "",
                  "--- assistant ---", f"<the last reply of {earlier.id}>", ""]
    lines += ["--- user ---", user_prompt(inputs), "", "--- notes ---"]
    guard = ir.guard_of(node.id)
    if guard is None:
        lines.append("- runs whenever its inputs are ready (no guard)")
    else:
        lines.append(f"- runs only when {guard.source} gives one of: "
                     f"{', '.join(guard.when or ())}")
    if node.inputs:
        lines.append("- an input whose value is absent at run time is left out of the user "
                     "message (with its label)")
    if node.memory:
        lines.append(f"- memory {agent.memory}: an earlier call that did not run is left "
                     "out of the conversation")
    turns = agent.max_tool_turns if agent.tools else 0
    if turns:
        lines.append(f"- up to {turns} tool turn(s): a reply calling a tool gets the tool's "
                     "result as the next user message")
    if agent.retries:
        lines.append(f"- up to {agent.retries} format retries: a reply that does not parse "
                     f"as {agent.output.render()} gets the user message \"I could not read "
                     f"your answer (<reason>).\" followed by: "
                     + format_instructions(agent.output).replace("\n", " "))
    if agent.default is not None:
        lines.append(f"- when no reply parses, the answer is the default {agent.default!r}")
    else:
        lines.append("- when no reply parses, the answer is absent")
    return "\n".join(lines) + "\n"

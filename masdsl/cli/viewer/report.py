"""The run viewer's data: a compiled spec, its worst-case cost per node, and (with a trace)
every turn of every execution, as one JSON-ready dictionary the page renders.

Costs come from `compiler.stats` (the spec's `Stats` and, per node, `calls`, `tokens` and
`split_of`); turns and executions from the runtime's trace records. A trace's execution
line may carry a `reward` (written by the trainer or a benchmark), and a line
`{"type": "reward", "execution_id": ..., "reward": ...}` adds one afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compiler.api import CompiledSpec
    from runtime.trace import ExecutionRecord, TurnRecord


class TraceError(ValueError):
    """A trace file that cannot be read; the message names the file and line."""


def read_records(path: str | Path) -> tuple[list[TurnRecord], list[ExecutionRecord],
                                            dict[str, float]]:
    """The turns, executions and rewards of a JSONL trace (`masc run --trace`)."""
    from pydantic import ValidationError

    from runtime.trace import ExecutionRecord, TurnRecord

    turns: list[TurnRecord] = []
    executions: list[ExecutionRecord] = []
    rewards: dict[str, float] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise TraceError(f"cannot read {path}: {reason}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            kind = data.pop("type", "turn")
            if kind == "reward":
                rewards[str(data["execution_id"])] = float(data["reward"])
            elif kind == "execution":
                reward = data.pop("reward", None)
                record = ExecutionRecord.model_validate(data)
                executions.append(record)
                if reward is not None:
                    rewards[record.execution_id] = float(reward)
            else:
                turns.append(TurnRecord.model_validate(data))
        except (json.JSONDecodeError, TypeError, KeyError, ValueError,
                ValidationError) as error:
            reason = str(error).splitlines()[0]
            raise TraceError(f"{path}:{number}: not a trace record: {reason}") from None
    return turns, executions, rewards


def node_entry(node: Any) -> dict[str, Any]:
    """One IR node: what it is, its ports, and (for agents) settings and worst case."""
    from compiler.ir import AgentNode
    from compiler.stats import calls, split_of, tokens

    entry: dict[str, Any] = {
        "id": node.id, "kind": node.kind, "label": node.label, "scope": list(node.scope),
        "line": node.span.line,
        "inputs": [[port.name, port.type.render()] for port in node.inputs],
        "outputs": [[port.name, port.type.render()] for port in node.outputs],
        "reaches_output": node.reaches_output}
    if isinstance(node, AgentNode):
        agent = node.agent
        logical, tool_turns, retries = split_of(node)
        entry["agent"] = {"name": agent.name, "role": agent.role,
                          "output": agent.output.render(), "tools": list(agent.tools),
                          "max_tool_turns": agent.max_tool_turns,
                          "temperature": agent.temperature, "top_p": agent.top_p,
                          "max_tokens": agent.max_tokens, "retries": agent.retries,
                          "model": agent.model}
        entry["worst"] = {"calls": calls(node), "tokens": tokens(node),
                          "agent_calls": logical, "tool_turns": tool_turns,
                          "format_retries": retries}
        entry["member"], entry["round"] = node.member, node.round
    return entry


def turn_entry(turn: TurnRecord) -> dict[str, Any]:
    return {"execution_id": turn.execution_id, "node_id": turn.node_id,
            "turn_index": turn.turn_index, "agent": turn.agent, "role": turn.role,
            "prompt": turn.prompt_text, "reply": turn.completion_text,
            "prompt_tokens": len(turn.prompt_token_ids),
            "completion_tokens": len(turn.completion_token_ids),
            "finish_reason": turn.finish_reason,
            "tool_calls": [call.model_dump(mode="json") for call in turn.tool_calls],
            "parsed": turn.parsed_value, "failure": turn.failure,
            "latency_s": turn.latency_s, "seed": turn.seed}


def build_report(compiled: CompiledSpec, source: str, turns: Iterable[TurnRecord] = (),
                 executions: Iterable[ExecutionRecord] = (),
                 rewards: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Everything the page shows, JSON-ready."""
    rewards = dict(rewards or {})
    ir = compiled.ir
    stats = compiled.stats
    # grouped by execution, each execution's turns in the order they finished
    turn_list = sorted((turn_entry(turn) for turn in turns),
                       key=lambda turn: str(turn["execution_id"]))
    runs: dict[str, dict[str, Any]] = {}
    for record in executions:
        runs[record.execution_id] = {
            **record.model_dump(mode="json"), "reward": rewards.get(record.execution_id)}
    for turn in turn_list:  # turns of an interrupted run have no execution record
        runs.setdefault(turn["execution_id"], {
            "execution_id": turn["execution_id"], "spec": ir.name, "inputs": {},
            "outputs": {}, "failures": {}, "status": "incomplete",
            "llm_calls": sum(1 for t in turn_list
                             if t["execution_id"] == turn["execution_id"]),
            "prompt_tokens": 0, "completion_tokens": 0, "wall_s": 0.0, "seed": None,
            "reward": rewards.get(turn["execution_id"])})
    return {
        "name": ir.name, "path": ir.path, "source": source,
        "inputs": [[decl.name, decl.type.render()] for decl in ir.inputs],
        "outputs": [[decl.name, decl.type.render()] for decl in ir.outputs],
        "stats": {**stats.model_dump(mode="json"), "split": stats.split.model_dump()},
        "nodes": [node_entry(node) for node in ir.nodes()],
        "edges": [{"source": edge.source, "target": edge.target, "kind": edge.kind,
                   "port": edge.target_port, "type": edge.type.render(),
                   "when": list(edge.when or ())} for edge in ir.edges()],
        "executions": sorted(runs.values(), key=lambda run: str(run["execution_id"])),
        "turns": turn_list,
    }

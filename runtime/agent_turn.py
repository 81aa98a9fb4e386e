"""One agent run: prompt assembly, the tool loop, typed parsing with bounded format retries.

An agent run is a short conversation. The system message is the agent's role plus the tool
protocol and the answer format; the user message shows each present input under its label.
Each model reply is one recorded turn. A reply that calls a tool gets the tool's result as
the next user message (up to `max_tool_turns`); a reply that cannot be read as the declared
type gets a reminder of the format (up to `retries`); when both run out, the run ends in a
typed failure instead of an exception, or, when the agent declares a `default`, gives that
value (the failure is still recorded).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from compiler.ir import AgentNode, AgentSettings
from masdsl.types import Type
from runtime.budget import BudgetTracker
from runtime.engines.base import ChatRequest, Completion, Engine, Message, Sampling
from runtime.format import format_instructions, render_value, retry_message
from runtime.tools.protocol import (
    STOP_SEQUENCE,
    extract_tool_call,
    tool_instructions,
    tool_result_message,
)
from runtime.tools.registry import ToolRegistry
from runtime.trace import ToolCallRecord, TurnRecord
from runtime.values import JSONValue, ParseFailure, Value, from_json, parse_value, to_json

ENGINE_ATTEMPTS = 3
ENGINE_BACKOFF_S = 0.5


@dataclass(frozen=True)
class AgentInput:
    """One labelled input of an agent run, already resolved to a value."""

    label: str
    value: Value
    type: Type
    raw_text: bool = False  # a `text` port: the raw reply of another agent, shown as is


@dataclass(frozen=True)
class AgentOutcome:
    """`value` is None when the run failed; `text` is the last reply either way."""

    value: Value | None
    text: str
    failure: str | None
    turns: int


@dataclass
class TurnContext:
    """What an agent run needs from its execution: engines by model name, tools, the
    budget, the seed, and where finished turns go."""

    execution_id: str
    engines: Mapping[str, Engine]
    tools: ToolRegistry
    budget: BudgetTracker
    seed: int
    on_turn: Callable[[TurnRecord], None]


def derive_seed(seed: int, *parts: object) -> int:
    """A 31-bit seed derived from the execution seed and the call's identity, so each LLM
    call's sampling is reproducible whatever else runs concurrently."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def system_prompt(agent: AgentSettings, tools: ToolRegistry) -> str:
    parts = [agent.role.strip()]
    usable = [name for name in agent.tools if name in tools]
    if usable and agent.max_tool_turns > 0:
        parts.append(tool_instructions(tools.descriptions(usable), agent.max_tool_turns))
    parts.append(format_instructions(agent.output))
    return "\n\n".join(part for part in parts if part)


def user_prompt(inputs: Sequence[AgentInput]) -> str:
    if not inputs:
        return "Begin."
    blocks = []
    for item in inputs:
        shown = str(item.value) if item.raw_text else render_value(item.value, item.type)
        blocks.append(f"{item.label}:\n{shown.strip()}")
    return "\n\n".join(blocks)


def render_messages(messages: Sequence[Message]) -> str:
    """A plain, engine-independent rendering of a conversation (the trace's prompt text)."""
    return "\n".join(f"<|{message.role}|>\n{message.content}" for message in messages)


async def generate_with_retry(engine: Engine, request: ChatRequest,
                              timeout_s: float | None) -> Completion:
    """One completion, retrying engine errors and timeouts with exponential backoff; after
    the last attempt an error completion (finish_reason "error") is returned, not raised."""
    error = "unknown error"
    for attempt in range(ENGINE_ATTEMPTS):
        try:
            [completion] = await asyncio.wait_for(engine.generate([request]), timeout_s)
        except TimeoutError:
            error = f"engine timed out after {timeout_s:.1f} s"
        except Exception as exc:  # an engine failure must not take down the batch
            error = f"{type(exc).__name__}: {exc}"
        else:
            if completion.finish_reason != "error":
                return completion
            error = completion.error or "engine error"
        if attempt + 1 < ENGINE_ATTEMPTS:
            await asyncio.sleep(ENGINE_BACKOFF_S * 2**attempt)
    return Completion.failure(error)


async def run_agent(node: AgentNode, inputs: Sequence[AgentInput], context: TurnContext,
                    history: Sequence[Message] = ()) -> AgentOutcome:
    """Run one agent node to a typed value or a typed failure, recording every turn.
    `history` is the agent's conversation memory: earlier calls' user messages and
    replies, placed between the system message and this call's user message."""
    agent = node.agent
    engine = context.engines.get(agent.model)
    if engine is None:
        return AgentOutcome(None, "", f"no engine for model '{agent.model}'", 0)
    messages = [Message("system", system_prompt(agent, context.tools)), *history,
                Message("user", user_prompt(inputs))]
    usable = [name for name in agent.tools if name in context.tools]
    tool_turns_left, retries_left = agent.max_tool_turns if usable else 0, agent.retries
    stop = (STOP_SEQUENCE,) if tool_turns_left else ()
    turn_index, reply = 0, ""
    while True:
        max_tokens = context.budget.before_call(agent.max_tokens)
        seed = derive_seed(context.seed, node.id, turn_index)
        request = ChatRequest(messages=tuple(messages), sampling=Sampling(
            temperature=agent.temperature, top_p=agent.top_p, max_tokens=max_tokens,
            seed=seed, stop=stop))
        started = time.monotonic()
        completion = await generate_with_retry(engine, request, context.budget.remaining_wall())
        latency = time.monotonic() - started
        context.budget.after_call(len(completion.prompt_token_ids), len(completion.token_ids))
        reply = completion.text
        tool_records: tuple[ToolCallRecord, ...] = ()
        failure: str | None = None
        value: Value | None = None
        follow_up: str | None = None

        call = extract_tool_call(reply, usable) if tool_turns_left else None
        if completion.finish_reason == "error":
            failure = f"engine error: {completion.error}"
        elif call is not None:
            result = await context.tools.get(call.name).call(call.argument)
            tool_records = (ToolCallRecord(tool=call.name, argument=call.argument,
                                           result=result.text, ok=result.ok),)
            reply = reply[: call.end]
            follow_up = tool_result_message(call, result.text)
            tool_turns_left -= 1
        else:
            parsed = parse_value(reply, agent.output)
            if isinstance(parsed, ParseFailure):
                failure = f"format: {parsed.reason}"
                if retries_left > 0:
                    follow_up = retry_message(agent.output, parsed)
                    retries_left -= 1
            else:
                value = parsed.value

        context.on_turn(TurnRecord(
            execution_id=context.execution_id, node_id=node.id, turn_index=turn_index,
            agent=agent.name, prompt_text=render_messages(messages),
            prompt_token_ids=completion.prompt_token_ids, completion_text=completion.text,
            completion_token_ids=completion.token_ids, logprobs=completion.logprobs,
            finish_reason=completion.finish_reason, tool_calls=tool_records,
            parsed_value=None if value is None else to_json(value, agent.output),
            failure=failure if follow_up is None else None, latency_s=latency, seed=seed))
        turn_index += 1
        if value is not None:
            return AgentOutcome(value, reply, None, turn_index)
        if follow_up is None:
            if agent.default is not None and failure is not None and \
                    failure.startswith("format:"):
                # The declared fallback: the run still reports why no reply parsed.
                default: JSONValue = list(agent.default) \
                    if isinstance(agent.default, tuple) else agent.default
                return AgentOutcome(from_json(default, agent.output), reply,
                                    f"{failure} (used the default)", turn_index)
            return AgentOutcome(None, reply, failure, turn_index)
        messages += [Message("assistant", reply), Message("user", follow_up)]

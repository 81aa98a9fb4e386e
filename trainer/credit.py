"""Credit assignment: rewards of a hierarchical rollout -> per-token and per-turn advantages.

Pure functions over plain data (no torch), so every rule can be tested by hand.

A rollout for one question has M designs (designer completions, each a `.mas` spec) and, for
each design that compiled, N executions (runs of the compiled system, each LLM call a turn).

Designer
    * A design's return is the mean reward of its N executions; a design that did not compile
      returns the configured compile penalty (`design_returns`).
    * Its advantage is the GRPO advantage of that return among the M designs of the same
      question (`grpo_advantages`, `grouped_advantages`).
    * `designer_token_advantages` spreads that advantage over the design's tokens: one value for
      every token (`sequence`, as in MetaAgent-X) or per DSL node (`node`, the rule below).

Executor
    * `executor_turn_advantages`: an execution's reward is normalised within its group (every
      execution of the question, or of the design) and given to each turn whose IR node can
      reach a system output; other turns get 0. `execution` mode gives every turn the
      question-normalised advantage (as in MetaAgent-X).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Literal

DesignerMode = Literal["node", "sequence"]
ExecutorMode = Literal["question", "design", "execution"]
Severity = Literal["error", "warning"]

CharSpan = tuple[int, int]
"""A half-open character range `[start, end)`."""

TokenRange = tuple[int, int]
"""A half-open range of token indices `[first, last)`."""


@dataclass(frozen=True)
class DiagnosticSpan:
    """Where a diagnostic of a design points, in characters of the spec text."""

    start: int
    end: int
    severity: Severity = "error"
    code: str = ""


@dataclass(frozen=True)
class NodeSpan:
    """A DSL node of a design (an agent, a flow statement ...) with the compiler's verdict on
    whether any of its IR nodes lies on a path to a system output."""

    node_id: str
    start: int
    end: int
    reaches_output: bool


@dataclass(frozen=True)
class DesignSample:
    """One designer completion and what the compiler said about it.

    `token_offsets[i]` is the `(start, end)` character range of completion token `i` in `text`
    (see `trainer.tokens.token_char_offsets`). Node and diagnostic spans are offsets in the
    *spec* text, which starts at character `spec_offset` of `text` (non-zero when the spec is
    embedded in a longer completion, e.g. inside a code fence).
    """

    question_id: Hashable
    design_id: Hashable
    text: str
    token_offsets: tuple[CharSpan, ...]
    compile_ok: bool
    diagnostics: tuple[DiagnosticSpan, ...] = ()
    nodes: tuple[NodeSpan, ...] = ()
    spec_offset: int = 0


@dataclass(frozen=True)
class Turn:
    """One LLM call of an execution, tied to the IR node that made it."""

    node_id: str
    reaches_output: bool
    token_count: int


@dataclass(frozen=True)
class ExecutionSample:
    """One execution of a compiled design and its scalar reward."""

    design_id: Hashable
    reward: float
    turns: tuple[Turn, ...] = field(default_factory=tuple)


def grpo_advantages(values: Sequence[float], eps: float = 1e-6,
                    normalise_std: bool = True) -> list[float]:
    """GRPO advantages of one group: `(v - mean) / (std + eps)`, std being the population
    standard deviation. A group whose values are all equal (including a group of one) gets
    exact zeros: it carries no preference. With `normalise_std=False` only the mean is
    subtracted (the Dr. GRPO variant)."""
    if not values:
        return []
    if max(values) == min(values):
        return [0.0] * len(values)
    mean = math.fsum(values) / len(values)
    if not normalise_std:
        return [v - mean for v in values]
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
    return [(v - mean) / (std + eps) for v in values]


def grouped_advantages(values: Sequence[float], groups: Sequence[Hashable], eps: float = 1e-6,
                       normalise_std: bool = True) -> list[float]:
    """`grpo_advantages` applied separately within each group; `groups[i]` names the group
    of `values[i]`. The result is aligned with `values`."""
    if len(values) != len(groups):
        raise ValueError(f"{len(values)} values but {len(groups)} group labels")
    members: dict[Hashable, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    result = [0.0] * len(values)
    for indices in members.values():
        for index, advantage in zip(
                indices, grpo_advantages([values[i] for i in indices], eps, normalise_std),
                strict=True):
            result[index] = advantage
    return result


def design_returns(designs: Sequence[DesignSample], executions: Sequence[ExecutionSample],
                   compile_penalty: float) -> list[float]:
    """The return of each design, aligned with `designs`: the mean reward of its executions,
    or `compile_penalty` when it did not compile. A compiled design without executions is a
    rollout bug and raises `ValueError`."""
    rewards: dict[Hashable, list[float]] = {}
    for execution in executions:
        rewards.setdefault(execution.design_id, []).append(execution.reward)
    returns = []
    for design in designs:
        if not design.compile_ok:
            returns.append(compile_penalty)
            continue
        own = rewards.get(design.design_id)
        if not own:
            raise ValueError(f"design {design.design_id!r} compiled but has no executions")
        returns.append(math.fsum(own) / len(own))
    return returns


def designer_advantages(designs: Sequence[DesignSample], executions: Sequence[ExecutionSample],
                        compile_penalty: float, eps: float = 1e-6,
                        normalise_std: bool = True) -> list[float]:
    """The GRPO advantage of each design among the designs of its question (aligned with
    `designs`)."""
    returns = design_returns(designs, executions, compile_penalty)
    return grouped_advantages(returns, [d.question_id for d in designs], eps, normalise_std)


def _overlaps(token: CharSpan, span: CharSpan) -> bool:
    """Whether a token overlaps a span. An empty token (a token that only carries part of a
    multi-byte character) counts as the point at its start; an empty span as the point at
    its start too."""
    token_start, token_end = token
    span_start, span_end = span
    if token_start == token_end:
        token_end = token_start + 1
    if span_start == span_end:
        span_end = span_start + 1
    return token_start < span_end and span_start < token_end


def char_spans_to_token_ranges(spans: Sequence[CharSpan],
                               token_offsets: Sequence[CharSpan]) -> list[TokenRange]:
    """For each character span, the half-open range of token indices that overlap it.

    Tokens are assumed in text order (offsets non-decreasing). A span no token overlaps maps
    to an empty range: `(n, n)` where `n` is the number of tokens that end at or before the
    span's start — except that an empty span at or past the end of the text (a diagnostic
    "unexpected end of input") maps to the last token, so it can still be blamed."""
    ranges: list[TokenRange] = []
    for span in spans:
        hits = [i for i, token in enumerate(token_offsets) if _overlaps(token, span)]
        if hits:
            ranges.append((hits[0], hits[-1] + 1))
            continue
        before = sum(1 for _, end in token_offsets if end <= span[0])
        if span[0] == span[1] and token_offsets and before == len(token_offsets):
            ranges.append((before - 1, before))
        else:
            ranges.append((before, before))
    return ranges


def _blamed_tokens(spans: Sequence[CharSpan], token_offsets: Sequence[CharSpan]) -> set[int]:
    blamed: set[int] = set()
    for first, last in char_spans_to_token_ranges(spans, token_offsets):
        blamed.update(range(first, last))
    return blamed


def designer_token_advantages(design: DesignSample, advantage: float,
                              mode: DesignerMode = "node",
                              unlocalised_weight: float = 0.0) -> list[float]:
    """Per-token advantages of one design, given its design-level GRPO advantage `A`.

    `sequence` mode: every token gets `A` (MetaAgent-X).

    `node` mode: each token gets the first rule that applies to it, in this order:
      1. it overlaps the span of an error diagnostic -> `min(A, 0)`
         (the check error is localised to the offending tokens; never rewarded);
      2. the design did not compile and rule 1 blamed at least one token
         -> `A * unlocalised_weight` (0 by default: the rest of a broken design was never
         run, so it carries no evidence; 1 penalises the whole design as in `sequence`);
      3. it overlaps a node that cannot reach a system output -> `min(A, 0)`
         (such a node can be blamed but never credited);
      4. otherwise (reachable nodes, and tokens outside every node such as the header,
         punctuation, or text around the spec) -> `A`.
    A design that did not compile and has no located error falls under rule 4 everywhere.
    Warnings are ignored. Span offsets are shifted by `design.spec_offset` first.
    """
    count = len(design.token_offsets)
    if mode == "sequence":
        return [advantage] * count
    if mode != "node":
        raise ValueError(f"unknown designer credit mode {mode!r}")
    shift = design.spec_offset
    errors = [(d.start + shift, d.end + shift) for d in design.diagnostics
              if d.severity == "error"]
    blamed = _blamed_tokens(errors, design.token_offsets)
    dead = _blamed_tokens([(n.start + shift, n.end + shift) for n in design.nodes
                           if not n.reaches_output], design.token_offsets)
    localised_failure = not design.compile_ok and bool(blamed)
    result = []
    for index in range(count):
        if index in blamed:
            result.append(min(advantage, 0.0))
        elif localised_failure:
            result.append(advantage * unlocalised_weight)
        elif index in dead:
            result.append(min(advantage, 0.0))
        else:
            result.append(advantage)
    return result


def executor_turn_advantages(executions: Sequence[ExecutionSample],
                             mode: ExecutorMode = "question", eps: float = 1e-6,
                             normalise_std: bool = True) -> list[list[float]]:
    """Per-turn advantages of the executions of ONE question (aligned with `executions`, then
    with each execution's turns).

    `question`: the reward is normalised over all executions of the question; `design`: over
    the executions of the same design. In both, a turn gets its execution's advantage when its
    node can reach a system output, else 0 (it could not influence the answer).
    `execution`: normalised over the question, and every turn gets it (MetaAgent-X).
    """
    rewards = [e.reward for e in executions]
    if mode in ("question", "execution"):
        advantages = grpo_advantages(rewards, eps, normalise_std)
    elif mode == "design":
        advantages = grouped_advantages(rewards, [e.design_id for e in executions], eps,
                                        normalise_std)
    else:
        raise ValueError(f"unknown executor credit mode {mode!r}")
    return [
        [a if (mode == "execution" or turn.reaches_output) else 0.0 for turn in e.turns]
        for e, a in zip(executions, advantages, strict=True)
    ]


def turn_token_advantages(execution: ExecutionSample,
                          turn_advantages: Sequence[float]) -> list[list[float]]:
    """Expand per-turn advantages to per-token lists (`turn.token_count` copies each), the
    shape the loss consumes."""
    if len(turn_advantages) != len(execution.turns):
        raise ValueError(f"{len(turn_advantages)} advantages for {len(execution.turns)} turns")
    return [[a] * turn.token_count for turn, a in zip(execution.turns, turn_advantages,
                                                       strict=True)]

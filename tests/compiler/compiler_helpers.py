"""Test helpers for the compiler suite: build IRs from spec text without the CLI, and an
independent brute-force enumerator of executions used to cross-check the static stats."""

from __future__ import annotations

import itertools

import networkx as nx

from compiler.ir import IR, AgentNode
from compiler.lower import lower
from compiler.passes import run_passes
from compiler.validate import validate_ir
from masdsl.checker import analyze
from masdsl.diagnostics import Diagnostic
from masdsl.parser import parse


def lower_source(source: str) -> IR:
    """The unoptimised IR of a spec, lowered with the checker's analysis."""
    program = parse(source)
    return lower(program, analyze(program))


def lowered(source: str) -> IR:
    """The unoptimised IR of a (valid) spec, validated."""
    return validate_ir(lower_source(source))


def optimised(source: str) -> tuple[IR, list[Diagnostic]]:
    """The IR after the pass pipeline, validated, with the passes' diagnostics."""
    ir, diagnostics = run_passes(lowered(source))
    return validate_ir(ir), diagnostics


def spec(flow: str, *, agents: str = "", head: str = "") -> str:
    """A spec with a standard interface and a few agents around `flow`."""
    return f"""mas t {{
  input question: text
  output answer: number
  type Verdict = enum {{ approve, revise }}
  type Kind = enum {{ a, b, c }}
  {head}
  agent solver -> number {{ role "Solve." retries 0 }}
  agent alt -> number {{ role "Solve again." retries 1 }}
  agent tooly -> number {{ role "Use tools." tools [python] }}
  agent critic -> Verdict {{ role "Critique." retries 0 }}
  agent classify -> Kind {{ role "Classify." retries 0 }}
  agent check -> bool {{ role "Check." retries 0 }}
  agent judge -> number {{ role "Judge." retries 0 }}
  agent note {{ role "Note." retries 0 }}
  {agents}
  flow {{
{flow}
  }}
}}
"""


def nodes_of(ir: IR, kind: str) -> list[AgentNode]:
    return [node for node in ir.nodes() if node.kind == kind]  # type: ignore[misc]


def enumerate_worst_calls(ir: IR, limit: int = 200_000) -> int | None:
    """The largest number of LLM calls over every execution, found by trying every value of
    every guard source (None when there are too many combinations to try)."""
    order = list(nx.topological_sort(ir.graph))
    sources = sorted({edge.source for edge in ir.edges() if edge.kind == "guard"})
    domains = []
    for source in sources:
        values = {value for edge in ir.out_edges(source) if edge.kind == "guard"
                  for value in edge.when or ()}
        domains.append([*sorted(values), "<other>"])
    total = 1
    for domain in domains:
        total *= len(domain)
    if total > limit:
        return None
    best = 0
    for choice in itertools.product(*domains):
        chosen = dict(zip(sources, choice, strict=True))
        ran: set[str] = set()
        calls = 0
        for node_id in order:
            guard = ir.guard_of(node_id)
            if guard is not None and (guard.source not in ran
                                      or chosen[guard.source] not in (guard.when or ())):
                continue
            ran.add(node_id)
            node = ir.node(node_id)
            if isinstance(node, AgentNode):
                calls += node.agent.worst_case_calls
        best = max(best, calls)
    return best

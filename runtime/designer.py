"""The designer at inference time: question -> a `.mas` spec -> a compiled system.

The designer model sees a compact language summary, a few hand-written systems from the
baseline library, the task's interface and the question, and writes one spec. Three ways
to sample it (`Decoding`):
- `typed` (the default): in stages, one declaration or flow statement at a time, each stage
  constrained by a grammar generated from what is declared so far (`masdsl.typed_grammar`), and fed
  the earlier stages' token ids unchanged; every design type-checks;
- `grammar`: one pass constrained by the shipped grammar; every design parses;
- `free`: unconstrained, for comparison.
The design is then checked and compiled; a design that fails keeps its diagnostics (the
trainer penalises exactly the offending nodes).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import grammar
from compiler.api import CompiledSpec
from compiler.api import compile as compile_spec
from masdsl import typed_grammar as typed
from masdsl.checker.context import RESERVED
from masdsl.diagnostics import Diagnostic, MasError, diagnostic
from masdsl.parser import parse
from masdsl.patterns import BUILTINS
from masdsl.spans import Span
from runtime.engines.base import ChatRequest, Completion, Engine, Message, Sampling

_SUMMARY_HEAD = """\
A spec is `mas NAME { ... }` with declarations and one flow:
  input question: text            output answer: number
  type Verdict = enum { approve, revise }
  agent NAME -> TYPE { role "..." tools [python] temperature 0.7 max_tokens 512 }
Types: text, number, bool, code, list[T], enum { a, b } or a type name.
Flow statements (`x = ...` binds a value; outputs must be bound):
  x = agent(input, label: value)                      one LLM call
"""
_SUMMARY_TAIL = """\
  if flag { ... } else { ... }     match topic { case a { ... } else { ... } }
  loop max 3 until verdict == approve { ... }
  graph max_steps 8 { start a  node a = s(q)  node b = c(a)  edge a -> b  edge b -> end }
Every loop and fan-out is bounded. Reply with the spec only."""
LANGUAGE_SUMMARY = (_SUMMARY_HEAD
                    + "".join(f"  {builtin.summary}\n" for builtin in BUILTINS.values())
                    + _SUMMARY_TAIL)
"""What the designer is told about the language (the patterns' lines come from the registry)."""


# The paper's rollout settings for designs (temperature 1.0, top_p 0.9).
DESIGN_SAMPLING = Sampling(temperature=1.0, top_p=0.9, max_tokens=512)


@dataclass(frozen=True)
class Interface:
    """What the task gives the system and what it expects back."""

    inputs: tuple[tuple[str, str], ...] = (("question", "text"),)
    outputs: tuple[tuple[str, str], ...] = (("answer", "number"),)

    def render(self) -> str:
        lines = [f"input {name}: {type_}" for name, type_ in self.inputs]
        lines += [f"output {name}: {type_}" for name, type_ in self.outputs]
        return "\n".join(lines)


@dataclass(frozen=True)
class Design:
    """One sampled design: the spec text, the completion it came from (token ids and
    logprobs for the trainer), and either the compiled spec or the diagnostics."""

    text: str
    completion: Completion
    compiled: CompiledSpec | None
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    offset: int = 0  # where `text` starts in `completion.text`

    @property
    def ok(self) -> bool:
        return self.compiled is not None


def _strip_comments(spec: str) -> str:
    kept = [line for line in spec.splitlines() if not line.lstrip().startswith("#")]
    return "\n".join(kept).strip()


def designer_messages(question: str, interface: Interface = Interface(),
                      examples: Sequence[str] = ()) -> tuple[Message, ...]:
    """The designer's conversation: language summary + examples, then the question."""
    shown = "\n\n".join(_strip_comments(example) for example in examples)
    system = LANGUAGE_SUMMARY + (f"\n\nExamples:\n\n{shown}" if shown else "")
    user = (f"Design a multi-agent system that answers this question.\n"
            f"Its interface must be:\n{interface.render()}\n\nQuestion: {question}")
    return (Message("system", system), Message("user", user))


_FENCE = re.compile(r"```[a-z]*\n(?P<body>.*?)(?:```|\Z)", re.DOTALL)


def extract_spec(text: str) -> tuple[str, int]:
    """The spec inside a reply and its offset: a fenced block if there is one, else from the
    first `mas ` to the end (unconstrained replies wrap specs in prose)."""
    fence = _FENCE.search(text)
    if fence is not None:
        return fence.group("body"), fence.start("body")
    start = text.find("mas ")
    return (text[start:], start) if start >= 0 else (text, 0)


def interface_diagnostics(compiled: CompiledSpec, interface: Interface,
                          path: str) -> list[Diagnostic]:
    """MAS310 for each input/output whose presence or type differs from the task's."""
    found: list[Diagnostic] = []
    span = compiled.program.name.span
    for kind, wanted, declared in (
            ("input", dict(interface.inputs), compiled.ir.inputs),
            ("output", dict(interface.outputs), compiled.ir.outputs)):
        have = {decl.name: decl.type.render() for decl in declared}
        for name in sorted(set(wanted) | set(have)):
            if wanted.get(name) == have.get(name):
                continue
            if name not in have:
                message = f"the task needs {kind} {name}: {wanted[name]}"
            elif name not in wanted:
                message = f"the task has no {kind} called {name}"
            else:
                message = f"{kind} {name} is {have[name]}; the task needs {wanted[name]}"
            found.append(diagnostic("MAS310", span, message,
                                    help=f"the interface is:\n{interface.render()}", path=path))
    return found


def compile_design(text: str, interface: Interface,
                   path: str = "<design>") -> tuple[CompiledSpec | None, list[Diagnostic]]:
    """Compile a designed spec and check it against the interface; never raises."""
    try:
        compiled = compile_spec(parse(text, path))
    except MasError as error:
        return None, list(error.diagnostics)
    mismatches = interface_diagnostics(compiled, interface, path)
    if mismatches:
        return None, mismatches
    return compiled, list(compiled.diagnostics)


Decoding = Literal["typed", "grammar", "free"]
"""How designs are sampled: `typed` in stages whose grammars know what is declared (every
design type-checks), `grammar` with the shipped grammar alone (every design parses), or
`free` (unconstrained; the spec is cut out of the reply)."""

# Typed decoding's bounds: agents per design, and flow statements (bindings and block
# headers) before the stages steer to the end.
TYPED_MAX_AGENTS = 4
TYPED_MAX_STATEMENTS = 6
# Tokens a design must have left to start another agent or another statement; below them
# the stage grammar steers to the end (closing open blocks, binding the outputs), so a
# design rarely runs out of tokens before it is whole. Each open block reserves a little
# more for its closing lines, each output not yet bound for the binding the end forces.
TYPED_AGENT_RESERVE = 96
TYPED_VALUE_RESERVE = 48
TYPED_BLOCK_RESERVE = 12
TYPED_OUTPUT_RESERVE = 24


def design_request(question: str, *, interface: Interface = Interface(),
                   examples: Sequence[str] = (), decoding: Decoding = "typed",
                   sampling: Sampling = DESIGN_SAMPLING) -> ChatRequest:
    """The chat request that asks the designer model for one spec (for `typed` decoding: for
    its first stage, which `sample_designs` continues)."""
    if decoding == "typed":
        rules: str | None = typed.head_grammar(_typed_start(interface))
    elif decoding == "grammar":
        rules = grammar.decoding_grammar_text(interface.inputs, interface.outputs)
    else:
        rules = None
    return ChatRequest(messages=designer_messages(question, interface, examples),
                       sampling=sampling, grammar=rules)


def design_from_completion(completion: Completion, interface: Interface,
                           decoding: Decoding) -> Design:
    """Turn the designer's completion into a `Design` (compiled, or with diagnostics)."""
    if completion.finish_reason == "error":
        failure = diagnostic("MAS003", Span.point("", 0),
                             f"the designer produced no spec: {completion.error}")
        return Design(text="", completion=completion, compiled=None, diagnostics=(failure,))
    text, offset = (completion.text, 0) if decoding != "free" else extract_spec(completion.text)
    compiled, diagnostics = compile_design(text, interface)
    return Design(text=text, completion=completion, compiled=compiled,
                  diagnostics=tuple(diagnostics), offset=offset)


def _typed_start(interface: Interface) -> typed.DesignState:
    return typed.DesignState(inputs=interface.inputs, outputs=interface.outputs,
                             reserved=RESERVED | grammar.keywords())


@dataclass
class _Staged:
    """One design sampled in stages: its declarations so far and its tokens."""

    request: ChatRequest
    state: typed.DesignState
    first: Completion | None = None
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    forced: list[bool] = field(default_factory=list)
    finish: Completion | None = None  # the stage that ended the design

    def next_request(self) -> ChatRequest:
        state = self.state
        sampling = self.request.sampling
        remaining = sampling.max_tokens - len(self.token_ids)
        more_statements = (state.statements < TYPED_MAX_STATEMENTS and remaining
                           >= TYPED_VALUE_RESERVE + TYPED_BLOCK_RESERVE * len(state.blocks)
                           + TYPED_OUTPUT_RESERVE * len(state.unbound_outputs()))
        more_agents = len(state.agents) < TYPED_MAX_AGENTS and (
            remaining >= TYPED_AGENT_RESERVE or bool(state.missing_types()))
        if state.building is not None:  # an enum or record output type being written
            rules = typed.composite_grammar(state)
        elif state.flow:
            rules = typed.statement_grammar(state, more_statements)
        else:
            rules = typed.declaration_grammar(state, more_agents, more_statements)
        seed = None if sampling.seed is None else sampling.seed + 7919 * len(self.token_ids)
        return replace(self.request, grammar=rules, continue_from=tuple(self.token_ids),
                       sampling=replace(sampling, seed=seed, max_tokens=remaining))

    def absorb(self, stage: Completion) -> None:
        """Add one stage's tokens and what it declared; finish on error, length or the end."""
        self.first = self.first or stage
        self.text += stage.text
        self.token_ids += stage.token_ids
        self.logprobs += stage.logprobs
        self.forced += stage.forced
        remaining = self.request.sampling.max_tokens - len(self.token_ids)
        if stage.finish_reason != "stop" or self.text.endswith("}\n") or remaining <= 0:
            self.finish = stage
            return
        after = typed.absorb(self.state, stage.text)
        if after is None:  # not a stage the grammar admits: give up
            self.finish = stage
            return
        self.state = after

    def completion(self) -> Completion:
        """The whole design as one completion: the stages' tokens in order (no end-of-turn
        token inside, by the engine contract); a failed stage fails the design."""
        assert self.first is not None and self.finish is not None
        if self.finish.error is not None:
            return Completion.failure(self.finish.error, self.first.prompt_text,
                                      self.first.prompt_token_ids)
        return Completion(text=self.text, prompt_token_ids=self.first.prompt_token_ids,
                          token_ids=tuple(self.token_ids), logprobs=tuple(self.logprobs),
                          # flags only if every stage reported them (the engine contract)
                          forced=tuple(self.forced) if len(self.forced) == len(
                              self.token_ids) else (),
                          finish_reason=self.finish.finish_reason,
                          prompt_text=self.first.prompt_text)


async def _typed_completions(engine: Engine, requests: Sequence[ChatRequest],
                             interface: Interface) -> list[Completion]:
    """Sample each design stage by stage. The designs run concurrently and each asks for its
    next stage as soon as its last one ends: an engine that batches continuously (llama.cpp,
    vLLM) keeps its batch full instead of waiting at every stage for the slowest design."""
    if not engine.capabilities.continuation:
        raise ValueError(f"engine '{engine.name}' cannot continue a reply from token ids, "
                         "which typed decoding needs; use --decoding grammar")

    async def staged(request: ChatRequest) -> Completion:
        design = _Staged(request, _typed_start(interface))
        ask = request
        while True:
            (stage,) = await engine.generate([ask])
            design.absorb(stage)
            if design.finish is not None:
                return design.completion()
            ask = design.next_request()

    return list(await asyncio.gather(*(staged(request) for request in requests)))


async def sample_designs(engine: Engine, requests: Sequence[ChatRequest], interface: Interface,
                         decoding: Decoding) -> list[Design]:
    """Sample one design per request (built by `design_request`) in batches, and compile."""
    if decoding != "free" and not engine.capabilities.grammar:
        raise ValueError(f"engine '{engine.name}' cannot constrain decoding with a grammar; "
                         "use --decoding free or another engine")
    completions = (await _typed_completions(engine, requests, interface)
                   if decoding == "typed" else await engine.generate(list(requests)))
    return [design_from_completion(completion, interface, decoding)
            for completion in completions]


async def design(engine: Engine, question: str, *, interface: Interface = Interface(),
                 examples: Sequence[str] = (), decoding: Decoding = "typed",
                 samples: int = 1, seed: int = 0, temperature: float = 1.0,
                 top_p: float = 0.9, max_tokens: int = 512) -> list[Design]:
    """Sample `samples` designs for `question` in one batch (typed decoding by default),
    showing the designer the few-shot `examples` (spec texts; the CLI passes baselines)."""
    requests = [design_request(question, interface=interface, examples=examples,
                               decoding=decoding,
                               sampling=Sampling(temperature=temperature, top_p=top_p,
                                                 max_tokens=max_tokens, seed=seed + index))
                for index in range(samples)]
    return await sample_designs(engine, requests, interface, decoding)

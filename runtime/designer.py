"""The designer at inference time: question -> a `.mas` spec -> a compiled system.

The designer model sees a compact language summary, a few hand-written systems from the
baseline library, the task's interface and the question, and writes one spec. Sampling is
constrained by the shipped grammar (`grammar/masdsl.lark`) when the engine supports it, so
every sampled design parses; unconstrained sampling stays available for comparison. The
design is then checked and compiled; a design that fails keeps its diagnostics (the trainer
penalises exactly the offending nodes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import grammar
from compiler.api import CompiledSpec
from compiler.api import compile as compile_spec
from masdsl.diagnostics import Diagnostic, MasError, diagnostic
from masdsl.parser import parse
from masdsl.spans import Span
from runtime.engines.base import ChatRequest, Completion, Engine, Message, Sampling

LANGUAGE_SUMMARY = """\
A spec is `mas NAME { ... }` with declarations and one flow:
  input question: text            output answer: number
  type Verdict = enum { approve, revise }
  agent NAME -> TYPE { role "..." tools [python] temperature 0.7 max_tokens 512 }
Types: text, number, bool, code, list[T], enum { a, b } or a type name.
Flow statements (`x = ...` binds a value; outputs must be bound):
  x = agent(input, label: value)                      one LLM call
  xs = ensemble(agent, n: 3, question)                 samples -> list
  x = vote(xs, strategy: majority)                      majority | weighted | consensus (judge: J)
  x = debate([a, b], judge: j, rounds: 2, question)     debate then judge
  x = reflect(solver, critic: c, rounds: 2, stop: approve, question)
  if flag { ... } else { ... }     match topic { case a { ... } else { ... } }
  loop max 3 until verdict == approve { ... }
  graph max_steps 8 { start a  node a = s(q)  node b = c(a)  edge a -> b  edge b -> end }
Every loop and fan-out is bounded. Reply with the spec only."""


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


def library(names: Sequence[str] | None = None) -> list[str]:
    """Hand-written baseline systems (`benchmarks/systems/*.mas`), used as few-shot examples."""
    folder = resources.files("benchmarks.systems")
    files = sorted((item for item in folder.iterdir() if item.name.endswith(".mas")),
                   key=lambda item: item.name)
    chosen = [item for item in files if names is None or item.name[:-4] in names]
    return [item.read_text(encoding="utf-8") for item in chosen]


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


def design_request(question: str, *, interface: Interface = Interface(),
                   examples: Sequence[str] = (), constrained: bool = True,
                   sampling: Sampling = DESIGN_SAMPLING) -> ChatRequest:
    """The chat request that asks the designer model for one spec."""
    return ChatRequest(messages=designer_messages(question, interface, examples),
                       sampling=sampling,
                       grammar=grammar.decoding_grammar_text(interface.inputs, interface.outputs)
                       if constrained else None)


def design_from_completion(completion: Completion, interface: Interface,
                           constrained: bool) -> Design:
    """Turn the designer's completion into a `Design` (compiled, or with diagnostics)."""
    if completion.finish_reason == "error":
        failure = diagnostic("MAS003", Span.point("", 0),
                             f"the designer produced no spec: {completion.error}")
        return Design(text="", completion=completion, compiled=None, diagnostics=(failure,))
    text, offset = (completion.text, 0) if constrained else extract_spec(completion.text)
    compiled, diagnostics = compile_design(text, interface)
    return Design(text=text, completion=completion, compiled=compiled,
                  diagnostics=tuple(diagnostics), offset=offset)


async def design(engine: Engine, question: str, *, interface: Interface = Interface(),
                 examples: Sequence[str] | None = None, constrained: bool = True,
                 samples: int = 1, seed: int = 0, temperature: float = 1.0,
                 top_p: float = 0.9, max_tokens: int = 512) -> list[Design]:
    """Sample `samples` designs for `question` in one batch. Constrained decoding is used
    when asked for and the engine supports grammars (else a ValueError says so)."""
    if constrained and not engine.capabilities.grammar:
        raise ValueError(f"engine '{engine.name}' cannot constrain decoding with a grammar; "
                         "use --unconstrained or another engine")
    shown = library(("single_agent", "self_consistency", "solver_verifier")) \
        if examples is None else list(examples)
    requests = [design_request(question, interface=interface, examples=shown,
                               constrained=constrained,
                               sampling=Sampling(temperature=temperature, top_p=top_p,
                                                 max_tokens=max_tokens, seed=seed + index))
                for index in range(samples)]
    completions = await engine.generate(requests)
    return [design_from_completion(completion, interface, constrained)
            for completion in completions]

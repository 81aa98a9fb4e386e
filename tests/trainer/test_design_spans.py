"""Spans of real compiled and rejected designs, and the per-node credit they lead to."""

from __future__ import annotations

from compiler.api import compile as compile_spec
from masdsl.diagnostics import MasError
from trainer.credit import designer_token_advantages
from trainer.design_spans import design_sample, node_spans

DEAD = """mas dead_demo {
  input question: text
  output answer: number
  agent solver -> number { role "Solve." }
  agent critic { role "Critique." }
  agent unused { role "Never called." }
  flow {
    notes = critic(question)
    answer = solver(question)
  }
}
"""


def char_tokens(text: str) -> list[tuple[int, int]]:
    """One token per character: makes expected advantages readable by position."""
    return [(i, i + 1) for i in range(len(text))]


def test_unreachable_parts_of_a_compiled_design() -> None:
    compiled = compile_spec(DEAD)
    spans = {(DEAD[n.start:n.end], n.reaches_output) for n in node_spans(compiled)}
    assert spans == {
        ("input question: text", True),
        ("solver(question)", True),
        ("output answer: number", True),
        ('agent unused { role "Never called." }', False),  # never called
        ('agent critic { role "Critique." }', False),  # called only by a dead statement
        ("notes = critic(question)", False),  # its result reaches no output
    }
    assert [(region.kind, region.name) for region in compiled.dead_regions] == [
        ("agent", "critic"), ("agent", "unused"), ("statement", "notes")]


def test_per_node_credit_on_a_compiled_design() -> None:
    compiled = compile_spec(DEAD)
    sample = design_sample("q", 0, DEAD, char_tokens(DEAD), 0, compiled, compiled.diagnostics)
    advantages = designer_token_advantages(sample, 0.5)
    dead_statement = DEAD.index("notes = critic(question)")  # 24 characters
    unused = DEAD.index('agent unused { role "Never called." }')  # 37 characters
    critic = DEAD.index('agent critic { role "Critique." }')  # 33 characters
    zeros = {i for i, a in enumerate(advantages) if a == 0.0}
    assert zeros == set(range(dead_statement, dead_statement + 24)) | set(
        range(unused, unused + 37)) | set(range(critic, critic + 33))
    assert advantages[DEAD.index("answer = solver")] == 0.5


def test_rejected_design_blames_the_error_location_in_the_completion() -> None:
    broken = DEAD.replace("solver(question)", "solvr(question)")
    completion = "Here is my system:\n```mas\n" + broken + "```\n"
    offset = completion.index("mas dead_demo")
    try:
        compile_spec(broken)
    except MasError as error:
        diagnostics = error.diagnostics
    else:
        raise AssertionError("the broken spec compiled")
    assert [d.code for d in diagnostics if d.is_error] == ["MAS101"]
    sample = design_sample("q", 1, completion, char_tokens(completion), offset, None,
                           diagnostics)
    assert not sample.compile_ok and sample.nodes == ()
    advantages = designer_token_advantages(sample, -1.0)
    blamed = [i for i, a in enumerate(advantages) if a == -1.0]
    assert "".join(completion[i] for i in blamed) == "solvr"

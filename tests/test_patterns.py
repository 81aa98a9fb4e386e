"""The one builtin-pattern registry (`masdsl.patterns.BUILTINS`): every consumer covers it."""

from __future__ import annotations

import re

import pytest

from compiler.api import compile as compile_spec
from compiler.lower_builtins import PATTERN_LOWERINGS
from masdsl.checker.calls import PATTERN_CHECKS
from masdsl.checker.context import RESERVED
from masdsl.patterns import BUILTINS
from masdsl.typed_grammar import DesignState, _forms
from runtime.designer import LANGUAGE_SUMMARY
from trainer.metrics import CONSTRUCTS, constructs_of

USES = {
    "ensemble": "xs = ensemble(solver, n: 2, question)\n    answer = vote(xs)",
    "vote": "xs = ensemble(solver, n: 2, question)\n    answer = vote(xs)",
    "debate": "answer = debate([solver, critic], judge: solver, rounds: 1, question)",
    "reflect": "answer = reflect(solver, critic: critic, rounds: 1, question)",
    "format": 'p = format("Solve {q}", q: question)\n    answer = solver(p)',
    "append": "loop max 2 {\n      xs = append(xs, solver(question))\n    }\n"
              "    answer = solver(question, xs)",
    "reply": "x = solver(question)\n    answer = solver(question, why: reply(x))",
    "rounds": "loop max 2 {\n      x = solver(question, x)\n    }\n"
              "    answer = solver(question, rounds(x))",
    "head": "xs = ensemble(solver, n: 2, question)\n    answer = head(xs)",
    "rest": "xs = ensemble(solver, n: 2, question)\n    answer = solver(question, rest(xs))",
    "len": "xs = ensemble(solver, n: 2, question)\n    answer = len(xs)",
    "map": "xs = ensemble(solver, n: 2, question)\n    ys = map(critic, xs, question)\n"
           "    answer = vote(ys)",
    "run_tests": 'r = run_tests(question, ["assert True"])\n'
                 "    answer = solver(question, r.report)",
}


def spec(flow: str) -> str:
    return ("mas uses {\n  input question: text\n  output answer: number\n"
            '  agent solver -> number { role "Solve it." }\n'
            '  agent critic -> number { role "Check it." }\n'
            f"  flow {{\n    {flow}\n  }}\n}}\n")


def test_every_consumer_covers_exactly_the_registry() -> None:
    names = set(BUILTINS)
    assert set(PATTERN_CHECKS) == names == set(PATTERN_LOWERINGS) == set(USES)
    assert names <= RESERVED
    for builtin in BUILTINS.values():
        assert builtin.summary and builtin.summary in LANGUAGE_SUMMARY
        assert builtin.construct in CONSTRUCTS and builtin.node_kinds


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_lowering_creates_the_node_kinds_the_registry_lists(name: str) -> None:
    compiled = compile_spec(spec(USES[name]))
    kinds = {node.kind for node in compiled.ir.nodes()}
    assert set(BUILTINS[name].node_kinds) & kinds
    assert BUILTINS[name].construct in constructs_of(compiled.ir)


def test_typed_decoding_writes_every_typed_form_of_the_registry() -> None:
    state = DesignState(inputs=(("question", "text"),), outputs=(("answer", "number"),),
                        agents=(("solver", "number"), ("critic", "number")),
                        values=(("drafts", "list[number]"), ("draft", "number"),
                                ("picked", "list[number]"), ("prog", "code")),
                        lengths=(("picked", 3),), rounds=(("draft", 3),))
    forms = _forms(state, None)
    slots = {"agent": "solver", "critic": "critic", "first": "solver", "second": "critic",
             "list": "drafts", "produced": "draft", "rounded": "draft", "long": "drafts",
             "anylist": "drafts", "sized": "picked", "unsized": "drafts",
             "program": "prog", "tests": "question"}
    unfilled = re.compile(r"\{(" + "|".join([*slots, "peer", "item", "value", "type"]) + r")\}")
    for builtin in BUILTINS.values():
        for typed_form in builtin.typed_forms:
            prefix = typed_form.prefix.format(**slots)
            result = typed_form.result.format(type="number")
            written = [form for form in forms if form.prefix == prefix and form.result == result]
            assert written, (builtin.name, typed_form)
            assert not any(unfilled.search(form.rest) for form in written)
    assert all(form.result == "number" for form in _forms(state, "number"))

"""The checker's API: what `analyze` resolves for the compiler, options, robustness."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from masdsl import ast
from masdsl.checker import BUILTINS, Analysis, analyze, check
from masdsl.checker.context import RESERVED
from masdsl.diagnostics import MasError
from masdsl.limits import Limits
from masdsl.parser import parse
from masdsl.patterns import VOTE_STRATEGY_PARAMS, ValueKind
from masdsl.spans import Span
from masdsl.types import BOOL, NUMBER, TEXT, Enum, List

VALID = Path(__file__).parent / "fixtures" / "valid"


def analysis_of(text: str, **options: object) -> Analysis:
    return analyze(parse(text), **options)  # type: ignore[arg-type]


def test_analysis_resolves_aliases_agents_bindings_and_expressions() -> None:
    program = parse((VALID / "reflect_vote.mas").read_text())
    result = analyze(program)
    assert result.ok and result.diagnostics == ()
    verdict = Enum(members=("approve", "revise"), name="Verdict")
    assert result.type_aliases == {"Verdict": verdict}
    assert result.agents["critic"].output == verdict
    solver = result.agents["solver"]
    assert (solver.tools, solver.max_tool_turns, solver.temperature, solver.model) == \
        (("python",), 3, 0.8, "executor")
    assert result.bindings["drafts"] == List(element=NUMBER)
    assert result.bindings["question"] == TEXT
    first = program.flows[0].body.statements[0]
    assert isinstance(first, ast.Assign)
    drafts_call = first.value
    assert result.type_of(drafts_call) == List(element=NUMBER)
    assert result.static_lengths[(drafts_call.span.start, drafts_call.span.end, "call")] == 3


def test_agent_defaults_are_applied() -> None:
    result = analysis_of('mas s { input q: text output o: text agent a { role "r" } '
                         'agent t { role "r" tools [calculator] } flow { o = a(t(q)) } }')
    plain, tooled = result.agents["a"], result.agents["t"]
    assert (plain.output, plain.max_tool_turns, plain.max_tokens, plain.retries,
            plain.top_p, plain.model) == (TEXT, 0, 512, 2, 1.0, "executor")
    assert tooled.max_tool_turns == 3


def test_every_literal_and_reference_gets_a_type() -> None:
    text = ('mas s { input q: text output o: text agent a { role "r" } '
            'flow { o = a(q, n: 1, flag: true, note: "x") } }')
    program = parse(text)
    result = analyze(program)
    kinds = sorted((kind, value.render()) for (_, _, kind), value in
                   result.expression_types.items())
    assert kinds == [("bool", "bool"), ("call", "text"), ("number", "number"),
                     ("ref", "text"), ("string", "text")]


def test_an_undefined_name_gives_one_diagnostic_and_no_cascade() -> None:
    found = check(parse('mas s { input q: text output o: number agent a -> number '
                        '{ role "r" } flow { x = vote(missing, strategy: majority) '
                        'o = a(q, x) } }'))
    assert [(d.code, d.message) for d in found] == [("MAS101", "undefined name 'missing'")]


def test_all_errors_are_collected_in_source_order() -> None:
    found = check(parse('mas s { input q: text output o: text agent a { role "r" } '
                        'flow { x = b(q) y = c(q) o = a(x, y) } }'))
    assert [d.code for d in found] == ["MAS101", "MAS101"]
    assert found[0].span.start < found[1].span.start


def test_user_registered_tools_and_tighter_limits() -> None:
    text = ('mas s { input q: text output o: text agent a { role "r" tools [search] } '
            'flow { o = vote(ensemble(a, n: 5, q)) } }')
    assert [d.code for d in check(parse(text))] == ["MAS103"]
    tools = frozenset({"search"})
    assert check(parse(text), tools=tools) == []
    assert [d.code for d in check(parse(text), limits=Limits(max_fanout=4), tools=tools)] \
        == ["MAS403"]


def test_programs_deeper_than_any_parse_stop_at_max_depth() -> None:
    span = Span(start=0, end=1, line=1, column=1, end_line=1, end_column=2)
    expr: ast.Expr = ast.Ref(span=span, name="q")
    for _ in range(5000):
        expr = ast.Call.model_construct(span=span, callee=ast.Name(span=span, value="a"),
                                        args=(ast.Arg(span=span, keyword=None, value=expr),),
                                        kind="call")
    flow = ast.Flow.model_construct(span=span, kind="flow", body=ast.Block.model_construct(
        span=span, kind="block", statements=(ast.Assign.model_construct(
            span=span, kind="assign", target=ast.Name(span=span, value="o"), value=expr),)))
    base = parse('mas s { input q: text output o: text agent a { role "r" } }')
    program = base.model_copy(update={"items": (*base.items, flow)})
    codes = [d.code for d in check(program, limits=Limits(max_depth=200))]
    assert codes == ["MAS406"]


def test_limits_reject_inverted_ranges_and_unsafe_depths() -> None:
    with pytest.raises(ValueError):
        Limits(min_temperature=3.0)
    with pytest.raises(ValueError):
        Limits(max_depth=10_000)


def test_builtin_table_is_consistent() -> None:
    assert set(BUILTINS) <= RESERVED
    for builtin in BUILTINS.values():
        names = [param.name for param in builtin.params]
        assert len(names) == len(set(names)), builtin.name
        for param in builtin.params:
            if param.kind is ValueKind.INTEGER:
                assert param.limit is not None and hasattr(Limits(), param.limit)
    assert [name for name, builtin in BUILTINS.items() if builtin.subject.takes_agents] == \
        ["ensemble", "debate", "reflect", "map"]
    vote = BUILTINS["vote"]
    strategy = vote.param("strategy")
    assert strategy is not None and set(strategy.choices) == set(VOTE_STRATEGY_PARAMS)
    for allowed, required in VOTE_STRATEGY_PARAMS.values():
        assert required <= allowed and all(vote.param(name) for name in allowed)


def test_loop_carried_and_graph_forward_references_are_typed() -> None:
    result = analyze(parse((VALID / "loops_graphs.mas").read_text()))
    assert result.ok
    assert result.bindings["review"] == Enum(members=("pass", "fail"))
    assert result.bindings["verdict"].render() == "Verdict"


def test_bool_critic_stop_and_conditions() -> None:
    text = ('mas s { input q: text output o: text agent a { role "r" } '
            'agent c -> bool { role "ok?" } flow { ok = c(q) '
            'o = reflect(a, critic: c, rounds: 2, stop: false, q) '
            'if ok == true { o = a(q) } } }')
    result = analysis_of(text)
    assert result.diagnostics == ()
    assert result.bindings["ok"] == BOOL


def _mutations(text: str, rng: random.Random) -> list[str]:
    """Variants of a valid spec with one word or number swapped for another of the spec."""
    words = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?", text)))
    spans = [match.span() for match in re.finditer(r"[A-Za-z_][A-Za-z0-9_]*|\d+", text)]
    variants = []
    for _ in range(60):
        start, end = rng.choice(spans)
        variants.append(text[:start] + rng.choice(words) + text[end:])
    return variants


@pytest.mark.parametrize("path", sorted(VALID.glob("*.mas")), ids=lambda path: path.stem)
def test_checker_never_raises_on_mutated_specs(path: Path) -> None:
    rng = random.Random(path.stem)
    checked = 0
    for variant in _mutations(path.read_text(), rng):
        try:
            program = parse(variant)
        except MasError:
            continue
        result = analyze(program)
        checked += 1
        assert all(d.help for d in result.diagnostics)
    assert checked > 10


def test_deeply_nested_blocks_report_mas406_once_per_cut_and_never_raise() -> None:
    depth = 120
    body = "o = a(q)"
    for _ in range(depth):
        body = f"if flag {{ {body} }} else {{ o = a(q) }}"
    text = (f'mas s {{ input q: text input flag: bool output o: text agent a {{ role "r" }} '
            f"flow {{ {body} }} }}")
    found = check(parse(text))
    assert [d.code for d in found] == ["MAS406"]
    assert found[0].span.end - found[0].span.start == 1


def test_a_condition_in_a_loop_cannot_read_a_value_bound_later_in_the_body() -> None:
    """The checker rejects what lowering could not lower (MAS107), instead of accepting it."""
    source = ("mas loopif {\n  input question: text\n  output answer: number\n"
              '  agent solver -> number { role "Solve." }\n'
              '  agent checker -> bool { role "Check." }\n'
              "  flow {\n    answer = solver(question)\n    loop max 3 {\n"
              "      if ok { answer = solver(question, answer) }\n"
              "      ok = checker(answer)\n    }\n  }\n}\n")
    found = [(d.code, source[d.span.start:d.span.end]) for d in check(parse(source))
             if d.is_error]
    assert found == [("MAS107", "ok")]

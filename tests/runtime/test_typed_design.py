"""Typed design decoding: staged grammars, so every sampled design type-checks."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from masdsl import typed_grammar as typed
from masdsl.design_mix import construct_mix
from masdsl.formatter import format_source
from masdsl.typed_flow import _forms, expression_rules, form_type
from runtime.designer import (
    TYPED_AGENT_RESERVE,
    TYPED_MAX_AGENTS,
    TYPED_OUTPUT_RESERVE,
    TYPED_VALUE_RESERVE,
    Design,
    Interface,
    design,
    design_request,
    sample_designs,
)
from runtime.engines.base import Capabilities, ChatRequest, Completion, Sampling
from runtime.engines.embedded import embedded_gguf_path
from runtime.engines.llama_native import ContextSettings, LlamaModel
from tests.runtime.grammar_walk_engine import GrammarWalkEngine

INTERFACES = [
    Interface(),
    Interface(outputs=(("answer", "code"),)),
    Interface(outputs=(("answer", "list[number]"),)),
    Interface(inputs=(("question", "text"), ("context", "text")),
              outputs=(("answer", "number"), ("reason", "text"))),
]


@pytest.fixture(scope="module")
def vocabulary_model() -> Iterator[LlamaModel]:
    model = LlamaModel(embedded_gguf_path(),
                       ContextSettings(sequence_context=64, max_sequences=1, threads=1))
    yield model
    model.close()


def walk_designs(engine: GrammarWalkEngine, interface: Interface, count: int,
                 max_tokens: int = 4000) -> list[Design]:
    """`count` designs walked through the stage grammars; each must compile against the
    interface, be laid out as `masc fmt` prints it, and end by itself."""
    requests = [design_request("q", interface=interface,
                               sampling=Sampling(max_tokens=max_tokens, seed=index))
                for index in range(count)]
    designs = asyncio.run(sample_designs(engine, requests, interface, "typed"))
    for result in designs:
        assert result.ok, (result.text, [f"{d.code} {d.message}" for d in result.diagnostics])
        # one statement per line: typed designs do not wrap long calls as `masc fmt` does
        assert format_source(result.text, line_width=10_000) == result.text
        assert result.completion.finish_reason == "stop"
    return designs


@pytest.mark.parametrize("interface", INTERFACES, ids=["number", "code", "list", "two-in-two-out"])
def test_every_design_the_stage_grammars_admit_compiles(vocabulary_model: LlamaModel,
                                                        interface: Interface) -> None:
    """A random walk over the stage grammars (no model: any admitted token is as likely as
    any other) gives designs that compile against the interface and are laid out as
    `masc fmt` prints them."""
    engine = GrammarWalkEngine(vocabulary_model, seed=len(interface.outputs))
    designs = walk_designs(engine, interface, 12)
    assert max(d.text.count("\n  agent ") for d in designs) > 1  # multi-agent designs too
    constructs = " ".join(d.text for d in designs)
    assert all(word in constructs for word in ("vote(ensemble(", "reflect(", "debate(["))


# A uniform walk almost never spells a keyword where thousands of name tokens may also
# come, so each group of walks favours the keywords that open its constructs, and must
# reach them within a few batches (the construct mix is read from the compiled designs'
# syntax trees). Each group has its interface; walks are deterministic per seed.
FAVOURED: dict[str, tuple[frozenset[str], frozenset[str], int]] = {
    "builtins": (frozenset({" ["}),
                 frozenset({"ensemble", "vote", "vote judge", "vote tiebreak",
                            "vote show: replies", "reflect", "reflect critics", "debate",
                            "format"}), 0),
    "conditions": (frozenset({" if", " {", "."}),
                   frozenset({"if", "if/else", "comparison", "and/or/not", "record agent",
                              "field access"}), 1),
    "graphs": (frozenset({" graph", " when"}), frozenset({"graph"}), 2),
    "loops": (frozenset({" loop", " until", " if", " append"}),
              frozenset({"loop", "loop until", "append"}), 3),
    "routers": (frozenset({" enum", " match"}), frozenset({"match", "enum agent", "default"}),
                0),
    "lists": (frozenset({" map", " head", " len", " rest", "[", " reply", " memory"}),
              frozenset({"map", "head", "len", "rest", "index", "reply", "memory"}), 2),
    "rounds": (frozenset({" loop", " graph", " rounds", " ensemble", " reflect"}),
               frozenset({"rounds", "ensemble of flow"}), 3),
    "tests": (frozenset({" run", "_tests", " code"}), frozenset({"run_tests"}), 1),
}
BATCHES = 4


@pytest.mark.parametrize("group", sorted(FAVOURED))
def test_every_construct_the_stage_grammars_write_compiles(vocabulary_model: LlamaModel,
                                                           group: str) -> None:
    """Walks that favour the keywords of `if`, `loop`, `match`, `graph`, enum and record
    agents reach those constructs, and every design still compiles and is canonical."""
    favour, expected, interface = FAVOURED[group]
    mix: Counter[str] = Counter()
    for batch in range(BATCHES):
        engine = GrammarWalkEngine(vocabulary_model, seed=17 + batch, favour=favour,
                                   favour_rate=0.5)
        designs = walk_designs(engine, INTERFACES[interface], 12)
        mix += construct_mix(d.compiled.program for d in designs if d.compiled is not None)
        if expected <= set(mix):
            break
    assert expected <= set(mix), sorted(mix.items())


class StageScript:
    """Test double: answers the i-th request with the i-th scripted stage text."""

    name = "stage-script"
    capabilities = Capabilities(batching=True, logprobs=True, grammar=True, token_ids=True,
                                max_context=1 << 20, continuation=True)

    def __init__(self, stages: list[tuple[str, str]]) -> None:
        self.stages = iter(stages)
        self.requests: list[ChatRequest] = []

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        self.requests += requests
        completions = []
        for request in requests:
            text, finish = next(self.stages)
            tokens = tuple(range(100 + len(request.continue_from),
                                 100 + len(request.continue_from) + len(text.split())))
            completions.append(Completion(text, (1, 2, *request.continue_from), tokens,
                                          tuple(-0.5 for _ in tokens), finish))  # type: ignore[arg-type]
        return completions

    async def close(self) -> None:
        return None


HEAD = ('mas tiny {\n  input question: text\n  output answer: number\n\n  agent solver -> number'
        ' {\n    role "Solve it."\n  }')


def test_stages_continue_the_reply_and_know_what_is_declared() -> None:
    engine = StageScript([
        (HEAD, "stop"),
        ('\n\n  agent critic -> text {\n    role "Check it."\n  }', "stop"),
        ("\n\n  flow {\n    draft = solver(question)", "stop"),
        ("\n    answer = reflect(solver, critic: critic, rounds: 2, question, draft)"
         "\n  }\n}\n", "stop"),
    ])
    [result] = asyncio.run(design(engine, "q", max_tokens=400))
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics]
    _, second, third, fourth = engine.requests
    # each stage is fed every earlier token, unchanged, with the remaining token budget
    assert second.continue_from == result.completion.token_ids[:len(second.continue_from)]
    assert len(fourth.continue_from) > len(third.continue_from) > len(second.continue_from) > 0
    assert fourth.sampling.max_tokens == 400 - len(fourth.continue_from)
    assert len({r.sampling.seed for r in engine.requests}) == 4
    # the grammars know the declarations: fresh names exclude them, calls use them
    assert '"solver"' in second.grammar.split("NEW_AGENT:")[1]  # type: ignore[union-attr]
    assert '"critic"' in third.grammar.split("NEW_VALUE:")[1]  # type: ignore[union-attr]
    assert '"question, draft"' in fourth.grammar  # type: ignore[operator]
    assert '"draft"' in fourth.grammar.split("NEW_VALUE:")[1]  # type: ignore[union-attr]
    # one completion for the trainer: the first prompt, all stages' tokens in order
    assert result.completion.prompt_token_ids == (1, 2)
    assert result.completion.text == result.text and result.text.endswith("}\n}\n")
    assert len(result.completion.logprobs) == len(result.completion.token_ids)


def test_a_stage_cut_short_ends_the_design_with_its_diagnostics() -> None:
    engine = StageScript([(HEAD[:HEAD.index("  output")], "length")])
    [result] = asyncio.run(design(engine, "q"))
    assert not result.ok and result.completion.finish_reason == "length"
    assert {d.code for d in result.diagnostics} == {"MAS004"}
    assert len(engine.requests) == 1


def test_stage_grammars_bound_agents_and_values() -> None:
    state = typed.DesignState(inputs=(("question", "text"),), outputs=(("answer", "code"),),
                              reserved=frozenset({"vote"}))
    head = typed.head_grammar(state)
    assert '" -> " "code"' in head  # the first agent returns the output's type
    assert '~("answer" | "question" | "vote")' in head
    full = typed.DesignState(state.inputs, state.outputs,
                             agents=(("coder", "code"),) * TYPED_MAX_AGENTS)
    last = typed.declaration_grammar(full, more_agents=False, more_statements=False)
    assert "agent" not in last.split("\n")[0] and "NEW_VALUE" not in last
    missing = typed.DesignState(state.inputs, state.outputs, agents=(("critic", "text"),))
    with pytest.raises(ValueError, match="output type has no agent"):
        typed.declaration_grammar(missing, more_agents=False, more_statements=True)
    forced = typed.declaration_grammar(missing, more_agents=True, more_statements=True)
    assert forced.split("\n")[0] == 'start: "\\n\\n  agent " agent' and '"code"' in forced


@pytest.mark.slow
def test_the_embedded_model_writes_designs_that_compile() -> None:
    from runtime.engines.llamacpp import LlamaCppEngine

    engine = LlamaCppEngine(settings=ContextSettings(sequence_context=2048, max_sequences=4,
                                                     threads=1))
    designs = asyncio.run(design(engine, "Tom has 3 apples and buys 5 more. How many?",
                                 samples=4, max_tokens=300))
    assert all(result.ok for result in designs), [result.text for result in designs]


def test_a_stage_the_grammar_would_not_admit_ends_the_design() -> None:
    """An engine that ignores the grammar cannot make the designer loop or crash."""
    for stray in ("\n\nsomething else", "\n\n  flow {\n    x = nobody(question)"):
        engine = StageScript([(HEAD, "stop"), (stray, "stop")])
        [result] = asyncio.run(design(engine, "q"))
        assert not result.ok and result.diagnostics
        assert len(engine.requests) == 2


def test_a_design_near_its_token_budget_is_steered_to_the_end() -> None:
    """With few tokens left, the next stage offers no further agent or binding."""
    engine = StageScript([(HEAD, "stop"), ("\n\n  flow {\n    answer = solver(question)"
                                           "\n  }\n}\n", "stop")])
    budget = len(HEAD.split()) + TYPED_AGENT_RESERVE - 1  # the script's tokens are words
    [result] = asyncio.run(design(engine, "q", max_tokens=budget))
    assert result.ok
    second = engine.requests[1].grammar or ""
    assert "agent" not in second.split("\n")[0] and "NEW_VALUE" in second
    roomy = StageScript([(HEAD, "stop"), ("\n\n  flow {\n    answer = solver(question)"
                                          "\n  }\n}\n", "stop")])
    asyncio.run(design(roomy, "q", max_tokens=400))
    assert '"\\n\\n  agent " agent' in (roomy.requests[1].grammar or "").split("\n")[0]
    # each unbound output keeps tokens for the binding the end forces: no new value first
    unbound = StageScript([(HEAD, "stop"), ("\n\n  flow {\n    answer = solver(question)"
                                            "\n  }\n}\n", "stop")])
    budget = len(HEAD.split()) + TYPED_VALUE_RESERVE + TYPED_OUTPUT_RESERVE - 1
    asyncio.run(design(unbound, "q", max_tokens=budget))
    assert "NEW_VALUE" not in (unbound.requests[1].grammar or "")
    assert '"answer = "' in (unbound.requests[1].grammar or "")


def test_a_router_is_written_stage_by_stage() -> None:
    """An enum agent is declared member by member, a match covers its members (or has an
    `else`), and the stage grammars follow the blocks: the next case offers only members
    no case named yet, a name bound in every arm is readable after the match."""
    engine = StageScript([
        (HEAD, "stop"),
        ("\n\n  agent kind -> enum {", "stop"),
        (" algebra,", "stop"),
        (" geometry,", "stop"),
        (' other } {\n    role "Classify the question."\n    default algebra\n  }', "stop"),
        ("\n\n  flow {\n    route = kind(question)", "stop"),
        ("\n    match route {\n      case geometry {", "stop"),
        ("\n        answer = solver(question)", "stop"),
        ("\n      }\n      else {", "stop"),
        ("\n        answer = reflect(solver, critic: kind, rounds: 1, question, route)", "stop"),
        ("\n      }\n    }\n    if answer > 3 and route != other {", "stop"),
        ("\n      answer = solver(question, answer)", "stop"),
        ("\n    }\n  }\n}\n", "stop"),
    ])
    [result] = asyncio.run(design(engine, "q", max_tokens=2000))
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics]
    grammars = [request.grammar or "" for request in engine.requests][1:]
    assert '"enum {"' in grammars[0]
    # members are fresh (not the agent's name), one per stage, at least two
    assert '"kind"' in grammars[1].split("NEW_MEMBER:")[1]
    assert grammars[1].startswith('start: " " NEW_MEMBER ","\n')
    member = grammars[2].split("NEW_MEMBER:")[1]
    assert '"algebra"' in member and '"kind"' in member
    assert 'default_field: "    default " ("algebra" | "geometry")' in grammars[3]
    assert '"match route {"' in grammars[5] and '"algebra" | "geometry" | "other"' in grammars[5]
    # inside the first case: after a statement, close it, then another case or else
    case_choices = grammars[7]
    assert '"case " ("algebra" | "other")' in case_choices and '"else {"' in case_choices
    assert '"geometry"' not in case_choices.split('"case "')[1].split("\n")[0]
    # after the match, `answer` (bound in every arm) is readable, so it may be tested
    assert '"answer" (" == "' in grammars[9]
    assert '"\\n  }\\n}\\n"' in grammars[9]  # every output bound: the design may end


def flow_state(values: tuple[tuple[str, str], ...] = ()) -> typed.DesignState:
    return typed.DesignState(inputs=(("question", "text"),), outputs=(("answer", "number"),),
                             agents=(("solver", "number"), ("check", "bool")), values=values,
                             names=frozenset(name for name, _ in values), flow=True)


def test_a_name_bound_in_one_branch_only_is_not_read_after_it() -> None:
    state = typed.absorb(flow_state((("ok", "bool"),)), "\n    if ok {\n      x = solver(question)")
    assert state is not None and ("x", "number") in state.values
    after = typed.absorb(state, "\n    }\n    y = solver(question)")
    assert after is not None and [name for name, _ in after.values] == ["ok", "y"]
    grammar = typed.statement_grammar(after, more_statements=True)
    assert '"question, x"' not in grammar and '"question, y"' in grammar
    assert '"x"' in grammar.split("NEW_VALUE:")[1]  # still taken: never bound again
    # an output bound in both branches is bound after the if/else: the design may end
    both = typed.absorb(flow_state((("ok", "bool"),)),
                        "\n    if ok {\n      answer = solver(question)")
    both = typed.absorb(both, "\n    } else {")  # type: ignore[arg-type]
    assert both is not None and both.values == (("ok", "bool"),)
    both = typed.absorb(both, "\n      answer = solver(question, ok)")
    assert both is not None
    closed = typed.absorb(both, "\n    }\n    z = solver(question, answer)")
    assert closed is not None and ("answer", "number") in closed.values
    assert not closed.unbound_outputs()


def test_a_loop_binds_what_its_body_binds_and_reads_its_condition_from_the_scope() -> None:
    state = flow_state((("draft", "number"), ("ok", "bool")))
    grammar = typed.statement_grammar(state, more_statements=True)
    assert '"loop max " LOOP_MAX (" until " cond_' in grammar
    inside = typed.absorb(state, "\n    loop max 3 until ok {\n      ok = check(question, draft)")
    assert inside is not None and len(inside.blocks) == 1
    after = typed.absorb(inside, "\n      fresh = solver(question)\n    }\n    answer = "
                                 "solver(question, fresh)")
    assert after is not None and not after.blocks
    assert [name for name, _ in after.values] == ["draft", "ok", "fresh", "answer"]


def test_near_the_budget_open_blocks_only_close_and_the_outputs_get_bound() -> None:
    state = typed.absorb(flow_state((("ok", "bool"),)), "\n    if ok {\n      x = solver(question)")
    assert state is not None
    tight = typed.statement_grammar(state, more_statements=False)
    start = tight.split("\n")[0]
    assert "NEW_VALUE" not in tight and '"if "' not in tight and '"loop max "' not in tight
    assert '"\\n    }"' in tight and '"\\n    } else {"' in tight
    # closing the `if` reaches the top level, where only the unbound output may follow
    assert '"answer = "' in tight and '"\\n  }\\n}\\n"' not in tight and start
    # an empty block must get one statement before it closes, even near the budget
    empty = typed.absorb(flow_state((("ok", "bool"),)), "\n    if ok {")
    assert empty is not None
    forced = typed.statement_grammar(empty, more_statements=False)
    assert '"\\n    }"' not in forced and "NEW_VALUE" in forced


def test_a_graph_is_written_nodes_first_then_its_wiring() -> None:
    state = flow_state((("ok", "bool"),))
    grammar = typed.statement_grammar(state, more_statements=True)
    assert '"graph max_steps " MAX_STEPS " {" "\\n      node " NEW_VALUE' in grammar
    inside = typed.absorb(state, "\n    graph max_steps 6 {\n      node a = solver(question)")
    assert inside is not None and inside.blocks[-1].nodes == ("a",)
    wiring = typed.statement_grammar(inside, more_statements=True)
    assert '"\\n      start " "a"' in wiring and '("a" | "end")' in wiring
    after = typed.absorb(inside, "\n      node b = check(question, a)\n      start a\n"
                                 "      edge a -> b\n      edge b -> end when b\n"
                                 "      edge b -> a\n    }\n    answer = solver(question, a)")
    assert after is not None and not after.blocks
    assert {"a", "b", "answer"} <= {name for name, _ in after.values}


def test_rounds_is_offered_only_after_a_finished_top_level_loop() -> None:
    state = flow_state((("ok", "bool"),))
    inside = typed.absorb(state, "\n    loop max 2 {\n      d = solver(question)")
    assert inside is not None and not inside.rounds  # not inside the loop
    after = typed.absorb(inside, "\n    }\n    e = solver(question)")
    assert after is not None and dict(after.rounds) == {"d": 2}
    grammar = typed.statement_grammar(after, more_statements=True)
    assert '"rounds(d)"' in grammar and '"rounds(e)"' not in grammar
    # a loop inside an `if` leaves no rounds after it (the checker's MAS140)
    nested = typed.absorb(state, "\n    if ok {\n      loop max 2 {\n        d = solver(question)"
                                 "\n      }\n    }\n    e = solver(question)")
    assert nested is not None and not nested.rounds
    assert "rounds(" not in typed.statement_grammar(nested, more_statements=True)


def test_a_map_says_max_only_over_a_list_of_unknown_length() -> None:
    state = typed.DesignState(inputs=(("items", "list[text]"),), outputs=(("answer", "number"),),
                              agents=(("solver", "number"),), flow=True)
    grammar = typed.statement_grammar(state, more_statements=True)
    assert '"map(solver, items, max: " FANOUT' in grammar
    sized = typed.absorb(state, "\n    drafts = ensemble(solver, n: 3, items)")
    assert sized is not None and sized.length("drafts") == 3
    grammar = typed.statement_grammar(sized, more_statements=True)
    assert '"map(solver, drafts" (", "' in grammar and '"map(solver, drafts, max: "' not in grammar
    mapped = typed.absorb(sized, "\n    ys = map(solver, drafts)\n    zs = rest(ys)")
    assert mapped is not None and mapped.length("ys") == 3 and mapped.length("zs") == 2
    # a rebinding that changes the length makes it unknown, as in the checker
    changed = typed.absorb(mapped, "\n    zs = ensemble(solver, n: 4, items)")
    assert changed is not None and changed.length("zs") is None


DESIGNS_WITH_NEWER_CONSTRUCTS = [
    [('\n\n  agent coder -> code {\n    role "Write a program."\n    memory 2\n  }',
      "memory_field"),
     ("\n\n  flow {\n    drafts = ensemble(reflect(solver, critic: coder, rounds: 1, "
      "question), n: 3)", '"ensemble(reflect(solver, critic: coder, rounds: "'),
     ("\n    checked = map(solver, drafts, question)", '"map(solver, drafts"'),
     ("\n    why = reply(checked)", '"reply(checked)"'),
     ("\n    answer = head(checked)\n  }\n}\n", '"head(checked)"')],
    [('\n\n  agent coder -> code {\n    role "Write a program."\n  }', "NEW_AGENT"),
     ("\n\n  flow {\n    loop max 2 {", '"loop max "'),
     ("\n      program = coder(question)", '"coder("'),
     ("\n    }\n    programs = rounds(program)", '"rounds(program)"'),
     ("\n    last = programs[-1]", '"programs[-1]"'),
     ("\n    report = run_tests(last, question)", '"run_tests(last, question)"'),
     ("\n    answer = len(programs)\n  }\n}\n", '"len(programs)"')],
]


@pytest.mark.parametrize("stages", DESIGNS_WITH_NEWER_CONSTRUCTS, ids=["lists", "rounds"])
def test_the_newer_constructs_are_written_stage_by_stage_and_compile(
        stages: list[tuple[str, str]]) -> None:
    """memory, an ensemble of a reflect flow, map, reply, head (first design); rounds,
    indexing, run_tests, len (second): each stage's grammar offers what the next stage
    writes, and the design compiles and is canonical."""
    engine = StageScript([(HEAD, "stop"), *((text, "stop") for text, _ in stages)])
    [result] = asyncio.run(design(engine, "q", max_tokens=4000))
    assert result.ok, [f"{d.code} {d.message}" for d in result.diagnostics]
    assert format_source(result.text, line_width=10_000) == result.text
    for request, (_, offered) in zip(engine.requests[1:], stages, strict=True):
        assert offered in (request.grammar or ""), offered


def test_a_graph_node_is_not_the_list_of_a_step_without_an_llm_call() -> None:
    """A node may not have run when a later node reads it; `len`/`head`/`map` of it would
    not lower (MAS107), so inside the graph they read only values bound before it."""
    state = typed.DesignState(inputs=(("question", "text"),),
                              outputs=(("answer", "list[number]"),),
                              agents=(("solver", "list[number]"), ("one", "number")), flow=True)
    inside = typed.absorb(state, "\n    xs = solver(question)\n    graph max_steps 4 {"
                                 "\n      node ys = solver(question)")
    assert inside is not None
    rules = "\n".join(expression_rules(inside, "node_expr", None))  # a node's expressions
    assert '"len(xs)"' in rules and '"map(one, xs, max: "' in rules
    assert '"len(ys)"' not in rules and "map(one, ys" not in rules and '"head(ys)"' not in rules
    # after the graph the node has run or is absent, as any value: it is a list again
    after = typed.absorb(inside, "\n      start ys\n      edge ys -> end\n    }"
                                 "\n    n = one(question)")
    assert after is not None and '"len(ys)"' in typed.statement_grammar(after, True)


def test_reply_of_a_list_is_a_list_of_texts() -> None:
    """`reply(x)` is text, except for a list (one text per item): a value of a list output
    type (a vote over list answers) is written as `reply(x)` of type list[text] only."""
    start = typed.DesignState(inputs=(("question", "text"),),
                              outputs=(("answer", "list[number]"),),
                              agents=(("solver", "list[number]"),), flow=True)
    state = typed.absorb(start, "\n    best = vote(ensemble(solver, n: 3, question), "
                                "strategy: majority)")
    assert state is not None and ("best", "list[number]") in state.values
    assert form_type(state, "reply(best)") == "list[text]"
    assert [form.result for form in _forms(state, None) if form.prefix == "reply(best)"] \
        == ["list[text]"]

"""Hand-computed tests of every credit-assignment rule (expected numbers written out)."""

from __future__ import annotations

import pytest

from trainer.credit import (
    DesignSample,
    DiagnosticSpan,
    ExecutionSample,
    NodeSpan,
    Turn,
    char_spans_to_token_ranges,
    design_returns,
    designer_advantages,
    designer_token_advantages,
    executor_turn_advantages,
    grouped_advantages,
    grpo_advantages,
    turn_token_advantages,
)

# A spec cut into 6 tokens: "mas s {" " agent a {}" " agent b {}" " flow {" " o = a()" " } }"
TEXT = "mas s { agent a {} agent b {} flow { o = a() } }"
TOKENS = ((0, 7), (7, 18), (18, 29), (29, 36), (36, 44), (44, 48))


def design(compile_ok: bool = True, diagnostics: tuple[DiagnosticSpan, ...] = (),
           nodes: tuple[NodeSpan, ...] = (), spec_offset: int = 0) -> DesignSample:
    return DesignSample(question_id="q", design_id="d", text=TEXT, token_offsets=TOKENS,
                        compile_ok=compile_ok, diagnostics=diagnostics, nodes=nodes,
                        spec_offset=spec_offset)


def test_grpo_advantages_by_hand() -> None:
    # mean 1.5, population std sqrt(1.25) = 1.118033988749895
    assert grpo_advantages([0.0, 1.0, 2.0, 3.0], eps=0.0) == pytest.approx(
        [-1.3416407864998738, -0.4472135954999579, 0.4472135954999579, 1.3416407864998738])
    # mean 0.5, std 0.5 -> +-1 (eps 1e-6 shifts the sixth decimal)
    assert grpo_advantages([1.0, 0.0, 0.0, 1.0], eps=0.0) == [1.0, -1.0, -1.0, 1.0]
    assert grpo_advantages([1.0, 0.0], eps=1e-6) == pytest.approx([0.999998, -0.999998])


def test_identical_group_gives_exact_zeros() -> None:
    assert grpo_advantages([0.1, 0.1, 0.1]) == [0.0, 0.0, 0.0]
    assert grpo_advantages([5.0]) == [0.0]
    assert grpo_advantages([]) == []


def test_without_std_normalisation_only_mean_is_subtracted() -> None:
    assert grpo_advantages([1.0, 0.0, 0.0, 0.0], normalise_std=False) == [0.75, -0.25, -0.25,
                                                                          -0.25]


def test_grouped_advantages_are_independent_per_group() -> None:
    result = grouped_advantages([1.0, 0.0, 3.0, 3.0, 2.0], ["a", "a", "b", "b", "a"], eps=0.0)
    # group a: [1, 0, 2] mean 1, std sqrt(2/3) = 0.816496580927726
    assert result == pytest.approx([0.0, -1.224744871391589, 0.0, 0.0, 1.224744871391589])
    with pytest.raises(ValueError, match="2 values but 1 group"):
        grouped_advantages([1.0, 2.0], ["a"])


def test_design_returns_mean_of_executions_and_compile_penalty() -> None:
    designs = [
        DesignSample("q", 0, "", (), compile_ok=True),
        DesignSample("q", 1, "", (), compile_ok=False),
        DesignSample("q", 2, "", (), compile_ok=True),
    ]
    executions = [ExecutionSample(0, 1.0), ExecutionSample(0, 0.0), ExecutionSample(2, 1.0),
                  ExecutionSample(2, 1.0)]
    assert design_returns(designs, executions, compile_penalty=-1.0) == [0.5, -1.0, 1.0]
    # returns [0.5, -1, 1]: mean 1/6; population variance
    # ((1/3)^2 + (7/6)^2 + (5/6)^2) / 3 = (4/36 + 49/36 + 25/36) / 3 = 78/108
    std = (78 / 108) ** 0.5  # 0.8498365855987975
    assert designer_advantages(designs, executions, -1.0, eps=0.0) == pytest.approx(
        [(0.5 - 1 / 6) / std, (-1 - 1 / 6) / std, (1 - 1 / 6) / std])
    assert designer_advantages(designs, executions, -1.0, eps=0.0) == pytest.approx(
        [0.39223227027636803, -1.3728129459672882, 0.9805806756909202])
    with pytest.raises(ValueError, match="compiled but has no executions"):
        design_returns(designs, executions[:2], compile_penalty=-1.0)


def test_char_spans_to_token_ranges() -> None:
    spans = [(8, 13), (7, 29), (17, 19), (0, 48), (48, 48), (20, 20), (60, 70)]
    assert char_spans_to_token_ranges(spans, TOKENS) == [
        (1, 2),  # "agent" inside token 1
        (1, 3),  # both agents
        (1, 3),  # crosses the boundary between tokens 1 and 2
        (0, 6),  # everything
        (5, 6),  # empty span at end of text: the last token
        (2, 3),  # empty span inside token 2
        (6, 6),  # beyond the text: nothing
    ]


def test_char_spans_empty_tokens_count_as_points() -> None:
    # token 1 is empty (the first half of a multi-byte character), token 2 completes it
    offsets = ((0, 3), (3, 3), (3, 4), (4, 6))
    assert char_spans_to_token_ranges([(3, 4), (0, 3), (4, 5)], offsets) == [(1, 3), (0, 1),
                                                                             (3, 4)]


def test_sequence_mode_gives_every_token_the_design_advantage() -> None:
    dead = (NodeSpan("b", 19, 29, reaches_output=False),)
    assert designer_token_advantages(design(nodes=dead), 0.7, mode="sequence") == [0.7] * 6


def test_node_mode_unreachable_node_gets_no_positive_credit() -> None:
    nodes = (NodeSpan("a", 8, 18, True), NodeSpan("b", 19, 29, False),
             NodeSpan("o", 37, 44, True))
    assert designer_token_advantages(design(nodes=nodes), 0.7) == [0.7, 0.7, 0.0, 0.7, 0.7, 0.7]
    # a negative advantage still reaches the unreachable node
    assert designer_token_advantages(design(nodes=nodes), -0.4) == [-0.4] * 6


def test_node_mode_error_is_localised_to_the_offending_tokens() -> None:
    failed = design(compile_ok=False, diagnostics=(DiagnosticSpan(40, 41, "error", "MAS104"),))
    assert designer_token_advantages(failed, -1.2) == [0.0, 0.0, 0.0, 0.0, -1.2, 0.0]
    assert designer_token_advantages(failed, -1.2, unlocalised_weight=0.5) == [
        -0.6, -0.6, -0.6, -0.6, -1.2, -0.6]
    # an error never earns positive credit, even if the group made A positive
    assert designer_token_advantages(failed, 0.3) == [0.0] * 6


def test_node_mode_warnings_are_ignored_and_unlocated_failures_fall_back() -> None:
    warned = design(diagnostics=(DiagnosticSpan(8, 13, "warning", "MAS900"),))
    assert designer_token_advantages(warned, 0.5) == [0.5] * 6
    unlocated = design(compile_ok=False)
    assert designer_token_advantages(unlocated, -1.0) == [-1.0] * 6


def test_node_mode_shifts_spec_spans_by_spec_offset() -> None:
    # the spec starts at character 7 of the completion; node "b" is at 12..22 in the spec
    nodes = (NodeSpan("b", 12, 22, False),)
    assert designer_token_advantages(design(nodes=nodes, spec_offset=7), 1.0) == [
        1.0, 1.0, 0.0, 1.0, 1.0, 1.0]


def test_unknown_modes_are_rejected() -> None:
    with pytest.raises(ValueError, match="designer credit mode"):
        designer_token_advantages(design(), 1.0, mode="tokens")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="executor credit mode"):
        executor_turn_advantages([], mode="turn")  # type: ignore[arg-type]


EXECUTIONS = [
    ExecutionSample("d0", 1.0, (Turn("solver", True, 5), Turn("critic", False, 3))),
    ExecutionSample("d0", 0.0, (Turn("solver", True, 4),)),
    ExecutionSample("d1", 1.0, (Turn("solver", True, 2), Turn("judge", True, 1))),
    ExecutionSample("d1", 1.0, (Turn("aside", False, 6),)),
]


def flat(nested: list[list[float]]) -> list[float]:
    return [value for inner in nested for value in inner]


def test_executor_question_mode() -> None:
    # rewards [1, 0, 1, 1]: mean 0.75, std sqrt(0.1875) = 0.4330127018922193
    plus, minus = 0.25 / 0.4330127018922193, -0.75 / 0.4330127018922193
    result = executor_turn_advantages(EXECUTIONS, "question", eps=0.0)
    assert [len(turns) for turns in result] == [2, 1, 2, 1]
    assert flat(result) == pytest.approx([plus, 0.0, minus, plus, plus, 0.0])
    assert plus == pytest.approx(0.5773502691896258)
    assert minus == pytest.approx(-1.7320508075688772)


def test_executor_design_mode() -> None:
    # d0: [1, 0] -> [1, -1]; d1: [1, 1] -> identical -> [0, 0]
    result = executor_turn_advantages(EXECUTIONS, "design", eps=0.0)
    assert result == [[1.0, 0.0], [-1.0], [0.0, 0.0], [0.0]]


def test_executor_execution_mode_ignores_reachability() -> None:
    plus, minus = 0.5773502691896258, -1.7320508075688772
    result = executor_turn_advantages(EXECUTIONS, "execution", eps=0.0)
    assert [len(turns) for turns in result] == [2, 1, 2, 1]
    assert flat(result) == pytest.approx([plus, plus, minus, plus, plus, plus])


def test_turn_token_advantages_expand_by_token_count() -> None:
    assert turn_token_advantages(EXECUTIONS[0], [0.5, 0.0]) == [[0.5] * 5, [0.0] * 3]
    with pytest.raises(ValueError, match="1 advantages for 2 turns"):
        turn_token_advantages(EXECUTIONS[0], [0.5])

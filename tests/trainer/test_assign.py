"""`assign_credit` wires the config's options through to the credit rules (hand numbers)."""

from __future__ import annotations

import pytest

from trainer.assign import assign_credit
from trainer.config import CreditConfig
from trainer.credit import DesignSample, DiagnosticSpan, ExecutionSample, NodeSpan, Turn

TOKENS = ((0, 4), (4, 8), (8, 12))
DESIGNS = [
    DesignSample("q", "a", "x" * 12, TOKENS, True, nodes=(NodeSpan("n", 4, 8, False),)),
    DesignSample("q", "b", "x" * 12, TOKENS, False, diagnostics=(DiagnosticSpan(9, 10),)),
]
EXECUTIONS = [
    ExecutionSample("a", 1.0, (Turn("n1", True, 2), Turn("n2", False, 1))),
    ExecutionSample("a", 0.0, (Turn("n1", True, 2),)),
]


def test_node_and_question_modes() -> None:
    result = assign_credit(DESIGNS, EXECUTIONS, CreditConfig(eps=1e-9))
    # returns: a = 0.5, b = compile penalty -1 -> advantages +1, -1
    assert result.design_advantages == pytest.approx((1.0, -1.0))
    assert result.designer_tokens[0] == pytest.approx((1.0, 0.0, 1.0))
    assert result.designer_tokens[1] == pytest.approx((0.0, 0.0, -1.0))
    assert result.executor_turns[0] == pytest.approx((1.0, 0.0))
    assert result.executor_turns[1] == pytest.approx((-1.0,))


def test_sequence_and_execution_ablations() -> None:
    config = CreditConfig(eps=1e-9, designer_mode="sequence", executor_mode="execution",
                          compile_penalty=0.0)
    result = assign_credit(DESIGNS, EXECUTIONS, config)
    # returns: a = 0.5, b = 0 -> mean 0.25, std 0.25 -> +1, -1
    assert result.designer_tokens[0] == pytest.approx((1.0, 1.0, 1.0))
    assert result.designer_tokens[1] == pytest.approx((-1.0, -1.0, -1.0))
    assert result.executor_turns[0] == pytest.approx((1.0, 1.0))


def test_mixed_questions_and_stray_executions_are_rejected() -> None:
    other = DesignSample("q2", "c", "", (), True)
    with pytest.raises(ValueError, match="one question"):
        assign_credit([*DESIGNS, other], EXECUTIONS, CreditConfig())
    with pytest.raises(ValueError, match="unknown designs"):
        assign_credit(DESIGNS[:1], [ExecutionSample("z", 1.0)], CreditConfig())

"""Per-token advantages of a step in OpenRLHF's tensor layout, against hand-computed values,
and the classes installed into OpenRLHF's trainer actor (on test-double base classes)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from runtime.engines.base import Completion
from runtime.trace import TurnRecord
from trainer.batch import TokenSample
from trainer.config import CreditConfig, TrainConfig
from trainer.credit import DesignSample, DiagnosticSpan, ExecutionSample, NodeSpan, Turn
from trainer.openrlhf import install
from trainer.openrlhf.config import SETTINGS_VARIABLE, OpenRLHFConfig, settings_json
from trainer.openrlhf.credit_layout import (
    DESIGNER_KEY,
    PADDING_KEY,
    StepSample,
    advantage_row,
    build_experience,
    finalize_advantages,
    pad_to_multiple,
    step_samples,
)
from trainer.openrlhf.unit import UnitRecord
from trainer.schedule import BOTH, Role


def turn(completion: tuple[int, ...]) -> TurnRecord:
    return TurnRecord(execution_id="e", node_id="n1", turn_index=0, agent="solver",
                      prompt_text="p", prompt_token_ids=(5, 6, 7), completion_text="c",
                      completion_token_ids=completion, logprobs=(-0.5,) * len(completion))


def units() -> list[UnitRecord]:
    """Two designs of question q: `a` compiled (executions rewarded 1 and 0, one turn of two
    tokens each), `b` failed with an error on its second token."""
    good = DesignSample("q", "a", "abcd", ((0, 1), (1, 2), (2, 3), (3, 4)), compile_ok=True,
                        nodes=(NodeSpan("n1", 0, 4, True),))
    bad = DesignSample("q", "b", "xy", ((0, 1), (1, 2)), compile_ok=False,
                       diagnostics=(DiagnosticSpan(1, 2, "error"),))
    return [
        UnitRecord("q", good, Completion("abcd", (1, 2), (10, 11, 12, 13), (-1.0,) * 4, "stop"),
                   0.5, (ExecutionSample("a", 1.0, (Turn("n1", True, 2),)),
                         ExecutionSample("a", 0.0, (Turn("n1", True, 2),))),
                   ((turn((20, 21)),), (turn((22, 23)),))),
        UnitRecord("q", bad, Completion("xy", (1, 2), (30, 31), (-2.0, -2.0), "stop"),
                   -1.0, (), ()),
    ]


def test_step_samples_apply_our_credit_per_design_token_and_per_turn() -> None:
    rows = step_samples(units(), CreditConfig(), BOTH)
    designer = [r.sample for r in rows if r.sample.role == Role.DESIGNER]
    executor = [r.sample for r in rows if r.sample.role == Role.EXECUTOR]
    # returns 0.5 and -1 (penalty) -> GRPO +1 / -1; design b: error token -1, the rest 0
    assert designer[0].advantages == pytest.approx((1.0,) * 4, abs=1e-5)
    assert designer[1].advantages == pytest.approx((0.0, -1.0), abs=1e-5)
    # executions rewarded 1 and 0 -> +1 / -1 on every token of their turns
    assert [s.completion_ids for s in executor] == [(20, 21), (22, 23)]
    assert executor[0].advantages == pytest.approx((1.0, 1.0), abs=1e-5)
    assert executor[1].advantages == pytest.approx((-1.0, -1.0), abs=1e-5)
    assert [r.reward for r in rows] == [0.5, -1.0, 1.0, 0.0]


def test_the_schedule_selects_roles() -> None:
    only_executor = step_samples(units(), CreditConfig(), {Role.EXECUTOR})
    assert [r.sample.role for r in only_executor] == [Role.EXECUTOR, Role.EXECUTOR]
    only_designer = step_samples(units(), CreditConfig(), {Role.DESIGNER})
    assert [r.sample.role for r in only_designer] == [Role.DESIGNER, Role.DESIGNER]


def test_sequence_mode_gives_every_designer_token_the_design_advantage() -> None:
    rows = step_samples(units(), CreditConfig(designer_mode="sequence"), {Role.DESIGNER})
    assert rows[1].sample.advantages == pytest.approx((-1.0, -1.0), abs=1e-5)


SAMPLE = TokenSample(Role.EXECUTOR, prompt_ids=(5, 6, 7), completion_ids=(8, 9),
                     old_logprobs=(-0.1, -0.2), advantages=(0.5, -1.0))


def test_advantage_row_is_shifted_by_one_and_zero_on_the_prompt() -> None:
    row = advantage_row(SAMPLE, max_len=100)
    assert row.sequence == (5, 6, 7, 8, 9)
    assert row.action_mask == (0, 0, 1, 1)
    assert row.rollout_logprobs == (0.0, 0.0, -0.1, -0.2)
    assert row.advantages == (0.0, 0.0, 0.5, -1.0)
    assert not row.truncated


def test_a_forced_token_is_out_of_the_action_mask() -> None:
    from dataclasses import replace

    row = advantage_row(replace(SAMPLE, forced=(True, False)), max_len=100)
    assert row.action_mask == (0, 0, 0, 1)
    assert row.advantages == (0.0, 0.0, 0.5, -1.0)


def test_advantage_row_is_cut_at_max_len_like_openrlhf() -> None:
    row = advantage_row(SAMPLE, max_len=4)
    assert row.sequence == (5, 6, 7, 8)
    assert row.action_mask == (0, 0, 1) and row.advantages == (0.0, 0.0, 0.5)
    assert row.truncated


def test_experiences_concatenate_and_keep_our_advantages() -> None:
    pytest.importorskip("torch")
    experience_module = pytest.importorskip("openrlhf.trainer.ppo_utils.experience")
    designer = TokenSample(Role.DESIGNER, (1, 2), (10, 11, 12, 13), (-1.0,) * 4,
                           (1.0, 1.0, -1.0, 0.0))
    rows = [build_experience(StepSample(designer, 0.5, "q"), 64),
            build_experience(StepSample(SAMPLE, 1.0, "q"), 64)]
    batch = experience_module.Experience.concat_experiences(rows, pad_token_id=0)
    assert batch.sequences.tolist() == [[1, 2, 10, 11, 12, 13], [5, 6, 7, 8, 9, 0]]
    assert batch.action_mask.tolist() == [[0, 1, 1, 1, 1], [0, 0, 1, 1, 0]]
    assert batch.advantages.tolist() == [[0.0, 1.0, 1.0, -1.0, 0.0],
                                         [0.0, 0.0, 0.5, -1.0, 0.0]]
    assert batch.info[DESIGNER_KEY].tolist() == [1.0, 0.0]
    (final,) = finalize_advantages([batch])
    assert final.returns.tolist() == final.advantages.tolist()
    assert final.info["return"].tolist() == [0.5, 1.0] and final.kl is None


def test_finalize_refuses_experiences_without_our_advantages() -> None:
    torch = pytest.importorskip("torch")
    bare = SimpleNamespace(advantages=None, action_mask=torch.ones((1, 2)))
    with pytest.raises(ValueError, match="sample generator"):
        finalize_advantages([bare])


class SamplesGeneratorDouble:
    """Stands in for OpenRLHF's SamplesGenerator: one batch of the given responses."""

    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.responses = responses
        self.args = SimpleNamespace(train=SimpleNamespace(batch_size=1))

    def _process_response_into_experience(self, response: dict[str, Any],
                                          **kwargs: Any) -> Any:
        return SimpleNamespace(prompt=response["prompt"])

    def generate_samples(self, **kwargs: Any) -> tuple[Any, ...]:
        return ([self._process_response_into_experience(r) for r in self.responses], None,
                1, False)


def configs(kind: str = "stagewise") -> tuple[TrainConfig, OpenRLHFConfig]:
    train = TrainConfig.model_validate({
        "steps": 2, "output_dir": "out", "eval_interval": 0,
        "tasks": {"train": [{"name": "arithmetic"}]},
        "schedule": {"kind": kind, "switch_every": 1}})
    return train, OpenRLHFConfig(model="/models/policy")


def test_installed_generator_follows_the_stagewise_schedule() -> None:
    pytest.importorskip("openrlhf.trainer.ppo_utils.experience")
    train, gpu = configs()
    generator = install.generator_class(SamplesGeneratorDouble, train, gpu)(
        [{"prompt": "q", "masdsl_unit": unit} for unit in units()])
    generator.args = SimpleNamespace(train=SimpleNamespace(batch_size=2))
    first, *_ = generator.generate_samples(max_len=64)
    second, *_ = generator.generate_samples(max_len=64)
    assert [e.info[DESIGNER_KEY].item() for e in first] == [0.0, 0.0]  # executor phase
    assert [e.info[DESIGNER_KEY].item() for e in second] == [1.0, 1.0]  # designer phase
    generator.args.train.batch_size = 3  # two rows, padded to one whole train batch
    third, *_ = generator.generate_samples(max_len=64)
    assert [e.info[PADDING_KEY].item() for e in third] == [0.0, 0.0, 1.0]
    assert first[0].advantages.tolist()[0] == pytest.approx([0.0, 0.0, 1.0, 1.0], abs=1e-5)


def test_our_classes_are_never_stacked_on_themselves() -> None:
    train, gpu = configs()
    generator = install.generator_class(SamplesGeneratorDouble, train, gpu)
    assert install.generator_class(generator, train, gpu) is generator
    maker = install.experience_maker_class(SamplesGeneratorDouble)
    assert install.experience_maker_class(maker) is maker


def test_installed_generator_refuses_rollouts_without_units() -> None:
    train, gpu = configs()
    generator = install.generator_class(SamplesGeneratorDouble, train, gpu)([{"prompt": "q"}])
    with pytest.raises(RuntimeError, match="agent_func_path"):
        generator.generate_samples()


def test_the_hook_patches_the_defining_modules_once_they_are_imported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = {"SAMPLES_GENERATOR_MODULE": "masdsl_test_fake_samples_generator",
             "EXPERIENCE_MAKER_MODULE": "masdsl_test_fake_experience_maker",
             "TRAINER_MODULE": "masdsl_test_fake_ppo_trainer"}
    (tmp_path / f"{names['SAMPLES_GENERATOR_MODULE']}.py").write_text(
        "class SamplesGenerator:\n    pass\n")
    (tmp_path / f"{names['EXPERIENCE_MAKER_MODULE']}.py").write_text(
        "class RemoteExperienceMaker:\n    pass\n")
    (tmp_path / f"{names['TRAINER_MODULE']}.py").write_text(
        f"from {names['SAMPLES_GENERATOR_MODULE']} import SamplesGenerator\n"
        f"from {names['EXPERIENCE_MAKER_MODULE']} import RemoteExperienceMaker\n"
        "class BasePPOTrainer:\n"
        "    def init_checkpoint_states(self):\n"
        "        return {'global_step': 0}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for constant, name in names.items():
        monkeypatch.setattr(install, constant, name)
    train, gpu = configs()
    monkeypatch.setenv(SETTINGS_VARIABLE, settings_json(train, gpu))
    before = list(sys.meta_path)
    try:
        install.setup_worker()
        trainer = importlib.import_module(names["TRAINER_MODULE"])
        defining = importlib.import_module(names["SAMPLES_GENERATOR_MODULE"])
        assert defining.SamplesGenerator.__name__ == "MasdslSamplesGenerator"
        assert trainer.SamplesGenerator is defining.SamplesGenerator
        assert trainer.RemoteExperienceMaker.__name__ == "MasdslExperienceMaker"
        assert trainer.RemoteExperienceMaker.__mro__[1].__module__ == \
            names["EXPERIENCE_MAKER_MODULE"]
        install.setup_worker()  # a second run patches nothing twice
        assert defining.SamplesGenerator.__mro__[1].__name__ == "SamplesGenerator"
    finally:
        sys.meta_path[:] = before
        for name in names.values():
            sys.modules.pop(name, None)


class GeneratorDouble:
    masdsl_step = 0


def test_resume_moves_the_schedule_and_the_start_up_line_names_the_classes(
        capsys: pytest.CaptureFixture[str]) -> None:
    class BasePPOTrainer:
        def __init__(self, step: int) -> None:
            self.step = step
            self.samples_generator = GeneratorDouble()
            self.experience_maker = SimpleNamespace()

        def init_checkpoint_states(self) -> dict[str, Any]:
            return {"global_step": self.step}

    module = SimpleNamespace(BasePPOTrainer=BasePPOTrainer)
    _, gpu = configs()
    install.patch_trainer_module(module, gpu.model_copy(update={"start_step": 2}))  # type: ignore[arg-type]
    fresh, resumed = BasePPOTrainer(0), BasePPOTrainer(7)
    assert fresh.init_checkpoint_states() == {"global_step": 0}
    assert fresh.samples_generator.masdsl_step == 0  # left to the generator's start_step
    assert resumed.init_checkpoint_states() == {"global_step": 7}
    assert resumed.samples_generator.masdsl_step == 9
    printed = capsys.readouterr().out
    assert printed.count(install.STARTUP_MARK) == 2
    assert "samples generator = tests.trainer.openrlhf.test_credit_layout.GeneratorDouble" \
        in printed and "resuming the stagewise schedule at step 9" in printed


def test_padding_fills_the_last_train_batch_with_rows_that_train_nothing() -> None:
    pytest.importorskip("openrlhf.trainer.ppo_utils.experience")
    rows = [build_experience(StepSample(SAMPLE, 1.0, "q"), 64) for _ in range(5)]
    padded = pad_to_multiple(rows, 4)
    assert len(padded) == 8 and padded[:5] == rows
    for row in padded[5:]:
        assert row.action_mask.sum().item() == 0 and row.advantages.abs().sum().item() == 0
        assert row.info[PADDING_KEY].item() == 1.0
        assert row.sequences.tolist() == rows[0].sequences.tolist()
    assert [row.info[PADDING_KEY].item() for row in rows] == [0.0] * 5
    assert pad_to_multiple(rows[:4], 4) == rows[:4] and pad_to_multiple([], 4) == []
    assert rows[0].action_mask.sum().item() == 2  # the copies did not touch the originals


def test_the_hook_does_nothing_outside_a_masdsl_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTINGS_VARIABLE, raising=False)
    before = list(sys.meta_path)
    install.setup_worker()
    assert sys.meta_path == before

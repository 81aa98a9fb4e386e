"""The stagewise schedule alternates roles every K steps, starting with the role asked."""

from __future__ import annotations

import pytest

from trainer.config import ScheduleConfig
from trainer.schedule import Role, Schedule

D, E = Role.DESIGNER, Role.EXECUTOR


def test_stagewise_alternates_every_k_steps_starting_with_executor() -> None:
    schedule = Schedule("stagewise", switch_every=2)
    roles = [schedule.active_roles(step) for step in range(7)]
    assert roles == [{E}, {E}, {D}, {D}, {E}, {E}, {D}]


def test_stagewise_can_start_with_the_designer() -> None:
    schedule = Schedule("stagewise", switch_every=2, first=D)
    assert [schedule.active_roles(step) for step in range(5)] == [{D}, {D}, {E}, {E}, {D}]


def test_the_config_section_builds_the_schedule_it_describes() -> None:
    section = ScheduleConfig(kind="stagewise", switch_every=3, first="designer")
    assert section.build() == Schedule("stagewise", 3, D)
    assert ScheduleConfig().build().active_roles(0) == {E}


def test_stagewise_with_k_one_switches_every_step() -> None:
    schedule = Schedule("stagewise", switch_every=1)
    assert [schedule.active_roles(step) for step in range(3)] == [{E}, {D}, {E}]


def test_ablation_schedules() -> None:
    assert Schedule("coupled").active_roles(5) == {D, E}
    assert Schedule("designer_only").active_roles(0) == {D}
    assert Schedule("executor_only").active_roles(99) == {E}


def test_bad_schedules_are_rejected() -> None:
    with pytest.raises(ValueError, match="switch_every must be >= 1"):
        Schedule("stagewise", switch_every=0)
    with pytest.raises(ValueError, match="unknown schedule kind"):
        Schedule("random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step must be >= 0"):
        Schedule().active_roles(-1)

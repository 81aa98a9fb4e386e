"""The training configuration: the demo loads, bad files get located errors, docs in sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.config import ConfigError, load_config, parse_config
from trainer.config_docs import config_reference

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
steps = 3
output_dir = "out"
eval_interval = 0

[[tasks.train]]
name = "arithmetic"
"""


def test_cpu_demo_config_loads_with_the_documented_sizes() -> None:
    config = load_config(ROOT / "configs" / "cpu-demo.toml")
    assert config.policy.model == "embedded"
    assert config.tasks.train[0].name == "arithmetic"
    assert (config.rollout.questions_per_step, config.rollout.designs_per_question,
            config.rollout.executions_per_design) == (1, 4, 2)
    assert (config.steps, config.schedule.switch_every) == (30, 5)


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.policy.finetune == "lora"
    assert config.schedule.kind == "stagewise"
    assert config.credit.designer_mode == "node"
    assert config.loss.clip == 0.2


def test_unknown_key_names_its_path_and_line() -> None:
    text = MINIMAL + "\n[rollout]\nquestions_per_step = 2\ndesigns = 4\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "x.toml")
    assert str(caught.value) == "x.toml:10: rollout.designs: unknown key"


def test_bad_value_names_its_path_and_line() -> None:
    text = MINIMAL + "\n[schedule]\nkind = \"random\"\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "x.toml")
    message = str(caught.value)
    assert message.startswith("x.toml:9: schedule.kind: Input should be 'stagewise'")


def test_bad_value_in_second_array_entry_points_at_that_entry() -> None:
    text = MINIMAL + "\n[[tasks.train]]\nname = \"arithmetic\"\nlimit = 0\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "x.toml")
    assert str(caught.value) == ("x.toml:10: tasks.train.1.limit: "
                                 "Input should be greater than or equal to 1")


def test_missing_keys_are_all_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("seed = 1\n", "x.toml")
    assert str(caught.value).splitlines() == [
        "x.toml: steps: Field required",
        "x.toml: output_dir: Field required",
        "x.toml: tasks: Field required",
    ]


def test_evaluation_interval_needs_eval_tasks() -> None:
    with pytest.raises(ConfigError, match="needs at least one"):
        parse_config(MINIMAL.replace("eval_interval = 0", "eval_interval = 5"))


def test_evaluation_schedule_covers_start_interval_and_last_step() -> None:
    with_eval = MINIMAL.replace("steps = 3", "steps = 7").replace(
        "eval_interval = 0", "eval_interval = 3") + "[[tasks.eval]]\nname = \"arithmetic\"\n"
    config = parse_config(with_eval)
    assert [done for done in range(8) if config.evaluates_after(done)] == [0, 3, 6, 7]
    later = parse_config("eval_at_start = false\n" + with_eval)
    assert [done for done in range(8) if later.evaluates_after(done)] == [3, 6, 7]
    never = parse_config(MINIMAL)
    assert not any(never.evaluates_after(done) for done in range(4))


def test_bad_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"x.toml: invalid TOML: .*line 1"):
        parse_config("steps = = 3\n", "x.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_every_field_is_documented_and_docs_are_in_sync() -> None:
    reference = config_reference()
    assert "| `designs_per_question` | integer | `4` | M: designs sampled" in reference
    assert "||" not in reference.replace("\\|", "")  # no empty description cell
    for line in reference.splitlines():
        if line.startswith("| `"):
            assert not line.rstrip().endswith("|  |"), line
    docs = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    assert reference in docs, (
        "docs/training.md is stale: run python -m trainer.config_docs --write docs/training.md")


def test_every_model_field_has_a_description() -> None:
    from pydantic import BaseModel

    import trainer.config as module

    models = [value for value in vars(module).values()
              if isinstance(value, type) and issubclass(value, BaseModel)
              and value.__module__ == module.__name__ and value.model_fields]
    assert len(models) >= 9
    for model in models:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_every_shipped_cpu_config_loads_and_names_existing_examples() -> None:
    shipped = sorted(path for path in (ROOT / "configs").glob("*.toml")
                     if not path.name.startswith("openrlhf-"))  # those: tests/trainer/openrlhf
    assert len(shipped) >= 6
    for path in shipped:
        config = load_config(path)
        for example in config.sampling.examples:
            assert (ROOT / example).is_file(), f"{path.name}: {example}"


@pytest.mark.parametrize("kind", ["stagewise", "coupled", "executor_only"])
def test_a_frozen_executor_needs_a_schedule_that_never_trains_it(kind: str) -> None:
    text = MINIMAL + f'\n[schedule]\nkind = "{kind}"\nexecutor_weights = "start"\n'
    with pytest.raises(ConfigError, match=r'executor_weights = "start" freezes the executor, '
                                          r'so it needs schedule\.kind = "designer_only"'):
        parse_config(text, "x.toml")
    frozen = parse_config(text.replace(f'kind = "{kind}"', 'kind = "designer_only"'))
    assert frozen.schedule.executor_weights == "start"

"""Our TOML config -> the OpenRLHF command line, checked against OpenRLHF's own flags."""

from __future__ import annotations

import io
import json
import shlex
from pathlib import Path

import pytest

from tests.trainer.openrlhf.openrlhf_parser import cli_source, openrlhf_parser, startup_args
from trainer.config import ConfigError
from trainer.openrlhf.command import SETUP_HOOK
from trainer.openrlhf.config import SETTINGS_VARIABLE, parse_gpu_config, settings_from_json
from trainer.openrlhf.launcher import launch, prepare

BASE = """
steps = 3
output_dir = "{out}"
eval_interval = 0
seed = 5
[[tasks.train]]
name = "arithmetic"
[rollout]
questions_per_step = 8
designs_per_question = 4
executions_per_design = 4
[loss]
learning_rate = 5e-6
clip = 0.2
[sampling.designer]
temperature = 1.0
top_p = 0.9
max_tokens = 512
"""

ONE_GPU = BASE + """
[openrlhf]
model = "{model}"
"""

CLUSTER = BASE.replace("learning_rate", "kl_coef = 0.01\nlearning_rate").replace(
    "questions_per_step = 8", "questions_per_step = 16") + """
[policy]
finetune = "full"
[openrlhf]
model = "{model}"
nodes = 2
gpus_per_node = 8
vllm_engines = 4
tensor_parallel = 2
colocate = false
ray_address = "http://head:8265"
"""

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
SHIPPED = ("openrlhf-1gpu.toml", "openrlhf-cluster.toml")


def write(tmp_path: Path, template: str, model: str | None = None) -> Path:
    model_dir = tmp_path / "model"
    model_dir.mkdir(exist_ok=True)
    (model_dir / "config.json").write_text("{}")
    path = tmp_path / "train.toml"
    path.write_text(template.format(out=tmp_path / "out", model=model or model_dir))
    return path


def flags(arguments: tuple[str, ...]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current = ""
    for word in arguments:
        if word.startswith("--"):
            current = word
            found[current] = []
        else:
            found[current].append(word)
    return found


def test_single_gpu_config_maps_to_colocated_openrlhf_flags(tmp_path: Path) -> None:
    train, gpu, command = prepare(write(tmp_path, ONE_GPU))
    given = flags(command.train_arguments)
    assert given["--actor.num_nodes"] == ["1"] and given["--actor.num_gpus_per_node"] == ["1"]
    assert given["--vllm.num_engines"] == ["1"] and given["--vllm.tensor_parallel_size"] == ["1"]
    for flag in ("--train.colocate_all", "--vllm.enable_sleep", "--ds.enable_sleep",
                 "--algo.advantage.no_std_norm"):
        assert given[flag] == []
    assert given["--rollout.n_samples_per_prompt"] == ["4"]  # M designs per question
    assert given["--rollout.batch_size"] == ["8"]  # questions per step
    assert given["--train.batch_size"] == ["32"]
    assert given["--algo.kl.init_coef"] == ["0.0"] and "--algo.kl.use_loss" not in given
    assert given["--algo.advantage.estimator"] == ["reinforce"]
    assert given["--actor.adam.lr"] == ["5e-06"] and given["--actor.eps_clip"] == ["0.2"]
    assert given["--rollout.top_p"] == ["0.9"] and given["--rollout.max_new_tokens"] == ["512"]
    # training logits are divided by --rollout.temperature for every row: always 1
    assert given["--rollout.temperature"] == ["1.0"]
    assert given["--actor.lr_scheduler"] == ["constant"]
    assert given["--ckpt.save_steps"] == ["1"] and given["--ckpt.max_num"] == ["3"]
    assert "--ckpt.load_enable" not in given
    assert given["--ds.lora.rank"] == ["8"]  # the default policy is LoRA
    assert given["--train.agent_func_path"][0].endswith("trainer/openrlhf/agent_func.py")
    assert given["--data.prompt_dataset"] == [str(tmp_path / "out/openrlhf/prompts.jsonl")]
    assert command.runtime_env["worker_process_setup_hook"] == SETUP_HOOK
    assert SETUP_HOOK == "trainer.openrlhf.install.setup_worker"
    env = command.runtime_env["env_vars"]
    assert isinstance(env, dict)
    assert settings_from_json(env[SETTINGS_VARIABLE]) == (train, gpu)


def test_cluster_config_maps_to_separate_engines_and_a_reference_model(tmp_path: Path) -> None:
    _, gpu, command = prepare(write(tmp_path, CLUSTER))
    given = flags(command.train_arguments)
    assert given["--actor.num_nodes"] == ["2"] and given["--actor.num_gpus_per_node"] == ["8"]
    assert given["--vllm.num_engines"] == ["4"] and given["--vllm.tensor_parallel_size"] == ["2"]
    assert "--train.colocate_all" not in given and "--ds.lora.rank" not in given
    assert given["--algo.kl.init_coef"] == ["0.01"] and given["--algo.kl.estimator"] == ["k3"]
    assert gpu.gpus_needed(reference_model=True) == 16 + 8 + 16
    assert command.argv()[:5] == ["ray", "job", "submit", "--address", "http://head:8265"]


def test_a_designer_temperature_of_zero_still_trains_at_temperature_one(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_GPU.replace("temperature = 1.0", "temperature = 0.0"))
    train, _, command = prepare(path)
    assert train.sampling.designer.temperature == 0.0
    assert flags(command.train_arguments)["--rollout.temperature"] == ["1.0"]


def test_resume_loads_the_checkpoint(tmp_path: Path) -> None:
    _, _, command = prepare(write(tmp_path, ONE_GPU), resume=True)
    given = flags(command.train_arguments)
    assert given["--ckpt.load_enable"] == []
    assert given["--ckpt.path"] == [str(tmp_path / "out/openrlhf/checkpoints")]


def test_scalar_credit_uses_openrlhf_group_norm(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_GPU + 'credit = "scalar"\n')
    _, _, command = prepare(path)
    given = flags(command.train_arguments)
    assert given["--algo.advantage.estimator"] == ["group_norm"]
    assert "--algo.advantage.no_std_norm" not in given
    # the hook still runs: merged LoRA weight sync and the start-up line
    assert command.runtime_env["worker_process_setup_hook"] == SETUP_HOOK


def openrlhf_source() -> Path:
    source = cli_source()
    if source is None:
        pytest.skip("openrlhf is not installed (pip install --no-deps openrlhf==0.11.2)")
    return source


@pytest.mark.parametrize("template", [ONE_GPU, CLUSTER, ONE_GPU + 'credit = "scalar"\n'])
def test_openrlhf_startup_accepts_every_command_we_emit(tmp_path: Path, template: str) -> None:
    _, _, command = prepare(write(tmp_path, template), resume=True)
    args = startup_args(openrlhf_source(), list(command.train_arguments))
    assert args.train.agent_func_path.endswith("agent_func.py")
    assert args.rollout.n_samples_per_prompt == 4
    assert args.rollout.temperature == 1.0 and args.actor.lr_scheduler == "constant"
    assert args.ckpt.load_enable and args.ckpt.save_steps == 1 and args.ckpt.max_num == 3
    assert args.reward.remote_url == ["agent"]  # what --train.agent_func_path implies
    gpus = args.actor.num_nodes * args.actor.num_gpus_per_node
    # DeepSpeed's gradient accumulation (openrlhf.utils.deepspeed.DeepspeedStrategy)
    assert args.train.batch_size // args.train.micro_batch_size // gpus >= 1


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_pass_the_dry_run_and_openrlhf_startup(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from masdsl.cli import main

    path = CONFIGS / name
    assert main(["train", str(path), "--backend", "openrlhf", "--dry-run"]) == 0
    printed = capsys.readouterr().out.replace("\\\n", " ")
    words = shlex.split(printed)
    arguments = words[words.index("openrlhf.cli.train_ppo_ray") + 1:]
    _, _, command = prepare(path)
    assert arguments == list(command.train_arguments)
    startup_args(openrlhf_source(), arguments)


def test_openrlhf_startup_rejects_what_our_config_check_rejects(tmp_path: Path) -> None:
    """The old cluster example (8 questions x 4 designs on 16 actor GPUs): OpenRLHF's own
    assertion fails on it, and so does our config check, first and with the fix."""
    old = CLUSTER.replace("questions_per_step = 16", "questions_per_step = 8")
    with pytest.raises(ConfigError, match=r"fewer than the 16 actor GPUs") as error:
        prepare(write(tmp_path, old))
    assert "must be a multiple of openrlhf.micro_batch_size (4) x the actor GPUs" in str(
        error.value)
    train, gpu = parse_gpu_config(CLUSTER.format(out="o", model="m"))
    from trainer.openrlhf.command import JobPaths, train_arguments

    paths = JobPaths(Path("p.jsonl"), Path("agent_func.py"), Path("o"))
    arguments = train_arguments(train, gpu, paths)
    arguments[arguments.index("--rollout.batch_size") + 1] = "8"
    arguments[arguments.index("--train.batch_size") + 1] = "32"
    with pytest.raises(AssertionError, match="number of sample batches"):
        startup_args(openrlhf_source(), arguments)


def test_dry_run_prints_the_job_and_writes_nothing(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = launch(write(tmp_path, ONE_GPU), dry_run=True, out=out, err=err)
    assert code == 0 and err.getvalue() == ""
    text = out.getvalue()
    assert text.startswith("ray job submit --address http://127.0.0.1:8265 --runtime-env-json")
    assert "-- python -m openrlhf.cli.train_ppo_ray \\\n  --actor.model_name_or_path" in text
    words = shlex.split(text.replace("\\\n", " "))
    runtime_env = json.loads(words[words.index("--runtime-env-json") + 1])
    assert runtime_env["worker_process_setup_hook"] == SETUP_HOOK
    assert not (tmp_path / "out").exists()


def test_config_errors_name_the_key_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"needs an \[openrlhf\] table"):
        parse_gpu_config(BASE.format(out="o"), "t.toml")
    mismatch = ONE_GPU + "gpus_per_node = 2\n"
    with pytest.raises(ConfigError, match=r"t.toml: openrlhf: Value error, colocate = true needs"):
        parse_gpu_config(mismatch.format(out="o", model="m"), "t.toml")
    with pytest.raises(ConfigError, match=r"openrlhf.gpus: unknown key"):
        parse_gpu_config((ONE_GPU + "gpus = 2\n").format(out="o", model="m"), "t.toml")
    frozen = ONE_GPU + '[schedule]\nkind = "designer_only"\nexecutor_weights = "start"\n'
    with pytest.raises(ConfigError, match=r"t.toml: schedule.executor_weights = \"start\" is "
                                          r"for the CPU trainer"):
        parse_gpu_config(frozen.format(out="o", model="m"), "t.toml")
    err = io.StringIO()
    path = tmp_path / "bad.toml"
    path.write_text("steps = 0\n")
    assert launch(path, dry_run=True, err=err) == 2
    assert "needs an [openrlhf] table" in err.getvalue()


def test_openrlhfs_parser_rejects_pre_0_10_flag_names(
        capsys: pytest.CaptureFixture[str]) -> None:
    parser = openrlhf_parser(openrlhf_source())
    with pytest.raises(SystemExit):
        parser.parse_args(["--agent_func_path", "x.py"])  # renamed in 0.10
    assert "unrecognized arguments: --agent_func_path" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["--algo.advantage.estimator", "grpo"])
    assert "invalid choice: 'grpo'" in capsys.readouterr().err


def test_masc_train_backend_openrlhf_dry_run(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from masdsl.cli import main

    code = main(["train", str(write(tmp_path, ONE_GPU)), "--backend", "openrlhf", "--dry-run"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "ray job submit" in printed and "openrlhf.cli.train_ppo_ray" in printed
    assert main(["train", str(write(tmp_path, ONE_GPU)), "--dry-run"]) == 2

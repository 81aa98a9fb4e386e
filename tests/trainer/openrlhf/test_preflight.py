"""Bad input fails before any GPU work, saying what to change; good input writes the prompt
file and submits the job."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.trainer.openrlhf.test_command import CLUSTER, ONE_GPU, write
from trainer.openrlhf.config import OpenRLHFConfig
from trainer.openrlhf.labels import item_from_label
from trainer.openrlhf.launcher import launch
from trainer.openrlhf.preflight import PreflightError, gpu_problems, preflight
from trainer.openrlhf.versions import GPU_PINS, Pin, pin_requirements, version_problems

GOOD_VERSIONS = {pin.name: pin.pinned for pin in GPU_PINS}


def no_problems() -> list[str]:
    return []


def test_versions_outside_the_pinned_range_say_what_to_install() -> None:
    installed = dict(GOOD_VERSIONS, vllm="0.33.0", deepspeed=None)
    problems = version_problems(lookup=installed.get)
    assert problems == [
        "vllm 0.33.0 is outside the supported range >=0.29.0,<0.30; pip install "
        "'vllm==0.29.0' (or pip install 'masdsl[gpu]')",
        "deepspeed is not installed; pip install 'deepspeed==0.19.6' (or pip install "
        "'masdsl[gpu]')",
    ]
    assert version_problems(lookup=GOOD_VERSIONS.get) == []
    assert version_problems(lookup=dict(GOOD_VERSIONS, openrlhf="0.11.9").get) == []


def test_pins_follow_openrlhf_0_11_2() -> None:
    assert pin_requirements() == ["openrlhf==0.11.2", "vllm==0.29.0", "ray[default]==2.55.0",
                                  "deepspeed==0.19.6", "transformers==5.15.0",
                                  "flash-attn==2.8.3"]
    assert not Pin("x", "1.0", "1.0", "2.0").accepts("not a version")


def test_a_missing_model_is_reported_before_ray_is_asked(tmp_path: Path) -> None:
    asked: list[str] = []

    def gpus(address: str) -> float:
        asked.append(address)
        return 8.0

    with pytest.raises(PreflightError) as error:
        preflight(OpenRLHFConfig(model=str(tmp_path / "nope")), False, cluster_gpus=gpus,
                  versions=no_problems)
    assert "does not exist; set it to a local Hugging Face model directory" in str(error.value)
    assert asked == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(PreflightError, match=r"no config\.json"):
        preflight(OpenRLHFConfig(model=str(tmp_path / "empty")), False, cluster_gpus=gpus,
                  versions=no_problems)


def test_more_gpus_than_ray_reports_fails_with_the_shape(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    submitted: list[list[str]] = []

    def submit(argv: list[str]) -> int:
        submitted.append(argv)
        return 0

    asked: list[str] = []

    def eight(address: str) -> float:
        asked.append(address)
        return 8.0

    code = launch(write(tmp_path, CLUSTER), out=out, err=err, cluster_gpus=eight,
                  versions=no_problems, submit=submit)
    assert code == 2 and submitted == [] and out.getvalue() == ""
    message = err.getvalue()
    assert asked == ["http://head:8265"]  # the cluster the job goes to, not a local one
    assert "asks for 40 GPU(s) (nodes=2 x gpus_per_node=8 + vllm_engines=4 x " \
           "tensor_parallel=2 + a reference model (loss.kl_coef > 0)) but the Ray cluster " \
           "at http://head:8265 reports 8" in message
    assert "set colocate = true" in message
    assert not (tmp_path / "out" / "openrlhf" / "prompts.jsonl").exists()


def test_no_ray_cluster_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    def no_cluster(address: str) -> float:
        raise ConnectionError(f"no dashboard at {address}")

    err = io.StringIO()
    assert launch(write(tmp_path, ONE_GPU), err=err, cluster_gpus=no_cluster,
                  versions=no_problems, submit=lambda argv: 0) == 2
    assert "cannot ask the Ray cluster at http://127.0.0.1:8265 for its GPUs" in err.getvalue()
    assert "ray start --head" in err.getvalue()


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    err = io.StringIO()
    code = launch(write(tmp_path, ONE_GPU, model=str(tmp_path / "missing")), err=err,
                  versions=lambda: ["vllm is not installed; pip install 'vllm==0.29.0'"],
                  cluster_gpus=lambda address: 1.0, submit=lambda argv: 0)
    assert code == 2
    assert "does not exist" in err.getvalue() and "vllm is not installed" in err.getvalue()


def test_a_good_config_writes_the_prompts_and_submits(tmp_path: Path) -> None:
    out = io.StringIO()
    submitted: list[list[str]] = []

    def submit(argv: list[str]) -> int:
        submitted.append(argv)
        return 0

    code = launch(write(tmp_path, ONE_GPU), out=out, err=io.StringIO(),
                  cluster_gpus=lambda address: 1.0, versions=no_problems, submit=submit)
    assert code == 0 and len(submitted) == 1
    assert submitted[0][submitted[0].index("--") + 1:][:3] == ["python", "-m",
                                                              "openrlhf.cli.train_ppo_ray"]
    lines = (tmp_path / "out/openrlhf/prompts.jsonl").read_text().splitlines()
    assert len(lines) == 3 * 8  # steps x questions_per_step
    records = [json.loads(line) for line in lines]
    task, item = item_from_label(records[0]["label"])
    assert task == "arithmetic" and records[0]["input"] == item.inputs["question"]
    assert len({r["label"] for r in records}) > 1


def test_a_missing_ray_executable_is_a_message(tmp_path: Path) -> None:
    def no_ray(argv: list[str]) -> int:
        raise FileNotFoundError(2, "No such file or directory", "ray")

    err = io.StringIO()
    assert launch(write(tmp_path, ONE_GPU), out=io.StringIO(), err=err,
                  cluster_gpus=lambda address: 1.0, versions=no_problems, submit=no_ray) == 2
    assert "cannot run `ray job submit`" in err.getvalue()


def test_scalar_baseline_with_one_design_per_question_is_refused(tmp_path: Path) -> None:
    scalar_one = ONE_GPU.replace("designs_per_question = 4", "designs_per_question = 1")
    err = io.StringIO()
    path = write(tmp_path, scalar_one + 'credit = "scalar"\nmicro_batch_size = 1\n')
    assert launch(path, dry_run=True, out=io.StringIO(), err=err) == 2
    assert "group_norm), which needs rollout.designs_per_question of at least 2" in err.getvalue()
    # our credit trains executor turns as well: one design per question is allowed
    path = write(tmp_path, scalar_one + "micro_batch_size = 1\n")
    assert launch(path, dry_run=True, out=io.StringIO(), err=io.StringIO()) == 0


@pytest.mark.parametrize(("extra", "message"), [
    ("train_batch_size = 6\n", "the train batch (6: openrlhf.train_batch_size) must be a "
                               "multiple of openrlhf.micro_batch_size (4) x the actor GPUs "
                               "(nodes x gpus_per_node = 1) = 4"),
    ('credit = "scalar"\ntrain_batch_size = 12\n', "trains one row per design (32 per step), "
                                                   "which the train batch (12) must divide"),
    ("micro_batch_size = 64\n", "gives 0 rollout micro-batches, fewer than the 1 actor GPUs"),
])
def test_batch_sizes_openrlhf_cannot_run_are_refused_with_the_fix(
        tmp_path: Path, extra: str, message: str) -> None:
    err = io.StringIO()
    assert launch(write(tmp_path, ONE_GPU + extra), dry_run=True, out=io.StringIO(),
                  err=err) == 2
    assert message in err.getvalue()


def test_resume_needs_a_checkpoint_of_this_run(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_GPU)
    err = io.StringIO()
    submitted: list[list[str]] = []

    def submit(argv: list[str]) -> int:
        submitted.append(argv)
        return 0

    common = {"cluster_gpus": lambda address: 1.0, "versions": no_problems, "submit": submit}
    assert launch(path, resume=True, out=io.StringIO(), err=err, **common) == 2
    assert "no OpenRLHF checkpoint in" in err.getvalue() and submitted == []
    (tmp_path / "out/openrlhf/checkpoints/_actor").mkdir(parents=True)
    err = io.StringIO()
    assert launch(path, resume=True, run_dir=tmp_path / "elsewhere", out=io.StringIO(),
                  err=err, **common) == 2
    assert "this config writes its run to" in err.getvalue()
    assert launch(path, resume=True, run_dir=tmp_path / "out", out=io.StringIO(),
                  err=io.StringIO(), **common) == 0
    assert "--ckpt.load_enable" in submitted[0]


def test_masc_train_resume_with_the_openrlhf_backend(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from masdsl.cli import main

    path = write(tmp_path, ONE_GPU)
    code = main(["train", str(path), "--backend", "openrlhf", "--dry-run", "--resume",
                 str(tmp_path / "out")])
    assert code == 0 and "--ckpt.load_enable" in capsys.readouterr().out


class RayDashboardDouble:
    """A Ray dashboard's state API (`GET /api/v0/nodes`) on a local port, answering in the
    dashboard's JSON layout: a head node with 8 GPUs, a worker with 8, a dead node with 8.
    Ray's own state client talks to it, as it would to a remote head at `http://head:8265`."""

    NODES = (("head", True, "ALIVE", 8.0), ("worker", False, "ALIVE", 8.0),
             ("gone", False, "DEAD", 8.0))

    def __enter__(self) -> str:
        import http.server
        import threading
        from urllib.parse import parse_qs, urlparse

        nodes = self.NODES
        self.requests: list[dict[str, list[str]]] = []
        requests = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                requests.append(query)
                wanted = dict(zip(query.get("filter_keys", []),
                                  query.get("filter_values", []), strict=True))
                result = [{"node_id": name * 7, "node_ip": "10.0.0.1", "is_head_node": head,
                           "state": state, "state_message": None, "node_name": name,
                           "resources_total": {"CPU": 16.0, "GPU": gpus}, "labels": {},
                           "start_time_ms": 0, "end_time_ms": 0}
                          for name, head, state, gpus in nodes
                          if wanted.get("state", state) == state]
                body = {"result": True, "msg": "", "data": {"result": {
                    "result": result, "total": len(result), "num_after_truncation": len(result),
                    "num_filtered": len(result), "partial_failure_warning": None,
                    "warnings": None}}}
                payload = json.dumps(body).encode()
                status = 200 if url.path == "/api/v0/nodes" else 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_gpus_are_asked_of_the_cluster_at_ray_address(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray.util.state")
    from trainer.openrlhf.preflight import ray_cluster_gpus

    for variable in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):
        monkeypatch.delenv(variable, raising=False)
    dashboard = RayDashboardDouble()
    with dashboard as address:
        assert ray_cluster_gpus(address) == 16.0  # the live nodes only
        problems = gpu_problems(OpenRLHFConfig(model="m", nodes=3, gpus_per_node=8,
                                               vllm_engines=24, ray_address=address),
                                False, ray_cluster_gpus)
    assert problems == [f"[openrlhf] asks for 24 GPU(s) (nodes=3 x gpus_per_node=8) but the "
                        f"Ray cluster at {address} reports 16; lower gpus_per_node/"
                        "vllm_engines, set colocate = true, or add nodes to the cluster"]
    assert dashboard.requests[0]["filter_keys"] == ["state"]
    message = gpu_problems(OpenRLHFConfig(model="m", ray_address=address), False,
                           ray_cluster_gpus)  # the double has stopped: nobody answers
    assert message[0].startswith(f"cannot ask the Ray cluster at {address} for its GPUs")

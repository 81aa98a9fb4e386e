"""Checks that run before any GPU work: the model exists, Ray has the GPUs the config asks
for, and the GPU stack is within the pinned versions. Every problem is collected (not just
the first) and says what to change.

The GPUs are asked of the cluster the job is submitted to, at `openrlhf.ray_address` (the
dashboard address `ray job submit` uses, e.g. `http://head:8265`), through Ray's state API:
the machine that launches need not be a node of the cluster. The checks that need only the
configs (batch sizes, GPU counts, `credit = "scalar"` with one design per question) run
when the config is read (`trainer.openrlhf.config.batch_problems`), before these."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trainer.openrlhf.config import OpenRLHFConfig
from trainer.openrlhf.versions import version_problems


class PreflightError(Exception):
    """The job cannot start; the message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def model_problems(model: str) -> list[str]:
    """A Hugging Face model directory must exist and hold a `config.json`."""
    path = Path(model).expanduser()
    if not path.exists():
        return [f"openrlhf.model: {model} does not exist; set it to a local Hugging Face "
                "model directory (nothing is downloaded)"]
    if not path.is_dir() or not (path / "config.json").is_file():
        return [f"openrlhf.model: {model} is not a Hugging Face model directory (no "
                "config.json); point it at the directory `save_pretrained` wrote"]
    return []


def ray_cluster_gpus(address: str) -> float:
    """GPUs of the live nodes of the Ray cluster whose dashboard is at `address` (local or
    remote). Asks the dashboard's state API; starts no driver and joins nothing."""
    from ray.util.state import list_nodes

    nodes = list_nodes(address=address, filters=[("state", "=", "ALIVE")], limit=10_000,
                       timeout=30, raise_on_missing_output=False)
    return float(sum(float((node.resources_total or {}).get("GPU", 0.0)) for node in nodes))


def gpu_problems(gpu: OpenRLHFConfig, reference_model: bool,
                 cluster_gpus: Callable[[str], float]) -> list[str]:
    """The config's GPU need against what the cluster at `gpu.ray_address` reports."""
    needed = gpu.gpus_needed(reference_model)
    try:
        have = cluster_gpus(gpu.ray_address)
    except Exception as error:  # no cluster there, or Ray is not installed
        return [f"cannot ask the Ray cluster at {gpu.ray_address} for its GPUs "
                f"({type(error).__name__}: {error}); start one with `ray start --head "
                "--dashboard-host=0.0.0.0` (and `ray start --address=HEAD:6379` on the "
                "other nodes), or set openrlhf.ray_address to its dashboard address"]
    if have < needed:
        shape = (f"nodes={gpu.nodes} x gpus_per_node={gpu.gpus_per_node}"
                 + ("" if gpu.colocate else f" + vllm_engines={gpu.vllm_engines} x "
                                            f"tensor_parallel={gpu.tensor_parallel}")
                 + (" + a reference model (loss.kl_coef > 0)" if reference_model
                    and not gpu.colocate else ""))
        return [f"[openrlhf] asks for {needed} GPU(s) ({shape}) but the Ray cluster at "
                f"{gpu.ray_address} reports "
                f"{have:g}; lower gpus_per_node/vllm_engines, set colocate = true, or add "
                "nodes to the cluster"]
    return []


def preflight(gpu: OpenRLHFConfig, reference_model: bool, *,
              cluster_gpus: Callable[[str], float] = ray_cluster_gpus,
              versions: Callable[[], list[str]] = version_problems) -> None:
    """Raise `PreflightError` listing every problem; return quietly when the job can start.
    The cluster is only asked when the model and versions are fine (asking waits for the
    dashboard, up to 30 s when it does not answer)."""
    problems = model_problems(gpu.model) + versions()
    if not problems:
        problems += gpu_problems(gpu, reference_model, cluster_gpus)
    if problems:
        raise PreflightError(problems)

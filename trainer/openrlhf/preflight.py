"""Checks that run before any GPU work: the model exists, Ray has the GPUs the config asks
for, and the GPU stack is within the pinned versions. Every problem is collected (not just
the first) and says what to change."""

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


def ray_cluster_gpus() -> float:
    """GPUs of the running Ray cluster (`ray start --head` first). Connects as a driver,
    reads the cluster's resources and disconnects."""
    import logging

    import ray

    ray.init(address="auto", logging_level=logging.ERROR, log_to_driver=False)
    try:
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        return float(resources.get("GPU", 0.0))
    finally:
        ray.shutdown()


def gpu_problems(gpu: OpenRLHFConfig, reference_model: bool,
                 cluster_gpus: Callable[[], float]) -> list[str]:
    """The config's GPU need against what Ray reports."""
    needed = gpu.gpus_needed(reference_model)
    try:
        have = cluster_gpus()
    except Exception as error:  # no cluster, or Ray is not installed
        return [f"cannot ask Ray for its GPUs ({type(error).__name__}: {error}); start a "
                "cluster with `ray start --head` (and `ray start --address=HEAD:6379` on "
                "the other nodes)"]
    if have < needed:
        shape = (f"nodes={gpu.nodes} x gpus_per_node={gpu.gpus_per_node}"
                 + ("" if gpu.colocate else f" + vllm_engines={gpu.vllm_engines} x "
                                            f"tensor_parallel={gpu.tensor_parallel}")
                 + (" + a reference model (loss.kl_coef > 0)" if reference_model
                    and not gpu.colocate else ""))
        return [f"[openrlhf] asks for {needed} GPU(s) ({shape}) but Ray reports "
                f"{have:g}; lower gpus_per_node/vllm_engines, set colocate = true, or add "
                "nodes to the cluster"]
    return []


def preflight(gpu: OpenRLHFConfig, reference_model: bool, *,
              cluster_gpus: Callable[[], float] = ray_cluster_gpus,
              versions: Callable[[], list[str]] = version_problems) -> None:
    """Raise `PreflightError` listing every problem; return quietly when the job can start.
    The GPU count is only asked for when the model and versions are fine (asking starts a
    Ray driver)."""
    problems = model_problems(gpu.model) + versions()
    if not problems:
        problems += gpu_problems(gpu, reference_model, cluster_gpus)
    if problems:
        raise PreflightError(problems)

"""Project-wide pytest hooks: tests marked `gpu` skip, with a reason, where no CUDA GPU exists.

On a machine with a CUDA GPU nothing is skipped by this hook: the tests run for real.
"""

from __future__ import annotations

import functools

import pytest


@functools.cache
def cuda_unavailable_reason() -> str | None:
    """Why CUDA cannot be used here, or None when a CUDA GPU is present."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU on this machine"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add a skip marker to every `gpu` test when CUDA is unavailable."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items:
        return
    reason = cuda_unavailable_reason()
    if reason is None:
        return
    for item in gpu_items:
        item.add_marker(pytest.mark.skip(reason=f"gpu test skipped: {reason}"))


@pytest.fixture
def requires_gpu() -> None:
    """Skip the requesting test unless a CUDA GPU is present."""
    reason = cuda_unavailable_reason()
    if reason is not None:
        pytest.skip(f"needs a CUDA GPU: {reason}")

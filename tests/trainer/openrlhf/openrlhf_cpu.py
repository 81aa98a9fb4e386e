"""Run OpenRLHF 0.11.2's real trainer-side code on a CPU. Tests only.

OpenRLHF's trainer modules import two packages that exist only as CUDA builds: flash-attn
(`openrlhf.models.ring_attn_utils`, for ring attention) and vLLM (`samples_generator`
builds vLLM `SamplingParams`; `trainer.ray.vllm_engine` hosts the engines). Everything else
they import (torch, transformers, peft, DeepSpeed, torchdata, Ray, datasets) is the real
package. `cuda_module_doubles` stands in for exactly the names those two packages are
imported for at module level; a test that reaches code needing them for real (a vLLM engine,
a flash-attention kernel) gets `CudaOnlyError`.

`openrlhf_modules` is a context manager that installs the doubles, yields, and then removes
every `openrlhf`, `vllm` and `flash_attn` module imported meanwhile, so the doubles never
leak into other tests (a GPU test's `importorskip("vllm")` must still skip here).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

DOUBLED = ("vllm", "flash_attn")
"""Top-level packages replaced by doubles (CUDA-only builds)."""


class CudaOnlyError(RuntimeError):
    """Raised by a double when a test reaches code that needs the CUDA-only package."""


def _cuda_only(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise CudaOnlyError(f"{name} needs the CUDA build of its package")

    return call


class SamplingParamsDouble:
    """vLLM's `SamplingParams` as OpenRLHF's samples generator builds it (keeps the keyword
    arguments; nothing samples with it on a CPU)."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)


def cuda_module_doubles() -> dict[str, ModuleType]:
    """The module doubles, by module name."""
    modules = {name: ModuleType(name) for name in (
        "vllm", "vllm.inputs", "vllm.utils", "flash_attn", "flash_attn.bert_padding",
        "flash_attn.utils", "flash_attn.utils.distributed")}
    for name, module in modules.items():
        # `importlib.util.find_spec` (transformers probes for flash_attn) needs a spec; no
        # distribution metadata exists, so version checks still find the package absent
        module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    vllm = modules["vllm"]
    vllm.__version__ = "0.29.0"  # type: ignore[attr-defined]
    vllm.SamplingParams = SamplingParamsDouble  # type: ignore[attr-defined]
    vllm.AsyncEngineArgs = _cuda_only("vllm.AsyncEngineArgs")  # type: ignore[attr-defined]
    vllm.AsyncLLMEngine = _cuda_only("vllm.AsyncLLMEngine")  # type: ignore[attr-defined]
    vllm.inputs = modules["vllm.inputs"]  # type: ignore[attr-defined]
    vllm.utils = modules["vllm.utils"]  # type: ignore[attr-defined]
    modules["vllm.inputs"].TokensPrompt = dict  # type: ignore[attr-defined]
    modules["vllm.utils"].random_uuid = _cuda_only("vllm.utils.random_uuid")  # type: ignore[attr-defined]
    padding = modules["flash_attn.bert_padding"]
    for name in ("index_first_axis", "pad_input", "rearrange", "unpad_input"):
        setattr(padding, name, _cuda_only(f"flash_attn.bert_padding.{name}"))
    modules["flash_attn.utils.distributed"].all_gather = _cuda_only(  # type: ignore[attr-defined]
        "flash_attn.utils.distributed.all_gather")
    return modules


def missing_for_harness() -> str | None:
    """Why OpenRLHF's trainer modules cannot be imported here (a package is missing), or
    None when they can."""
    for name in ("openrlhf", "torch", "transformers", "peft", "deepspeed", "torchdata", "ray",
                 "datasets"):
        if importlib.util.find_spec(name) is None:
            return f"{name} is not installed (see the Makefile's setup for the CPU pieces)"
    return None


def install_doubles() -> None:
    """Put the module doubles in `sys.modules` for good (for a child process)."""
    sys.modules.update(cuda_module_doubles())


@contextmanager
def openrlhf_modules() -> Iterator[None]:
    """Install the doubles for the duration; afterwards forget every module of OpenRLHF,
    vLLM and flash-attn imported meanwhile (and the doubles)."""
    before = set(sys.modules)
    saved = {name: sys.modules[name] for name in cuda_module_doubles() if name in sys.modules}
    install_doubles()
    try:
        yield
    finally:
        for name in set(sys.modules) - before:
            if name.split(".")[0] in (*DOUBLED, "openrlhf"):
                del sys.modules[name]
        for name in cuda_module_doubles():
            sys.modules.pop(name, None)
        sys.modules.update(saved)

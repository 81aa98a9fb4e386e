"""Write the policy's peft LoRA adapter as a GGUF LoRA adapter that llama.cpp loads.

The file follows llama.cpp's own converter (`convert_lora_to_gguf.py`): `general.type =
adapter`, `adapter.type = lora`, `adapter.lora.alpha`, and for every adapted base tensor
`<name>.lora_a` (peft's `A`, `[rank, in]`) and `<name>.lora_b` (`B`, `[out, rank]`), float32.
llama.cpp adds `scale * alpha / rank * B·A·x` to the base output (`scale` is given when the
adapter is applied; 1.0 reproduces peft), so `alpha = scaling * rank` reproduces peft's
`scaling` exactly; a module whose `scaling * rank` differs from the first module's has the
ratio folded into its `B`.

Names and the attn_q/attn_k row order come from `trainer.gguf_layout`: `B` is permuted like
the base weight's rows (the delta `P·(B·A)` is `(P·B)·A`); `A` is unchanged.

The file is written next to its destination and renamed over it, so a reader never sees a
half-written adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trainer.gguf_layout import BaseGguf, GgufExportError, atomic_gguf


@dataclass(frozen=True)
class LoraTensors:
    """One adapted base tensor in llama.cpp's layout."""

    name: str
    """The base tensor's GGUF name, e.g. `blk.0.attn_q.weight`."""
    a: NDArray[np.float32]
    """`[rank, in]`."""
    b: NDArray[np.float32]
    """`[out, rank]`, rows in llama.cpp's order, with any per-module scaling ratio folded in."""


@dataclass(frozen=True)
class LoraAdapter:
    """The adapter of a peft model, ready to write: its tensors and llama.cpp's alpha."""

    tensors: tuple[LoraTensors, ...]
    alpha: float


def lora_adapter(model: Any, base: BaseGguf) -> LoraAdapter:
    """The active LoRA adapter of the peft model `model` in `base`'s names and layout.

    Raises `GgufExportError` for what llama.cpp's LoRA cannot express: no LoRA layers, several
    active adapters, DoRA, adapters already merged into the base weights, or a module that has
    no tensor (or a tensor of another shape) in `base`.
    """
    from peft.tuners.lora import LoraLayer

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    found: list[tuple[str, Any, Any, float]] = []  # (gguf name, A, B, scaling * rank)
    for module_name, module in inner.named_modules():
        if not isinstance(module, LoraLayer):
            continue
        adapters = [n for n in module.active_adapters if n in module.lora_A]
        if not adapters:
            continue
        if len(adapters) > 1:
            raise GgufExportError(f"{module_name}: {len(adapters)} active LoRA adapters; "
                                  "llama.cpp applies one adapter file")
        adapter = adapters[0]
        if module.use_dora.get(adapter, False):
            raise GgufExportError(f"{module_name}: DoRA adapters have no llama.cpp form")
        if module.merged:
            raise GgufExportError(f"{module_name}: the adapter is merged into the base weight")
        name = base.tensor_name(module_name)
        a: Any = module.lora_A[adapter].weight
        b: Any = module.lora_B[adapter].weight
        found.append((name, a, b, float(module.scaling[adapter]) * int(a.shape[0])))
    if not found:
        raise GgufExportError("the policy has no active LoRA layers to export")
    alpha = found[0][3]
    tensors = []
    for name, a_weight, b_weight, alpha_here in found:
        a = a_weight.detach().float().cpu().numpy()
        b = b_weight.detach().float().cpu().numpy()
        if alpha_here != alpha:
            b = b * np.float32(alpha_here / alpha)
        rows, columns = base.shapes[name]
        if a.shape[1] != columns or b.shape[0] != rows:
            raise GgufExportError(f"{name}: LoRA shapes {a.shape} x {b.shape} do not fit the "
                                  f"base tensor {rows} x {columns}")
        tensors.append(LoraTensors(name=name, a=np.ascontiguousarray(a, dtype=np.float32),
                                   b=np.ascontiguousarray(base.to_gguf_rows(name, b),
                                                          dtype=np.float32)))
    return LoraAdapter(tensors=tuple(tensors), alpha=alpha)


def write_lora_gguf(adapter: LoraAdapter, base: BaseGguf, path: str | Path) -> Path:
    """Write `adapter` as a GGUF LoRA adapter for `base` to `path`, atomically; return it."""
    import gguf

    with atomic_gguf(path, base.architecture) as writer:
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, adapter.alpha)
        for tensors in adapter.tensors:
            writer.add_tensor(f"{tensors.name}.lora_a", tensors.a)
            writer.add_tensor(f"{tensors.name}.lora_b", tensors.b)
    return Path(path)


def export_lora(model: Any, base: BaseGguf, path: str | Path) -> Path:
    """`lora_adapter` then `write_lora_gguf`: the policy's current adapter as a file."""
    return write_lora_gguf(lora_adapter(model, base), base, path)

"""Write the policy's full weights as a GGUF model llama.cpp loads: the full fine-tuning path.

A fully fine-tuned policy changes every weight, so no adapter can carry it: the whole model
is written, with the base GGUF's metadata (architecture, hyper-parameters, tokenizer, chat
template) copied and every tensor replaced by the policy's current value in llama.cpp's names
and layout (`trainer.gguf_layout`). A peft model is written merged (`W + scaling * B·A`), so
the same function also bakes a LoRA policy into a standalone model.

Matrices are written as Q8_0 (default; ~145 MB for SmolLM2-135M, decodes faster than F16 on a
CPU) or F16/F32; norms stay F32. The file is written next to its destination and renamed over
it, so a reader never sees a half-written model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from trainer.gguf_layout import BaseGguf, GgufExportError, atomic_gguf

TensorType = Literal["q8_0", "f16", "f32"]
SKIPPED_KEYS = frozenset({"general.architecture", "general.file_type"})
"""Written by the writer itself (`general.architecture`) or from the chosen type."""


def merged_weights(model: Any, base: BaseGguf, lora: bool = True
                   ) -> dict[str, NDArray[np.float32]]:
    """Every weight of `model` (LoRA merged in; the frozen base alone with `lora=False`) by
    GGUF tensor name, in llama.cpp's layout; `GgufExportError` when a GGUF tensor has no
    counterpart in the model or shapes differ."""
    from peft.tuners.lora import LoraLayer

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    lora_modules = {name: module for name, module in inner.named_modules()
                    if isinstance(module, LoraLayer)}
    weights: dict[str, NDArray[np.float32]] = {}
    for parameter_name, parameter in inner.named_parameters():
        if ".lora_" in parameter_name or not parameter_name.endswith(".weight"):
            continue
        module_name = parameter_name.removesuffix(".weight").removesuffix(".base_layer")
        value = parameter.detach().float().cpu().numpy()
        layer = lora_modules.get(module_name)
        if layer is not None and lora:
            value = value + _lora_delta(layer, module_name)
        name = base.tensor_name(module_name)
        if value.shape != base.shapes[name]:
            raise GgufExportError(f"{module_name}: shape {value.shape} but {name} is "
                                  f"{base.shapes[name]}")
        weights[name] = np.ascontiguousarray(base.to_gguf_rows(name, value), dtype=np.float32)
    missing = sorted(set(base.shapes) - set(weights))
    if missing:
        raise GgufExportError(f"the policy has no weights for {len(missing)} tensors of "
                              f"{base.path.name}: {', '.join(missing[:3])}")
    return weights


def write_merged_gguf(weights: dict[str, NDArray[np.float32]], base: BaseGguf, reader: Any,
                      path: str | Path, tensor_type: TensorType = "q8_0") -> Path:
    """Write `weights` (from `merged_weights`) as a GGUF model with the metadata of the base
    file open in `reader`, in the base file's tensor order, atomically; return the path."""
    import gguf
    from gguf.quants import quantize

    file_types = {"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "f16": gguf.LlamaFileType.MOSTLY_F16,
                  "f32": gguf.LlamaFileType.ALL_F32}
    with atomic_gguf(path, base.architecture) as writer:
        for field in reader.fields.values():
            if field.name.startswith("GGUF.") or field.name in SKIPPED_KEYS:
                continue
            array = field.types[0] == gguf.GGUFValueType.ARRAY
            writer.add_key_value(field.name, field.contents(), field.types[0],
                                 sub_type=field.types[-1] if array else None)
        writer.add_file_type(file_types[tensor_type])
        for tensor in reader.tensors:
            value = weights[tensor.name]
            if value.ndim < 2 or tensor_type == "f32":
                writer.add_tensor(tensor.name, value)
            elif tensor_type == "f16":
                writer.add_tensor(tensor.name, value.astype(np.float16))
            else:
                writer.add_tensor(tensor.name, quantize(value, gguf.GGMLQuantizationType.Q8_0),
                                  raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    return Path(path)


def _lora_delta(layer: Any, module_name: str) -> NDArray[np.float32]:
    """`scaling * B·A` of the layer's active adapter (0 when it is merged or inactive)."""
    total: NDArray[np.float32] | None = None
    for adapter in layer.active_adapters:
        if adapter not in layer.lora_A or layer.merged:
            continue
        if layer.use_dora.get(adapter, False):
            raise GgufExportError(f"{module_name}: DoRA adapters are not supported")
        a = layer.lora_A[adapter].weight.detach().float().cpu().numpy()
        b = layer.lora_B[adapter].weight.detach().float().cpu().numpy()
        delta = np.float32(layer.scaling[adapter]) * (b @ a)
        total = delta if total is None else total + delta
    return total if total is not None else np.zeros((), dtype=np.float32)

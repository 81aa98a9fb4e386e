"""Rollouts on llama.cpp with the policy's live weights: the CPU weight sync.

The trainer updates the policy in torch; rollouts decode 3-5x faster in llama.cpp. After every
update `LiveWeights.sync()` writes the policy's LoRA adapter as a GGUF adapter
(`trainer.gguf_lora`) and hot-swaps it into the running `LlamaCppEngine` (`set_adapter`), the
CPU counterpart of OpenRLHF/verl pushing weights from the trainer to vLLM. The engine keeps the
quantised base model loaded; only the adapter (a few MB) is written and read.

Use:

    engine = llamacpp_engine_for(config.policy)          # the policy's base GGUF
    live = LiveWeights(engine, policy.model, config.policy, run_dir / "live")
    live.sync()                   # once before the first rollout (and after a resume)
    ...rollout with engine... ; update_policy(...) ; live.sync()   # after every update

A fully fine-tuned policy (`policy.finetune = "full"`) changes every weight: `sync()` then
writes the whole model as a Q8_0 GGUF (`trainer.gguf_merged`, seconds for 135M parameters)
and reloads it in the engine (`load_model`), still without restarting the process. Only a GGUF
base (`policy.model = "embedded"`) is supported: a Hugging Face directory has no GGUF for
llama.cpp.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer.config import PolicyConfig
from trainer.embedded import embedded_gguf_path
from trainer.gguf_layout import BaseGguf, GgufExportError, check_base_weights, open_gguf
from trainer.gguf_lora import export_lora
from trainer.gguf_merged import TensorType, merged_weights, write_merged_gguf

if TYPE_CHECKING:
    from runtime.engines.llama_native import ContextSettings
    from runtime.engines.llamacpp import LlamaCppEngine

ADAPTER_FILE = "policy-lora.gguf"
MODEL_FILE = "policy-full.gguf"
CHECKED_MODULES = ("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj")
"""Base weights compared with the GGUF when `LiveWeights` starts (q and k: the permuted ones)."""


@dataclass(frozen=True)
class WeightSync:
    """One `LiveWeights.sync`: the adapter file it wrote and where the time went."""

    version: int
    """1 for the first sync, then 2, 3, ..."""
    path: Path
    bytes: int
    export_s: float
    """Reading the adapter out of torch and writing the GGUF file."""
    wait_s: float
    """Waiting for requests submitted before the sync to finish (0 between rollouts)."""
    apply_s: float
    """llama.cpp loading and applying the adapter (or reloading the model) and clearing its
    KV cache."""

    @property
    def total_s(self) -> float:
        return self.export_s + self.wait_s + self.apply_s


def policy_base_gguf(policy: PolicyConfig) -> Path:
    """The GGUF file llama.cpp serves for `policy`: the embedded model's; `GgufExportError`
    for a Hugging Face directory (it has no GGUF to put an adapter on)."""
    if policy.model != "embedded":
        raise GgufExportError(f"policy.model = {policy.model!r}: llama.cpp rollouts need a "
                              "GGUF base model; only 'embedded' is supported")
    return embedded_gguf_path()


def write_base_gguf(model: Any, policy: PolicyConfig, path: str | Path,
                    tensor_type: TensorType = "f16") -> Path:
    """Write the frozen base weights of the LoRA policy `model` (adapters left out) as a GGUF
    of `tensor_type`, with `policy`'s base GGUF metadata; return the path.

    Why: llama.cpp's quantised matrix products (Q4_1, Q8_0) quantise activations too, and
    their logprobs stray from torch's (mean |Δ| 0.05-0.07, 2-7% of importance ratios outside
    1 ± 0.2); an F16 copy of the same weights brought that to 0.002 (ratios within 0.98-1.04)
    and decoded no slower here (docs/training.md). 271 MB, ~2 s for SmolLM2-135M."""
    base_path = policy_base_gguf(policy)
    reader = open_gguf(base_path)
    base = BaseGguf.read(base_path, reader)
    return write_merged_gguf(merged_weights(model, base, lora=False), base, reader, path,
                             tensor_type)


def llamacpp_engine_for(policy: PolicyConfig, settings: ContextSettings | None = None,
                        name: str = "llamacpp-policy",
                        base_file: str | Path | None = None,
                        decode_lock: threading.Lock | None = None) -> LlamaCppEngine:
    """A llama.cpp engine on the base GGUF of `policy`, or on `base_file` (a
    `write_base_gguf` copy of it); no adapter applied yet. Engines sharing `decode_lock`
    take turns decoding."""
    from runtime.engines.llamacpp import LlamaCppEngine

    model_path = policy_base_gguf(policy) if base_file is None else Path(base_file)
    return LlamaCppEngine(model_path, settings=settings, name=name, decode_lock=decode_lock)


class LiveWeights:
    """Keeps a `LlamaCppEngine` decoding with the current weights of a policy."""

    def __init__(self, engine: LlamaCppEngine, model: Any, policy: PolicyConfig,
                 directory: str | Path, scale: float = 1.0,
                 full_tensor_type: TensorType = "q8_0") -> None:
        """For a LoRA policy, check that `model`'s frozen base weights are `engine`'s GGUF in
        llama.cpp's layout, so the adapter lands on the weights it was trained on
        (`GgufExportError` otherwise). Files go to `directory`; `scale` multiplies the
        adapter; `full_tensor_type` is the matrix type of full fine-tuning's model file."""
        self.engine = engine
        self.model = model
        self.full = policy.finetune == "full"
        self.scale = scale
        self.full_tensor_type = full_tensor_type
        self.directory = Path(directory)
        self._reader = open_gguf(engine.model_path)
        self.base = BaseGguf.read(engine.model_path, self._reader)
        # A full fine-tune's weights have moved from the base once training ran (resume).
        self.base_difference = None if self.full else check_base_weights(
            self.base, _base_weights(model), self._reader)
        self.version = 0
        self.history: list[WeightSync] = []

    @property
    def adapter_path(self) -> Path:
        return self.directory / (MODEL_FILE if self.full else ADAPTER_FILE)

    def sync(self) -> WeightSync:
        """Export the policy's adapter now and hot-swap it into the engine. Call it after
        every optimiser step (and once before the first rollout). Requests already submitted
        to the engine finish on the old weights."""
        began = time.perf_counter()
        if self.full:
            path = write_merged_gguf(merged_weights(self.model, self.base), self.base,
                                     self._reader, self.adapter_path, self.full_tensor_type)
        else:
            path = export_lora(self.model, self.base, self.adapter_path)
        exported = time.perf_counter()
        swap = (self.engine.load_model(path) if self.full
                else self.engine.set_adapter(path, self.scale))
        self.version += 1
        record = WeightSync(version=self.version, path=path, bytes=path.stat().st_size,
                            export_s=exported - began, wait_s=swap.wait_s,
                            apply_s=swap.apply_s)
        self.history.append(record)
        return record

    def clear(self) -> None:
        """Return the engine to the base weights (no adapter; the base file reloaded after
        full fine-tuning)."""
        if self.full:
            self.engine.load_model(self.base.path)
        else:
            self.engine.set_adapter(None)


def _base_weights(model: Any) -> list[tuple[str, Any]]:
    """The frozen base weights of `CHECKED_MODULES` (under peft's `base_layer` when wrapped)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    weights = []
    for name in CHECKED_MODULES:
        try:
            module = inner.get_submodule(name)
        except AttributeError:
            continue
        layer = getattr(module, "base_layer", module)
        weights.append((name, layer.weight))
    if not weights:
        raise GgufExportError("the policy has none of the attention projections "
                              f"{', '.join(CHECKED_MODULES)}: not a llama-style model")
    return weights

"""LoRA training with vLLM rollouts: send vLLM merged weights under the base model's names.

OpenRLHF 0.11.2's `ActorPPOTrainer.broadcast_to_vllm` sends every parameter of the trained
model to the vLLM engines by name. With LoRA the model is a PEFT model, so the names are
`base_model.model.….q_proj.base_layer.weight` and `….lora_A.default.weight`, which vLLM's
`load_weights` does not know: step 1 ends in an error (OpenRLHF issue #1349). vLLM holds the
plain model, so what it needs is each adapted layer's merged weight `W + scaling · B·A` under
the plain name (`model.layers.0.self_attn.q_proj.weight`) and every other parameter under its
plain name. `merged_weights` computes them one layer at a time (under ZeRO-3 each layer is
gathered while it is sent), never touching the trained weights (no merge/unmerge round trip,
which would drift in bf16); `broadcast_merged_to_vllm` replaces OpenRLHF's method in the
policy actors (`trainer.openrlhf.install`) and sends them with OpenRLHF's own two transports
(CUDA IPC when colocated, else a broadcast from rank 0).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

PEFT_PREFIX = "base_model.model."
BASE_LAYER = ".base_layer"
LORA_MARK = ".lora_"

Gather = Callable[[list[Any]], contextlib.AbstractContextManager[Any]]
"""Makes a set of parameters whole while the context lasts (DeepSpeed ZeRO-3)."""


def no_gather(parameters: list[Any]) -> contextlib.AbstractContextManager[Any]:
    """Parameters that are whole already (ZeRO-0/1/2, or no DeepSpeed)."""
    return contextlib.nullcontext()


def plain_name(peft_name: str) -> str:
    """The base model's name of a PEFT parameter: without the `base_model.model.` prefix and
    the `.base_layer` level LoRA inserts."""
    name = peft_name.removeprefix(PEFT_PREFIX)
    return name.replace(BASE_LAYER + ".", ".")


def _lora_layers(model: Any) -> dict[str, Any]:
    from peft.tuners.lora import LoraLayer

    return {name: module for name, module in model.named_modules()
            if isinstance(module, LoraLayer)}


def sync_names(model: Any) -> list[str]:
    """The PEFT names of the parameters that are sent (every one but the adapters')."""
    return [name for name, _ in model.named_parameters() if LORA_MARK not in name]


def merged_weights(model: Any, gather: Gather = no_gather) -> Iterator[tuple[str, Any]]:
    """`(plain name, tensor)` for every parameter of a PEFT LoRA model as vLLM must hold it:
    an adapted layer's weight is `W + Σ scaling·B·A` over its active adapters (computed in
    float32, returned in W's dtype), everything else is sent as it is. The tensor is only
    valid until the next item (under ZeRO-3 the layer is gathered just for it)."""
    import torch

    layers = _lora_layers(model)
    for name, parameter in model.named_parameters():
        if LORA_MARK in name:
            continue
        layer = layers.get(name.rsplit(BASE_LAYER, 1)[0]) if name.endswith(
            BASE_LAYER + ".weight") else None
        if layer is None:
            with gather([parameter]):
                yield plain_name(name), parameter.data
            continue
        with gather(list(layer.parameters())), torch.no_grad():
            if getattr(layer, "merged", False):  # the adapters are in W already
                yield plain_name(name), parameter.data
                continue
            merged = parameter.data.to(torch.float32)
            for adapter in layer.active_adapters:
                if adapter in layer.lora_A:
                    merged = merged + layer.get_delta_weight(adapter).to(torch.float32)
            yield plain_name(name), merged.to(parameter.dtype).contiguous()


def broadcast_merged_to_vllm(self: Any) -> None:
    """`ActorPPOTrainer.broadcast_to_vllm` for a LoRA policy: OpenRLHF 0.11.2's method, with
    the parameters replaced by `merged_weights`. Runs on every actor rank (ZeRO-3 gathers and
    the CUDA IPC hand-over are collective)."""
    import ray
    import torch
    from openrlhf.utils.distributed_util import torch_dist_barrier_and_cuda_sync

    args = self.strategy.args
    first = torch.distributed.get_rank() == 0
    resets = ([engine.reset_prefix_cache.remote() for engine in self.vllm_engines]
              if getattr(args.vllm, "enable_prefix_caching", False) and first else [])
    torch.cuda.empty_cache()
    model = self.actor.model.module
    count = len(sync_names(model))
    send = _send_by_cuda_ipc if self.use_cuda_ipc else _send_by_broadcast
    for number, (name, tensor) in enumerate(merged_weights(model, _zero3_gather(args)),
                                            start=1):
        send(self, name, tensor, number == count)
    if resets:
        ray.get(resets)
    torch.cuda.empty_cache()
    torch_dist_barrier_and_cuda_sync()


def _zero3_gather(args: Any) -> Gather:
    if args.ds.zero_stage != 3:
        return no_gather
    if getattr(args.ds, "tensor_parallel_size", 1) > 1:
        raise NotImplementedError("LoRA weight sync with DeepSpeed tensor parallelism")
    import deepspeed

    def gather(parameters: list[Any]) -> contextlib.AbstractContextManager[Any]:
        return deepspeed.zero.GatheredParameters(parameters, enabled=True)  # type: ignore[no-any-return]

    return gather


def _send_by_broadcast(self: Any, name: str, tensor: Any, last: bool) -> None:
    """Rank 0 tells every engine to receive `name`, then broadcasts it (OpenRLHF's path when
    the engines do not share the actor's GPUs)."""
    import ray
    import torch

    if torch.distributed.get_rank() != 0:
        return
    refs = [engine.update_weight.remote(name, dtype=tensor.dtype, shape=tensor.shape,
                                        empty_cache=last)
            for engine in self.vllm_engines]
    if getattr(self.strategy.args.vllm, "sync_with_ray", False):
        import ray.util.collective as collective

        collective.broadcast(tensor, 0, group_name=self._model_update_group)
    else:
        self._model_update_group.broadcast(tensor, src=0, stream=torch.cuda.current_stream())
    ray.get(refs)


def _send_by_cuda_ipc(self: Any, name: str, tensor: Any, last: bool) -> None:
    """Every rank shares its copy by CUDA IPC; rank 0 tells the colocated engines where each
    GPU's copy is (OpenRLHF's path with `--train.colocate_all`)."""
    import ray
    import torch
    from openrlhf.trainer.ray.utils import get_physical_gpu_id
    from openrlhf.utils.distributed_util import torch_dist_barrier_and_cuda_sync
    from torch.multiprocessing.reductions import reduce_tensor

    weight = tensor.clone()
    handles: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(
        handles, {get_physical_gpu_id(): reduce_tensor(weight)})  # type: ignore[no-untyped-call]
    if torch.distributed.get_rank() == 0:
        merged_handles: dict[Any, Any] = {}
        for handle in handles:
            merged_handles.update(handle)
        ray.get([engine.update_weight_cuda_ipc.remote(name, dtype=weight.dtype,
                                                      shape=weight.shape,
                                                      ipc_handles=merged_handles,
                                                      empty_cache=last)
                 for engine in self.vllm_engines])
    torch_dist_barrier_and_cuda_sync()

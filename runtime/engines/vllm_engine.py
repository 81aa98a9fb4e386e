"""vLLM engines hosted in Ray actors: one actor per GPU (or per tensor-parallel group).

`VLLMEngine` reserves GPUs with a Ray placement group (one bundle per GPU, packed), starts
`num_engines` actors, each holding a vLLM `AsyncLLMEngine`, and spreads requests over them
round-robin. Every request goes to its actor as its own call, so vLLM's continuous batching
merges concurrent requests from all callers. Sampling uses vLLM ≥ 0.12's API:
`SamplingParams(..., logprobs=1, structured_outputs=StructuredOutputsParams(grammar=...))`.

Importing this module needs neither vLLM, Ray nor a GPU; constructing the engine checks all
three and raises `EngineError` saying what is missing. The project must be importable on the
Ray nodes (an editable install does it), because actors unpickle `VLLMWorker` by module path.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import os
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Any

from runtime.engines.base import Capabilities, ChatRequest, Completion, EngineError, FinishReason
from runtime.engines.decode_state import replayed_completion
from runtime.engines.prompt import PromptError, hf_detokenizer, hf_encoder, hf_end_of_turn_ids


@dataclass(frozen=True)
class VLLMConfig:
    """How many engines to start, and the vLLM engine arguments they share."""

    model: str
    """A local model directory (or GGUF file): nothing is downloaded at run time."""
    num_engines: int = 1
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.85
    max_model_len: int | None = None
    dtype: str = "auto"
    seed: int = 0
    enable_prefix_caching: bool = True
    enforce_eager: bool = False
    ray_address: str | None = None
    """Address of a running Ray cluster; None starts (or joins) a local one."""
    placement_timeout_s: float = 300.0


def _require_gpu_stack() -> None:
    """Raise `EngineError` naming the first missing piece: vLLM, Ray or a CUDA GPU."""
    try:
        import vllm  # noqa: F401
    except ImportError as error:
        raise EngineError(
            f"the vLLM engine needs vllm (a CUDA build: pip install 'vllm>=0.12'): {error}"
        ) from error
    try:
        import ray  # noqa: F401
    except ImportError as error:
        hint = "pip install 'ray[default]'"
        raise EngineError(f"the vLLM engine needs ray ({hint}): {error}") from error
    import torch

    if not torch.cuda.is_available():
        raise EngineError("the vLLM engine needs a CUDA GPU, and torch sees none on this machine")


class VLLMEngine:
    """An `Engine` over one or more vLLM engines in Ray actors."""

    def __init__(self, config: VLLMConfig, *, name: str = "vllm") -> None:
        if config.num_engines < 1 or config.tensor_parallel_size < 1:
            raise EngineError("num_engines and tensor_parallel_size must both be at least 1")
        _require_gpu_stack()
        import ray
        from ray.util.placement_group import placement_group, remove_placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        self.name = name
        self.config = config
        if not ray.is_initialized():
            ray.init(address=config.ray_address, ignore_reinit_error=True)
        group_size = config.tensor_parallel_size
        bundles = [{"GPU": 1, "CPU": 1} for _ in range(config.num_engines * group_size)]
        self._placement_group = placement_group(bundles, strategy="PACK")
        try:
            ray.get(self._placement_group.ready(), timeout=config.placement_timeout_s)
        except Exception as error:
            remove_placement_group(self._placement_group)
            raise EngineError(
                f"Ray could not reserve {len(bundles)} GPU(s) within "
                f"{config.placement_timeout_s:.0f} s: {error}"
            ) from error

        remote_worker = ray.remote(VLLMWorker)
        self._workers: list[Any] = []
        for index in range(config.num_engines):
            first_bundle = index * group_size
            bundle_indices = list(range(first_bundle, first_bundle + group_size))
            strategy = PlacementGroupSchedulingStrategy(
                placement_group=self._placement_group,
                placement_group_capture_child_tasks=True,
                placement_group_bundle_index=first_bundle,
            )
            # With tensor parallelism vLLM starts its own Ray workers inside the bundles, so the
            # hosting actor takes no GPU itself (the layout OpenRLHF uses).
            gpus = 1 if group_size == 1 else 0
            self._workers.append(
                remote_worker.options(
                    num_cpus=gpus, num_gpus=gpus, scheduling_strategy=strategy
                ).remote(_engine_arguments(config, index), bundle_indices)
            )
        try:
            lengths = ray.get([worker.max_model_len.remote() for worker in self._workers])
        except Exception as error:
            self._shutdown_now()
            raise EngineError(f"vLLM failed to start on {config.model!r}: {error}") from error
        self._next_worker = itertools.cycle(range(len(self._workers)))
        self.capabilities = Capabilities(
            batching=True, logprobs=True, grammar=True, token_ids=True, max_context=min(lengths),
            continuation=True,
        )

    async def generate(self, requests: list[ChatRequest]) -> list[Completion]:
        """Send each request to the next actor; vLLM batches them; results come back in order."""
        import asyncio

        if not self._workers:
            raise EngineError(f"engine {self.name!r} is closed")
        references = [
            self._workers[next(self._next_worker)].complete.remote(request) for request in requests
        ]
        try:
            return list(await asyncio.gather(*references))
        except Exception as error:  # a dead actor or a vLLM crash
            raise EngineError(f"vLLM actor failed: {error}") from error

    async def close(self) -> None:
        """Shut the vLLM engines down, end the actors and free the GPUs."""
        self._shutdown_now()

    def _shutdown_now(self) -> None:
        import ray
        from ray.util.placement_group import remove_placement_group

        for worker in self._workers:
            with contextlib.suppress(Exception):  # best effort: the actor is killed next anyway
                ray.get(worker.shutdown.remote(), timeout=60)
            ray.kill(worker)
        self._workers = []
        remove_placement_group(self._placement_group)


def _engine_arguments(config: VLLMConfig, index: int) -> dict[str, Any]:
    """`AsyncEngineArgs` keywords for engine `index` (each engine gets its own seed)."""
    arguments = asdict(config)
    for key in ("num_engines", "ray_address", "placement_timeout_s"):
        arguments.pop(key)
    arguments["seed"] = config.seed + index
    arguments["distributed_executor_backend"] = "uni" if config.tensor_parallel_size == 1 else "ray"
    arguments["max_logprobs"] = 1
    if arguments["max_model_len"] is None:
        arguments.pop("max_model_len")
    return arguments


def sampling_params(request: ChatRequest) -> Any:
    """The vLLM `SamplingParams` for one request: sampled-token logprobs, optional grammar."""
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    sampling = request.sampling
    structured = (
        StructuredOutputsParams(grammar=request.grammar) if request.grammar is not None else None
    )
    return SamplingParams(
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        max_tokens=sampling.max_tokens,
        seed=sampling.seed,
        stop=list(sampling.stop) or None,
        logprobs=1,
        structured_outputs=structured,
    )


class VLLMWorker:
    """Ray actor body: one vLLM `AsyncLLMEngine`, chat templating, and result conversion."""

    def __init__(self, engine_arguments: dict[str, Any], bundle_indices: list[int]) -> None:
        if engine_arguments["distributed_executor_backend"] == "ray":
            # Let vLLM place its tensor-parallel workers on this engine's bundles.
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            os.environ["VLLM_RAY_PER_WORKER_GPUS"] = "1"
            os.environ["VLLM_RAY_BUNDLE_INDICES"] = ",".join(map(str, bundle_indices))
        import vllm

        self._arguments = engine_arguments
        self._engine = vllm.AsyncLLMEngine.from_engine_args(
            vllm.AsyncEngineArgs(**engine_arguments)
        )

    async def max_model_len(self) -> int:
        """The context length vLLM settled on for this model."""
        model_config = getattr(self._engine, "model_config", None)
        if model_config is None:
            model_config = await _maybe_await(self._engine.get_model_config())
        return int(model_config.max_model_len)

    async def complete(self, request: ChatRequest) -> Completion:
        """Template, generate and convert one request; vLLM-side failures become error results."""
        tokenizer = await _maybe_await(self._engine.get_tokenizer())
        try:
            prompt = hf_encoder(tokenizer, await self.max_model_len()).encode(request)
        except PromptError as error:
            return error.completion()
        try:
            final = None
            async for output in self._engine.generate(
                {"prompt_token_ids": list(prompt.token_ids)},
                sampling_params(replace(request, sampling=replace(
                    request.sampling, max_tokens=prompt.max_new_tokens))),
                uuid.uuid4().hex,
            ):
                final = output
        except Exception as error:  # rejected request (bad grammar, too long): ValueError or
            # vLLM's own VLLMValidationError, which is not one
            return Completion.failure(f"{type(error).__name__}: {error}", prompt.text,
                                      prompt.token_ids)
        return completion_from_output(final, request, prompt.text, prompt.token_ids, tokenizer)

    def shutdown(self) -> None:
        """Stop the engine's background processes before the actor is killed."""
        stop = getattr(self._engine, "shutdown", None)
        if callable(stop):
            stop()


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def finish_reason_of(reason: object) -> FinishReason:
    """vLLM's finish reason in our terms: length, error (aborted or failed) or stop."""
    if reason == "length":
        return "length"
    if reason in {"abort", "error"}:
        return "error"
    return "stop"


def completion_from_output(output: Any, request: ChatRequest, prompt_text: str,
                           prompt_ids: tuple[int, ...], tokenizer: Any) -> Completion:
    """The contract's `Completion` from a vLLM `RequestOutput` (first sequence): the sampled
    tokens go through the shared decode rules (`decode_state.replayed_completion`), so a
    grammar's closing end-of-turn token is dropped and stop strings cut the ids. A missing
    logprob entry is an error: the trainer needs every one."""
    if output is None or not output.outputs:
        return Completion.failure("vLLM returned no output", prompt_text, prompt_ids)
    sequence = output.outputs[0]
    token_ids = tuple(int(token) for token in sequence.token_ids)
    entries = list(sequence.logprobs or [])
    if len(entries) != len(token_ids):
        return Completion.failure(f"{len(entries)} logprob entries for {len(token_ids)} "
                                  "tokens", prompt_text, prompt_ids)
    logprobs = [float(entry[token].logprob) for token, entry in zip(token_ids, entries,
                                                                     strict=True)]
    ends = hf_end_of_turn_ids(tokenizer)
    return replayed_completion(request, prompt_text, prompt_ids, token_ids, logprobs,
                               finish_reason_of(sequence.finish_reason),
                               hf_detokenizer(tokenizer), ends.__contains__)

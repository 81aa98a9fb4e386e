"""VLLMEngine: import-guarded on CPU; on a CUDA machine with vllm it serves the embedded model.

The GPU test converts the embedded SmolLM2 GGUF into a Hugging Face directory (vLLM needs a
local model, nothing may be downloaded) and starts one engine in a Ray actor.
"""

from __future__ import annotations

import asyncio
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.engines.base import ChatRequest, EngineError, Message, Sampling


def test_module_imports_without_vllm_ray_or_gpu() -> None:
    code = (
        "import sys, runtime.engines.vllm_engine; "
        "print(sorted(m for m in ('vllm', 'ray', 'torch') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_construction_without_the_gpu_stack_raises_engine_error() -> None:
    from runtime.engines.vllm_engine import VLLMConfig, VLLMEngine

    has_vllm = importlib.util.find_spec("vllm") is not None
    if has_vllm:
        import torch

        if torch.cuda.is_available():
            pytest.skip("vllm and a CUDA GPU are present: see the gpu test")
    with pytest.raises(EngineError, match=r"vllm|CUDA GPU|ray"):
        VLLMEngine(VLLMConfig(model="/models/any"))


def test_invalid_sizes_are_rejected_before_anything_starts() -> None:
    from runtime.engines.vllm_engine import VLLMConfig, VLLMEngine

    with pytest.raises(EngineError, match="at least 1"):
        VLLMEngine(VLLMConfig(model="/models/any", num_engines=0))


def hf_directory_from_embedded_gguf(target: Path) -> Path:
    """Rebuild SmolLM2 from its GGUF as a safetensors directory vLLM can load."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from runtime.engines.embedded import embedded_gguf_path

    gguf = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    rebuilt = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    rebuilt.load_state_dict(loaded.state_dict())
    rebuilt.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


@pytest.mark.gpu
@pytest.mark.slow
def test_vllm_engine_generates_with_logprobs_and_grammar(tmp_path: Path) -> None:
    pytest.importorskip("vllm", reason="vllm is not installed on this GPU machine")
    pytest.importorskip("ray", reason="ray is not installed on this GPU machine")
    from runtime.engines.vllm_engine import VLLMConfig, VLLMEngine

    model = hf_directory_from_embedded_gguf(tmp_path / "smollm2")
    engine = VLLMEngine(VLLMConfig(model=str(model), max_model_len=2048,
                                   gpu_memory_utilization=0.3, enforce_eager=True))
    try:
        question = (Message("user", "Is water wet? Answer yes or no."),)
        requests = [
            ChatRequest(question, Sampling(temperature=0.0, max_tokens=6, seed=1)),
            ChatRequest(question, Sampling(temperature=1.0, max_tokens=6, seed=2),
                        grammar='start: "yes" | "no"'),
        ]
        free, constrained = asyncio.run(engine.generate(requests))
    finally:
        asyncio.run(engine.close())
    assert free.error is None and len(free.token_ids) == len(free.logprobs) > 0
    assert all(logprob <= 0.0 for logprob in free.logprobs)
    assert free.prompt_token_ids and free.prompt_text.endswith("assistant\n")
    assert constrained.text in {"yes", "no"}
    assert constrained.finish_reason == "stop"

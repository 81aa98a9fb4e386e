"""The embedded SmolLM2 model for the trainer: located by the runtime
(`runtime.engines.embedded`, a `FileNotFoundError` with an install hint when missing) and
converted once to a Hugging Face directory that torch loads quickly."""

from __future__ import annotations

from pathlib import Path

from runtime.engines.embedded import embedded_gguf_path

__all__ = ["convert_embedded", "converted_dir", "embedded_gguf_path"]


def converted_dir(cache_dir: Path) -> Path:
    """Where `convert_embedded` puts the Hugging Face copy of the embedded model."""
    return cache_dir / f"{embedded_gguf_path().stem}-hf"


def convert_embedded(cache_dir: Path) -> Path:
    """Convert the embedded GGUF to a Hugging Face model directory (safetensors, fp32, with
    its tokenizer) under `cache_dir`, once; return that directory.

    Loading from the GGUF takes ~25 s on 2 cores (transformers re-parses the file and
    dequantises); the converted copy (~520 MB) loads in under 1 s. `save_pretrained` refuses a
    GGUF-loaded model, so the weights go through a model built from the same config. The copy
    is written to a temporary folder and renamed, so an interrupted conversion leaves nothing
    half-written; when two runs convert at once, the first rename wins and the other uses it."""
    target = converted_dir(cache_dir)
    if (target / "config.json").is_file():
        return target
    import shutil
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                  local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                              local_files_only=True)
    fresh = AutoModelForCausalLM.from_config(loaded.config)  # type: ignore[no-untyped-call]
    fresh.load_state_dict(loaded.state_dict(), strict=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=cache_dir))
    try:
        fresh.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if (target / "config.json").is_file():  # another run converted it at the same time
            return target
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target

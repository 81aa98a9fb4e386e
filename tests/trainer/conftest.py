"""Fixtures the end-to-end trainer tests share."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for the embedded model converted to Hugging Face format (~520 MB), removed
    after the module's tests; skips when the embedded model is not installed."""
    from trainer.embedded import embedded_gguf_path

    try:
        embedded_gguf_path()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    path = tmp_path_factory.mktemp("model-cache")
    yield path
    shutil.rmtree(path, ignore_errors=True)

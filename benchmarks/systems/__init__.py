"""The library of hand-written baseline systems (`*.mas`; code variants under `code/`).

They are the baselines of `masc bench` and, passed in by the CLI and the benchmarks, the
designer's few-shot examples (`runtime.designer` never reads this folder itself)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

FOLDER = Path(__file__).parent
DEFAULT_EXAMPLES = ("single_agent", "self_consistency", "solver_verifier")
"""The systems shown to the designer when nothing else is said."""


def system_path(name: str) -> Path:
    """The file of baseline `name` (e.g. `self_consistency`, `code/router`)."""
    return FOLDER / f"{name}.mas"


def few_shot(names: Sequence[str] = DEFAULT_EXAMPLES) -> list[str]:
    """The texts of the named baselines, as few-shot examples for the designer."""
    return [system_path(name).read_text(encoding="utf-8") for name in names]

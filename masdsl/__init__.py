"""masdsl: a typed, declarative language for multi-agent LLM systems.

The public API, one function per stage:

    program = masdsl.parse(text_or_bytes, path)          # -> ast.Program, or raises MasError
    diagnostics = masdsl.check(program, limits=masdsl.Limits())   # -> sorted list[Diagnostic]
    analysis = masdsl.analyze(program)                   # -> Analysis (diagnostics + types)

`parse`, `check` and `analyze` are loaded on first use, so `import masdsl` stays cheap (no
Lark until a spec is parsed); `Limits`, `Diagnostic` and `MasError` are plain models.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from masdsl.diagnostics import Diagnostic, MasError, Severity
from masdsl.limits import Limits

if TYPE_CHECKING:
    from masdsl.checker import analyze, check
    from masdsl.parser import parse

__all__ = ["Diagnostic", "Limits", "MasError", "Severity", "analyze", "check", "parse"]

_LAZY = {"parse": "masdsl.parser", "check": "masdsl.checker", "analyze": "masdsl.checker"}


def __getattr__(name: str) -> Any:
    """Load `parse`, `check` and `analyze` from their modules on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'masdsl' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value

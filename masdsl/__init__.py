"""masdsl: a typed, declarative language for multi-agent LLM systems.

The public API, one function per stage:

    program = masdsl.parse(text_or_bytes, path)          # -> ast.Program, or raises MasError
    diagnostics = masdsl.check(program, limits=masdsl.Limits())   # -> sorted list[Diagnostic]
    analysis = masdsl.analyze(program)                   # -> Analysis (diagnostics + types)
    compiled = masdsl.compile(text_or_program)            # -> CompiledSpec (IR, stats, warnings)
    results = masdsl.run(spec, {"question": "..."}, engine="llamacpp")  # -> [ExecutionResult]
    registry = masdsl.ToolRegistry()                     # functions for declared tools:
    registry.register_function("web-search", search)     # masdsl.run(..., tools=registry)

Every stage is loaded on first use, so `import masdsl` stays cheap (no Lark until a spec is
parsed, no networkx until one is compiled); imports still run one way (grammar -> masdsl ->
compiler -> runtime): `compile` and `run` forward to the later packages lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from masdsl.diagnostics import Diagnostic, MasError, Severity
from masdsl.limits import Limits

if TYPE_CHECKING:
    from compiler.api import compile
    from masdsl.checker import analyze, check
    from masdsl.parser import parse
    from runtime.api import ToolRegistry, run

__all__ = ["Diagnostic", "Limits", "MasError", "Severity", "ToolRegistry", "analyze", "check",
           "compile", "parse", "run"]

def __getattr__(name: str) -> Any:
    """Load each public function from its module on first access (so `import masdsl` stays
    light). `compile` and `run` come from the layers above the core: this facade is the one
    place the core reaches up, declared in the import contract (`pyproject.toml`)."""
    value: Any
    if name == "parse":
        from masdsl.parser import parse as value
    elif name == "check":
        from masdsl.checker import check as value
    elif name == "analyze":
        from masdsl.checker import analyze as value
    elif name == "compile":
        from compiler.api import compile as value
    elif name == "run":
        from runtime.api import run as value
    elif name == "ToolRegistry":
        from runtime.api import ToolRegistry as value
    else:
        raise AttributeError(f"module 'masdsl' has no attribute {name!r}")
    globals()[name] = value
    return value

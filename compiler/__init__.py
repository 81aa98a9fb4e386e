"""The masdsl compiler: checked AST -> executable IR, passes, static analysis, exports.

    compiled = compiler.compile(text_or_program)   # -> CompiledSpec (ir, stats, warnings)
    text = compiler.to_json(compiled.ir)            # sorted node-link JSON, schema version 1
    ir = compiler.load(text)                        # -> an IR equal to compiled.ir
    compiler.validate_ir(ir)                        # raises IRInvariantError when broken

Names are loaded on first use, so `import compiler` stays cheap (networkx is imported only
when an IR is built). The IR's execution semantics are in `docs/ir.md`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compiler.api import CompiledSpec, compile
    from compiler.export_json import load, to_json
    from compiler.ir import IR
    from compiler.stats import Stats, analyze
    from compiler.validate import validate_ir

__all__ = ["IR", "CompiledSpec", "Stats", "analyze", "compile", "load", "to_json",
           "validate_ir"]

_LAZY = {"compile": "compiler.api", "CompiledSpec": "compiler.api",
         "load": "compiler.export_json", "to_json": "compiler.export_json",
         "IR": "compiler.ir", "Stats": "compiler.stats", "analyze": "compiler.stats",
         "validate_ir": "compiler.validate"}


def __getattr__(name: str) -> Any:
    """Load the public names from their modules on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'compiler' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value

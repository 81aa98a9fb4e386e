"""The OpenRLHF backend's modules import without the GPU stack: torch, Ray, vLLM and
OpenRLHF load only inside the functions that need them (`agent_func` is the exception: it
subclasses OpenRLHF's base class and only ever runs inside OpenRLHF)."""

from __future__ import annotations

import subprocess
import sys


def test_backend_modules_do_not_import_heavy_libraries() -> None:
    modules = ("config", "versions", "command", "preflight", "launcher", "labels",
               "engine_adapter", "unit", "credit_layout", "install")
    code = ("import sys\n"
            + "".join(f"import trainer.openrlhf.{name}\n" for name in modules)
            + "print(sorted(m for m in ('torch', 'ray', 'vllm', 'openrlhf', 'deepspeed') "
              "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"

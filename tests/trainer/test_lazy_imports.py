"""The pure trainer modules must not pull in torch/transformers (the CLI imports them fast)."""

from __future__ import annotations

import subprocess
import sys


def test_pure_modules_do_not_import_heavy_libraries() -> None:
    code = ("import sys, trainer.credit, trainer.config, trainer.config_docs, trainer.schedule, "
            "trainer.tokens, trainer.embedded, trainer.loss, trainer.policy, trainer.batch, "
            "trainer.update, trainer.design_spans, trainer.samples, trainer.assign; "
            "print(sorted(m for m in ('torch', 'transformers', 'peft', 'numpy') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"

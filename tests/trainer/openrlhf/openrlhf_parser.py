"""OpenRLHF's own `train_ppo_ray` start-up code, run on our commands. Tests only.

`openrlhf/cli/train_ppo_ray.py` builds its argument parser and validates the arguments under
`if __name__ == "__main__":`, after importing Ray and vLLM at the top, so the module cannot
simply be imported here. That block is taken from the installed file's syntax tree and run
as it is: its statements up to `args = parser.parse_args()` build the real parser; the
statements after it (`hierarchize`, the derived settings and every `assert`) are OpenRLHF's
start-up validation. Only the final `train(args)` call is replaced: it records the
arguments instead of starting Ray."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
from datetime import datetime
from pathlib import Path
from typing import Any


def cli_source() -> Path | None:
    """The installed `train_ppo_ray.py`, found without importing OpenRLHF."""
    spec = importlib.util.find_spec("openrlhf")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "cli" / "train_ppo_ray.py"
    return path if path.is_file() else None


def _main_block(source: Path) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """The `__main__` block's statements before and after `args = parser.parse_args()`."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"):
            body = node.body
            for index, statement in enumerate(body):
                if "parser.parse_args()" in ast.unparse(statement):
                    return body[:index], body[index + 1:]
    raise ValueError(f"{source}: no `args = parser.parse_args()` in a __main__ block")


def _run(statements: list[ast.stmt], namespace: dict[str, Any], source: Path) -> None:
    module = ast.Module(body=statements, type_ignores=[])
    exec(compile(module, str(source), "exec"), namespace)  # OpenRLHF's own code


def openrlhf_parser(source: Path) -> argparse.ArgumentParser:
    """OpenRLHF's real `train_ppo_ray` argument parser."""
    before, _ = _main_block(source)
    namespace: dict[str, Any] = {"argparse": argparse, "os": os, "datetime": datetime}
    _run(before, namespace, source)
    parser: argparse.ArgumentParser = namespace["parser"]
    return parser


def startup_args(source: Path, arguments: list[str]) -> Any:
    """Parse `arguments` with OpenRLHF's parser and run its start-up validation on them;
    returns the hierarchical arguments `train(args)` would receive. A rejected flag raises
    `SystemExit` (argparse), a failed start-up check `AssertionError` (OpenRLHF's own)."""
    _, after = _main_block(source)
    received: list[Any] = []
    namespace: dict[str, Any] = {"argparse": argparse, "os": os, "datetime": datetime,
                                 "train": received.append,
                                 "args": openrlhf_parser(source).parse_args(arguments)}
    _run(after, namespace, source)
    (args,) = received
    return args

"""OpenRLHF's own `train_ppo_ray` argument parser, rebuilt from the installed source.

`openrlhf/cli/train_ppo_ray.py` builds its parser under `if __name__ == "__main__"` and
imports Ray and vLLM at the top, so it cannot be imported here. Its `add_argument` calls are
read from the file's syntax tree (flag names, actions, nargs, types, choices) and replayed on
a fresh `argparse` parser, so our commands are checked against the real flag set."""

from __future__ import annotations

import argparse
import ast
import importlib.util
from pathlib import Path

TYPES = {"int": int, "float": float, "str": str}


def cli_source() -> Path | None:
    """The installed `train_ppo_ray.py`, found without importing OpenRLHF."""
    spec = importlib.util.find_spec("openrlhf")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "cli" / "train_ppo_ray.py"
    return path if path.is_file() else None


def _names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):  # f"--{prefix}.adam.lr" in a loop over roles
        text = ast.unparse(node)[2:-1]
        return [text.replace("{prefix}", prefix) for prefix in ("actor", "critic")]
    return []


def openrlhf_parser(source: Path) -> argparse.ArgumentParser:
    """A parser accepting exactly the flags `train_ppo_ray.py` declares."""
    parser = argparse.ArgumentParser(exit_on_error=False, add_help=False)
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument" and node.args):
            continue
        options: dict[str, object] = {}
        for keyword in node.keywords:
            if keyword.arg in ("action", "nargs", "choices"):
                options[keyword.arg] = ast.literal_eval(keyword.value)
            elif keyword.arg == "type" and isinstance(keyword.value, ast.Name):
                options["type"] = TYPES[keyword.value.id]
        for name in _names(node.args[0]):
            parser.add_argument(name, **options)  # type: ignore[arg-type]
    return parser

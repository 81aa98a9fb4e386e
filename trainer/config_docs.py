"""Render the training configuration reference (a Markdown table per TOML table) from the
field descriptions of `trainer.config`, so `docs/training.md` cannot drift from the code."""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from trainer.config import TrainConfig


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in args)
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in args if arg is not type(None))
    if isinstance(annotation, type):
        return {"str": "string", "int": "integer", "float": "float", "bool": "boolean",
                "Path": "path"}.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _nested_model(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The model a field holds, and whether it is an array of tables."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple and args and isinstance(args[0], type) \
            and issubclass(args[0], BaseModel):
        return args[0], True
    return None


def _default(field: Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    if field.default_factory is not None:
        return "—"
    value = field.default
    if isinstance(value, tuple):
        return f"`{json.dumps(list(value))}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return "—" if value is None else f"`{value}`"


def _render(model: type[BaseModel], table: str, array: bool, out: list[str]) -> None:
    heading = f"`[[{table}]]`" if array else (f"`[{table}]`" if table else "top level")
    doc = (model.__doc__ or "").strip().splitlines()[0]
    rows, nested = [], []
    for name, field in model.model_fields.items():
        inner = _nested_model(field.annotation)
        if inner is not None:
            nested.append((name, *inner))
            continue
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} "
                    f"| {description} |")
    if rows:
        out += [f"### {heading}", "", doc, "", "| key | type | default | description |",
                "|---|---|---|---|", *rows, ""]
    for name, inner_model, inner_array in nested:
        _render(inner_model, f"{table}.{name}" if table else name, inner_array, out)


def config_reference() -> str:
    """The Markdown reference of every configuration key, grouped by TOML table."""
    out: list[str] = []
    _render(TrainConfig, "", False, out)
    return "\n".join(out).rstrip() + "\n"


BEGIN, END = "<!-- generated: begin -->\n", "<!-- generated: end -->"


def update_docs(path: Path) -> bool:
    """Replace the text between the generated-section markers of `path` with the current
    reference; returns whether the file changed."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    updated = text[:start] + config_reference() + text[end:]
    if updated != text:
        path.write_text(updated, encoding="utf-8")
    return updated != text


if __name__ == "__main__":
    # `python -m trainer.config_docs` prints the reference; `--write FILE` updates FILE.
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        print("updated" if update_docs(Path(sys.argv[2])) else "unchanged")
    else:
        print(config_reference(), end="")

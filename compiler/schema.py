"""The published JSON Schema of the IR document. `compiler/ir.schema.json` is generated from
the models by `python -m compiler.schema` and a test keeps it equal to `json_schema()`."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from compiler.ir import SCHEMA_VERSION, IRDocument

SCHEMA_FILE = "ir.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `masc compile` output."""
    schema = IRDocument.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://masdsl.dev/schemas/ir-v{SCHEMA_VERSION}.json"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), sort_keys=True, indent=2) + "\n"


def published_schema_text() -> str:
    """The schema file shipped beside this module."""
    return resources.files("compiler").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


if __name__ == "__main__":  # regenerate the published file
    from pathlib import Path

    Path(__file__).with_name(SCHEMA_FILE).write_text(schema_text(), encoding="utf-8")

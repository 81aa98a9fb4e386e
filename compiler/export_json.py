"""Stable node-link JSON for an IR, and loading it back (`load(to_json(ir)) == ir`).

Nodes are sorted by id and edges by (source, target, target port, source port); object keys
are sorted and the text ends with a newline, so the same spec always gives the same bytes.
The default is compact (one line: the C JSON encoder, fast on large specs); `indent=2` is
for people (golden files, `masc compile --pretty`).
The document carries `schema_version`; its JSON Schema is `compiler/ir.schema.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

from compiler.ir import IR, SCHEMA_VERSION, IRDocument


class IRLoadError(ValueError):
    """A JSON document that is not a valid IR of this schema version."""


def to_json(ir: IR, indent: int | None = None) -> str:
    """The IR as sorted node-link JSON (compact, or indented by `indent` spaces)."""
    data = ir.document().model_dump(mode="json")
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(data, sort_keys=True, indent=indent, separators=separators,
                      ensure_ascii=False) + "\n"


def load(source: str | bytes | Path) -> IR:
    """An IR from JSON text (or a path to it); raises `IRLoadError` when it is not one."""
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise IRLoadError(f"not JSON: {error}") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        found = data.get("schema_version") if isinstance(data, dict) else None
        raise IRLoadError(f"unsupported IR schema version {found!r}; expected "
                          f"{SCHEMA_VERSION!r}")
    try:
        document = IRDocument.model_validate(data)
    except ValueError as error:
        raise IRLoadError(f"not a valid IR document: {error}") from None
    return IR.from_document(document)

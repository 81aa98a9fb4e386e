"""System inputs from the command line (`--input name=value`) or JSON records, checked
against the spec's declared inputs and converted to typed values."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from compiler.ir import Declaration
from masdsl.types import Enum, List, Record, Type
from runtime.values import Value, from_json


class InputError(ValueError):
    """Inputs that do not match the spec's declared inputs; the message says which."""


# A plain decimal number: what a JSON number allows, plus a leading '+' and '.5'. No commas
# (is `1,5` one and a half or fifteen?), no `nan`, `inf` or `1_000`.
NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
MAX_NUMBER_TEXT = 400


def parse_assignments(texts: Iterable[str]) -> dict[str, str]:
    """Every `--input name=value`, refusing a name given twice (which one would win?)."""
    found: dict[str, str] = {}
    for text in texts:
        name, value = parse_assignment(text)
        if name in found:
            raise InputError(f"--input {name!r} is given twice; give each input once")
        found[name] = value
    return found


def parse_assignment(text: str) -> tuple[str, str]:
    """`name=value` (the value may contain `=`) -> (name, value)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise InputError(f"--input expects name=value, got {text!r}")
    return name.strip(), value


def _from_text(text: str, type_: Type, name: str) -> Value:
    if isinstance(type_, List | Record):
        what = "list" if isinstance(type_, List) else "object"
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise InputError(f"input '{name}' is a {type_.render()}: give a JSON {what}") \
                from None
        return from_json(data, type_, name)
    if isinstance(type_, Enum):
        return from_json(text.strip(), type_, name)
    if type_.name == "number":
        stripped = text.strip()
        if len(stripped) > MAX_NUMBER_TEXT or not NUMBER_TEXT.fullmatch(stripped):
            raise InputError(f"input '{name}' is a number, got {text[:40]!r}: write a plain "
                             "decimal such as 42, -1.5 or 2e3 (no commas, nan or inf)")
        if re.fullmatch(r"[+-]?\d+", stripped):
            return int(stripped)
        number = float(stripped)
        if not math.isfinite(number):
            raise InputError(f"input '{name}' is out of range: {text[:40]!r}")
        return number
    if type_.name == "bool":
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise InputError(f"input '{name}' is a bool: give true or false, got {text!r}")
    return text


def coerce_inputs(given: Mapping[str, Any], declared: Sequence[Declaration], *,
                  from_command_line: bool = False) -> dict[str, Value]:
    """Typed values for every declared input. Strings from the command line are read by
    type (`3`, `true`, JSON lists); JSON records must already have the right JSON types.
    Missing or unknown names raise `InputError` listing what the spec declares."""
    names = [decl.name for decl in declared]
    unknown = sorted(set(given) - set(names))
    missing = [name for name in names if name not in given]
    if unknown or missing:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if unknown:
            parts.append("unknown " + ", ".join(unknown))
        declared_text = ", ".join(f"{d.name}: {d.type.render()}" for d in declared) or "none"
        raise InputError(f"{'; '.join(parts)} (the spec declares: {declared_text})")
    values: dict[str, Value] = {}
    for decl in declared:
        raw = given[decl.name]
        try:
            if from_command_line and isinstance(raw, str):
                values[decl.name] = _from_text(raw, decl.type, decl.name)
            else:
                values[decl.name] = from_json(raw, decl.type, decl.name)
        except ValueError as error:
            raise InputError(str(error)) from None
    return values

"""Typed values: read an agent's reply as a value of its declared type, and back to text/JSON.

`parse_value(text, type)` is lenient in the ways small models err and strict where a guess
would be silently wrong. Where it looks, in order (the last `ANSWER:` marker wins; `Final
answer:` and `The answer is:` count as markers too):

- number: the `ANSWER:` line (after its last `=`, so `ANSWER: 3 + 4 = 7` is 7), else the last
  `\\boxed{}`, else the last `#### x` line, else the last number anywhere. Thousands commas,
  `$`, unicode minus, decimals, exponents, fractions `3/4` and LaTeX `\\frac{3}{4}` are read.
  An `ANSWER:` line without a number is a failure (the model is asked again), not a guess.
- bool: yes/no/true/false on the `ANSWER:` line, else in `\\boxed{}`, else the last one in the text.
- enum: the last member named on the `ANSWER:` line, else in `\\boxed{}`, else the last member
  named anywhere (case-insensitive; `needs work` matches `needs_work`).
- code: the last fenced block (an unclosed fence at the end counts), else the text after
  `ANSWER:`, else the whole reply.
- text: everything after `ANSWER:`, else the whole reply.
- list[T]: a JSON (or Python-literal) list after `ANSWER:` or anywhere, else one item per line
  after `ANSWER:` (bullets and numbering removed; a single line is split on commas), else the
  last block of bullet lines. Each item is read as a T.
- record: the last JSON object after `ANSWER:`, else anywhere; every field must be there,
  each read as its type (a string such as "42" for a number field is read as a reply).

Values are `str` (text, code, enum members), `int | float` (number: int when whole), `bool`,
and tuples of values (lists, and records: one value per field in declaration order).
`to_json`/`from_json` convert to and from JSON-safe data (a record is a JSON object).
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeAlias

from masdsl.types import NUMBER, Enum, List, Primitive, Record, Type

Value: TypeAlias = "str | int | float | bool | tuple[Value, ...]"
JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue]"


@dataclass(frozen=True)
class ParsedValue:
    """A value read from a reply, and the piece of the reply it came from."""

    value: Value
    source: str


@dataclass(frozen=True)
class ParseFailure:
    """Why a reply could not be read as the type; `reason` is shown to the model on retry."""

    reason: str


MAX_EXPONENT = 400
ANSWER_MARKER = re.compile(
    r"\b(?:final\s+answer|the\s+answer\s+is|answer)\s*\**\s*[:：]\s*\**", re.IGNORECASE)
_NUMBER = re.compile(
    r"(?<![\w.])\$?(?P<sign>[-−]\s?)?\$?"
    r"(?P<int>\d{1,3}(?:,\d{3})+(?!\d)|\d+)?(?P<dec>\.\d+)?(?:[eE](?P<exp>[-+]?\d+))?"
    r"(?:\s*/\s*(?P<den>\d+))?"
)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"^\s*####\s*(?P<rest>.+)$", re.MULTILINE)
_FENCE = re.compile(r"```[^\n`]*\n(?P<code>.*?)(?:\n[ \t]*```|```|\Z)", re.DOTALL)
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|\(\d+\))\s+")
_BOOLS = {"yes": True, "true": True, "no": False, "false": False}
_BOOL_WORD = re.compile(r"\b(yes|no|true|false)\b", re.IGNORECASE)
_LATEX = (
    (re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}"), r"(\1)/(\2)"),
    (re.compile(r"\\text\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\\(?:left|right|!|,|;|quad|%|\$)"), " "),
    (re.compile(r"\^\{?\\circ\}?"), ""),
)


def _last_marker(text: str) -> str | None:
    """The text after the last answer marker, or None when there is none."""
    matches = list(ANSWER_MARKER.finditer(text))
    return text[matches[-1].end():] if matches else None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}`, braces balanced."""
    matches = list(_BOXED.finditer(text))
    if not matches:
        return None
    start = matches[-1].end()
    depth = 1
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    return text[start:]


def _unlatex(text: str) -> str:
    text = text.replace("{,}", ",")
    for pattern, replacement in _LATEX:
        text = pattern.sub(replacement, text)
    return text.replace("(", " ").replace(")", " ").replace("{", " ").replace("}", " ")


def _numbers(text: str) -> list[int | float]:
    """Every number written in `text`, in order."""
    found: list[int | float] = []
    for match in _NUMBER.finditer(_unlatex(text)):
        whole, decimal = match.group("int"), match.group("dec")
        if whole is None and decimal is None:
            continue
        literal = (whole or "0").replace(",", "") + (decimal or "")
        if match.group("exp"):
            if abs(int(match.group("exp"))) > MAX_EXPONENT:
                continue  # 1e99999999 would take seconds to build exactly; no answer is that
            literal += "e" + match.group("exp")
        value = Fraction(literal)
        denominator = match.group("den")
        if denominator is not None and int(denominator) != 0 and not match.group("exp"):
            value /= int(denominator)
        if match.group("sign"):
            value = -value
        try:
            found.append(_as_number(value))
        except OverflowError:
            continue  # a non-integer beyond float range
    return found


def _as_number(value: Fraction) -> int | float:
    if value.denominator == 1:
        return int(value)
    return float(value)


def _parse_number(text: str) -> ParsedValue | ParseFailure:
    answer = _last_marker(text)
    if answer is not None:
        line = _first_line(answer)
        boxed = _boxed(line)
        piece = boxed if boxed is not None else line.rsplit("=", 1)[-1]
        numbers = _numbers(piece)
        if numbers:
            return ParsedValue(numbers[0], line)
        return ParseFailure(f"the ANSWER line {line[:60]!r} has no number")
    boxed = _boxed(text)
    if boxed is not None and _numbers(boxed):
        return ParsedValue(_numbers(boxed)[-1], boxed)
    hashes = list(_HASHES.finditer(text))
    if hashes and _numbers(hashes[-1].group("rest")):
        return ParsedValue(_numbers(hashes[-1].group("rest"))[0], hashes[-1].group("rest"))
    numbers = _numbers(text)
    if numbers:
        return ParsedValue(numbers[-1], text)
    return ParseFailure("no number found")


def _parse_bool(text: str) -> ParsedValue | ParseFailure:
    answer = _last_marker(text)
    if answer is not None:
        line = _first_line(answer)
        words = _BOOL_WORD.findall(line)
        if words:
            return ParsedValue(_BOOLS[words[0].lower()], line)
        return ParseFailure(f"the ANSWER line {line[:60]!r} is not yes or no")
    boxed = _boxed(text)
    if boxed is not None and _BOOL_WORD.search(boxed):
        return ParsedValue(_BOOLS[_BOOL_WORD.findall(boxed)[0].lower()], boxed)
    words = _BOOL_WORD.findall(text)
    if words:
        return ParsedValue(_BOOLS[words[-1].lower()], text)
    return ParseFailure("no yes/no answer found")


def _member_pattern(member: str) -> re.Pattern[str]:
    words = [re.escape(part) for part in re.split(r"[_\-\s]+", member) if part]
    return re.compile(r"(?<![\w])" + r"[_\-\s]+".join(words) + r"(?![\w])", re.IGNORECASE)


def _last_member(text: str, members: tuple[str, ...]) -> str | None:
    best: tuple[int, int, str] | None = None
    for member in members:
        for match in _member_pattern(member).finditer(text):
            key = (match.start(), match.end() - match.start(), member)
            if best is None or key[:2] > best[:2]:
                best = key
    return None if best is None else best[2]


def _parse_enum(text: str, enum: Enum) -> ParsedValue | ParseFailure:
    answer = _last_marker(text)
    choices = ", ".join(enum.members)
    if answer is not None:
        line = _first_line(answer)
        member = _last_member(line, enum.members)
        if member is not None:
            return ParsedValue(member, line)
        return ParseFailure(f"the ANSWER line {line[:60]!r} names none of: {choices}")
    for piece in (_boxed(text), text):
        if piece is not None:
            member = _last_member(piece, enum.members)
            if member is not None:
                return ParsedValue(member, piece)
    return ParseFailure(f"no answer among: {choices}")


def _parse_code(text: str) -> ParsedValue | ParseFailure:
    blocks = [match.group("code") for match in _FENCE.finditer(text)]
    blocks = [block for block in blocks if block.strip()]
    if blocks:
        return ParsedValue(blocks[-1].strip("\n"), blocks[-1])
    answer = _last_marker(text)
    code = (answer if answer is not None else text).strip().strip("`").strip()
    return ParsedValue(code, code) if code else ParseFailure("no code found")


def _parse_text(text: str) -> ParsedValue | ParseFailure:
    answer = _last_marker(text)
    piece = (answer if answer is not None else text).strip()
    piece = piece.removeprefix("**").removesuffix("**").strip()
    return ParsedValue(piece, piece) if piece else ParseFailure("the answer is empty")


def _literal_at(text: str, start: int) -> tuple[object, int] | None:
    """A JSON or Python-literal value starting at `start`, and where it ends."""
    try:
        return json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError:
        pass
    end = text.find("]", start)
    while end != -1:
        try:
            return ast.literal_eval(text[start:end + 1]), end + 1
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            end = text.find("]", end + 1)
    return None


def _literal_list(text: str) -> list[object] | None:
    """The last top-level JSON or Python-literal list written in `text`."""
    found: list[object] | None = None
    index = text.find("[")
    while index != -1:
        literal = _literal_at(text, index)
        if literal is not None and isinstance(literal[0], list):
            found = literal[0]
            index = text.find("[", literal[1])
        else:
            index = text.find("[", index + 1)
    return found


def _item_lines(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) == 1 and not _BULLET.match(lines[0]):
        return [part for part in re.split(r";\s*|,(?!\d{3}(?!\d))\s*", lines[0]) if part.strip()]
    return [_BULLET.sub("", line).strip() for line in lines]


def _bullet_block(text: str) -> list[str]:
    """The last run of consecutive bullet lines."""
    block: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if _BULLET.match(line):
            current.append(_BULLET.sub("", line).strip())
        elif line.strip():
            if current:
                block = current
            current = []
    return current or block


def _parse_list(text: str, element: Type) -> ParsedValue | ParseFailure:
    answer = _last_marker(text)
    scope = answer if answer is not None else text
    literal = _literal_list(scope)
    if literal is not None:
        return _items_from_json(literal, element, scope)
    if isinstance(element, List):
        return ParseFailure("expected a JSON list of lists")
    items = _item_lines(scope) if answer is not None else _bullet_block(text)
    if not items:
        return ParseFailure("no list found")
    values: list[Value] = []
    for index, item in enumerate(items, start=1):
        parsed = _parse_item(item, element)
        if isinstance(parsed, ParseFailure):
            return ParseFailure(f"item {index}: {parsed.reason}")
        values.append(parsed.value)
    return ParsedValue(tuple(values), scope)


def _parse_item(item: str, element: Type) -> ParsedValue | ParseFailure:
    """One list item: bare text, read without looking for answer markers."""
    item = item.strip().strip("`").strip()
    if isinstance(element, Primitive) and element.name in ("text", "code"):
        item = item.strip('"').strip("'") if len(item) > 1 and item[0] in "\"'" else item
        return ParsedValue(item, item) if item else ParseFailure("empty item")
    if element == NUMBER and len(_numbers(item)) != 1:
        # "1 2 3" on one line is three items the model failed to separate, not the number 3.
        return ParseFailure(f"expected one number, got {item[:40]!r}")
    return parse_value(item, element)


def _items_from_json(items: list[object], element: Type, source: str) -> ParsedValue | ParseFailure:
    values: list[Value] = []
    for index, item in enumerate(items, start=1):
        try:
            values.append(from_json(item, element))  # type: ignore[arg-type]
            continue
        except ValueError:
            pass
        if isinstance(element, List) or not isinstance(item, str | int | float):
            return ParseFailure(f"item {index}: expected {element.render()}, got {item!r}")
        parsed = _parse_item(str(item), element)
        if isinstance(parsed, ParseFailure):
            return ParseFailure(f"item {index}: {parsed.reason}")
        values.append(parsed.value)
    return ParsedValue(tuple(values), source)


def _literal_object(text: str) -> dict[str, object] | None:
    """The last top-level JSON object written in `text`."""
    found: dict[str, object] | None = None
    index = text.find("{")
    while index != -1:
        try:
            literal, end = json.JSONDecoder().raw_decode(text, index)
        except json.JSONDecodeError:
            index = text.find("{", index + 1)
            continue
        if isinstance(literal, dict):
            found = literal
        index = text.find("{", end)
    return found


def _parse_record(text: str, record: Record) -> ParsedValue | ParseFailure:
    answer = _last_marker(text)
    scope = answer if answer is not None and "{" in answer else text
    data = _literal_object(scope)
    if data is None:
        return ParseFailure("no JSON object found")
    values: list[Value] = []
    for field in record.fields:
        if field.name not in data:
            return ParseFailure(f"the field '{field.name}' is missing")
        item = data[field.name]
        try:
            values.append(from_json(item, field.type))  # type: ignore[arg-type]
            continue
        except ValueError:
            pass
        if isinstance(field.type, List | Record) or not isinstance(item, str | int | float):
            return ParseFailure(f"field {field.name}: expected {field.type.render()}, "
                                f"got {item!r}")
        parsed = _parse_item(str(item), field.type)
        if isinstance(parsed, ParseFailure):
            return ParseFailure(f"field {field.name}: {parsed.reason}")
        values.append(parsed.value)
    return ParsedValue(tuple(values), scope)


def parse_value(text: str, type_: Type) -> ParsedValue | ParseFailure:
    """Read `text` (a model's reply) as a value of `type_`; never raises."""
    if not text.strip():
        return ParseFailure("the reply is empty")
    if isinstance(type_, List):
        return _parse_list(text, type_.element)
    if isinstance(type_, Record):
        return _parse_record(text, type_)
    if isinstance(type_, Enum):
        return _parse_enum(text, type_)
    parsers = {"number": _parse_number, "bool": _parse_bool, "code": _parse_code,
               "text": _parse_text}
    return parsers[type_.name](text)


def to_json(value: Value, type_: Type) -> JSONValue:
    """`value` as JSON-safe data (lists for tuples), checked against `type_`."""
    if isinstance(type_, Record):
        if not isinstance(value, tuple) or len(value) != len(type_.fields):
            raise ValueError(f"expected a {type_.render()} record, got {value!r}")
        return {field.name: to_json(item, field.type)
                for field, item in zip(type_.fields, value, strict=True)}
    if isinstance(type_, List):
        if not isinstance(value, tuple | list):
            raise ValueError(f"expected a list, got {value!r}")
        return [to_json(item, type_.element) for item in value]
    checked = from_json(value, type_)  # type: ignore[arg-type]
    assert not isinstance(checked, tuple)
    return checked


def from_json(data: JSONValue, type_: Type, path: str = "value") -> Value:
    """A value of `type_` from JSON data; a `ValueError` names the offending path."""
    if isinstance(type_, Record):
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected an object with fields "
                             f"{', '.join(field.name for field in type_.fields)}, got {data!r}")
        missing = [field.name for field in type_.fields if field.name not in data]
        if missing:
            raise ValueError(f"{path}: the field '{missing[0]}' is missing")
        return tuple(from_json(data[field.name], field.type, f"{path}.{field.name}")
                     for field in type_.fields)
    if isinstance(type_, List):
        if not isinstance(data, list | tuple):
            raise ValueError(f"{path}: expected a list, got {data!r}")
        return tuple(from_json(item, type_.element, f"{path}[{i}]") for i, item in enumerate(data))
    if isinstance(type_, Enum):
        if isinstance(data, str) and data in type_.members:
            return data
        raise ValueError(f"{path}: expected one of {', '.join(type_.members)}, got {data!r}")
    if type_.name == "number":
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            raise ValueError(f"{path}: expected a finite number, got {data!r}")
        return data
    if type_.name == "bool":
        if not isinstance(data, bool):
            raise ValueError(f"{path}: expected true or false, got {data!r}")
        return data
    if not isinstance(data, str):
        raise ValueError(f"{path}: expected a string, got {data!r}")
    return data

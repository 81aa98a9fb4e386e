"""Math answers: extract the final answer from a reply, and decide whether two answers agree.

Extraction order (the first that applies wins): the last `\\boxed{...}` / `\\fbox{...}`, the
last `#### x` line (GSM8K style), an explicit "final answer is X" / "Answer: X", then the last
number in the text. Equivalence: both sides are normalised (dollar signs, `\\left`/`\\right`,
`\\dfrac`, degree and percent marks, `\\text{...}` units, thousands separators), compared
exactly as rationals when both are numbers (`3/4`, `\\frac{3}{4}`, `0.75`), as strings, and
finally symbolically with `math-verify` (intervals, tuples, radicals) when it is installed.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction

BOX_COMMANDS = ("\\boxed", "\\fbox")
NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+"
NUMBER_PATTERN = re.compile(rf"(?:{NUMBER})(?:\s*/\s*(?:{NUMBER}))?")
HASHES_PATTERN = re.compile(r"####\s*(.+)")
FINAL_PATTERN = re.compile(
    r"(?:final answer|the answer)\s*(?:is|:|=)\s*:?\s*(.+)|^\s*answer\s*[:=]\s*(.+)",
    re.IGNORECASE | re.MULTILINE,
)
FRACTION_PATTERN = re.compile(r"^(-?)\\frac\{(-?[\d.]+)\}\{(-?[\d.]+)\}$")
UNIT_TAIL = re.compile(
    r"^(.*?\d)(?:\s*\\(?:text|mbox|mathrm)\{[^{}]*\}|\s+[a-zA-Z]{2,}[a-zA-Z .]*)(?:\^\{?[23]\}?)?$"
)
TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|mbox|mathrm)\{([^{}]*)\}")
MATH_VERIFY_TIMEOUT_S = 5


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (or `\\fbox{...}`, or `\\boxed x`) in `text`,
    braces balanced; None when there is none or it is unterminated."""
    start = max(text.rfind(command) for command in BOX_COMMANDS)
    if start < 0:
        return None
    rest = text[start:]
    command = next(c for c in BOX_COMMANDS if rest.startswith(c))
    rest = rest[len(command):]
    if rest.startswith(" ") and not rest.lstrip().startswith("{"):
        token = rest.strip().split()
        return token[0].rstrip(".$") if token else None
    if not rest.startswith("{"):
        return None
    depth = 0
    for index, char in enumerate(rest):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return rest[1:index]
    return None


def last_number(text: str) -> str | None:
    """The last number in `text` (integers, decimals, `a/b`, thousands commas), or None."""
    matches: list[str] = NUMBER_PATTERN.findall(text)
    return matches[-1] if matches else None


def extract_answer(text: str) -> str | None:
    """The final answer a reply states, or None when it states none (see module docstring)."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    hashes: list[str] = HASHES_PATTERN.findall(text)
    if hashes:
        return hashes[-1].strip()
    finals = FINAL_PATTERN.findall(text)
    if finals:
        stated = next(group for group in finals[-1] if group).strip()
        inner = last_boxed(stated)
        stated = inner if inner is not None else stated
        return stated.strip().rstrip(".").strip("$ ") or None
    return last_number(text)


def normalize(answer: str) -> str:
    """A canonical spelling of an answer: presentation-only LaTeX and units removed."""
    text = answer.strip()
    for old, new in (("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\left", ""),
                     ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\ ", " "),
                     ("^\\circ", ""), ("^{\\circ}", ""), ("\\%", ""), ("%", ""),
                     ("\\$", ""), ("$", ""), ("\\displaystyle", "")):
        text = text.replace(old, new)
    text = text.strip().rstrip(".").strip()
    unit = UNIT_TAIL.match(text)
    if unit and not re.search(r"[a-zA-Z\\]", unit.group(1)):
        text = unit.group(1)
    text = TEXT_WRAPPER.sub(r"\1", text)
    text = re.sub(r"^[a-zA-Z]\s*=(?!=)", "", text)  # "x = 5" -> "5", "y = -2x" -> "-2x"
    return re.sub(r"\s+", "", text)


def as_rational(answer: str) -> Fraction | None:
    """The exact value of a normalised numeric answer (`-3`, `1,000`, `0.25`, `3/4`,
    `\\frac{3}{4}`, `-\\frac{1}{2}`), or None when it is not a plain number."""
    text = answer.replace("{,}", "").replace(",", "")
    fraction = FRACTION_PATTERN.match(text)
    if fraction:
        sign, numerator, denominator = fraction.groups()
        text = f"{sign}{numerator}/{denominator}"
    parts = text.split("/")
    try:
        if len(parts) == 1:
            return Fraction(parts[0])
        if len(parts) == 2:
            denominator_value = Fraction(parts[1])
            if denominator_value == 0:
                return None
            return Fraction(parts[0]) / denominator_value
    except (ValueError, ZeroDivisionError):
        return None
    return None


def symbolic_match(gold: str, predicted: str) -> bool | None:
    """`math-verify`'s judgement of two LaTeX answers; None when the package is missing.

    Its timeout uses SIGALRM, which only the main thread may set, so elsewhere it runs
    without one (inputs are single extracted answers, which keeps the risk small).
    """
    try:
        from math_verify import parse, verify  # type: ignore[import-untyped]
    except ImportError:
        return None
    in_main = threading.current_thread() is threading.main_thread()
    timeout = MATH_VERIFY_TIMEOUT_S if in_main else None
    try:
        gold_parsed = parse(f"${gold}$", parsing_timeout=timeout)
        predicted_parsed = parse(f"${predicted}$", parsing_timeout=timeout)
        if not gold_parsed or not predicted_parsed:
            return False
        return bool(verify(gold_parsed, predicted_parsed, timeout_seconds=timeout))
    except Exception:  # math-verify raises many kinds on odd input: treat as "no match"
        return False


def answers_match(gold: str, predicted: str) -> bool:
    """Whether `predicted` states the same mathematical answer as `gold`."""
    gold_norm, predicted_norm = normalize(gold), normalize(predicted)
    if not predicted_norm:
        return False
    if gold_norm == predicted_norm:
        return True
    gold_value, predicted_value = as_rational(gold_norm), as_rational(predicted_norm)
    if gold_value is not None and predicted_value is not None:
        return gold_value == predicted_value
    symbolic = symbolic_match(gold_norm, predicted_norm)
    return bool(symbolic)

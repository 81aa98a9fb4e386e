"""Pull the Python program out of a model's reply.

Replies come as a fenced block (```python ... ```), as bare code, or as prose followed by code.
The rule: the last fenced block that defines a function (else the last fenced block); without
fences, the reply itself when it is valid Python, else everything from the first line that
starts a definition or an import (prose before the code is dropped); else the reply.
"""

from __future__ import annotations

import ast
import re
import warnings

FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)
CODE_START = re.compile(r"^(?:def |async def |class |import |from \S+ import |@)", re.MULTILINE)


def extract_code(reply: str) -> str:
    """The Python code a reply contains (see module docstring); the reply itself if no rule
    applies, so a bare function body (a HumanEval completion) passes through unchanged."""
    blocks = [block for block in FENCE.findall(reply) if block.strip()]
    if blocks:
        with_def = [block for block in blocks if re.search(r"^\s*def ", block, re.MULTILINE)]
        chosen: str = (with_def or blocks)[-1]
        return chosen.rstrip() + "\n"
    if parses(reply):
        return reply
    start = CODE_START.search(reply)
    if start is not None and start.start() > 0:
        return reply[start.start():].rstrip() + "\n"
    return reply


def parses(code: str) -> bool:
    """Whether `code` is syntactically valid Python."""
    try:
        with warnings.catch_warnings():  # replies may hold invalid escapes
            warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
            ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def defines_function(code: str, name: str) -> bool:
    """Whether `code` defines a top-level-looking function `name` (text check, no parsing)."""
    pattern = rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\("
    return re.search(pattern, code, re.MULTILINE) is not None

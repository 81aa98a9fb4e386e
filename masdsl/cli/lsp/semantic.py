"""Semantic tokens: every name coloured by what it denotes (agent, value, type, member...).

Keywords, strings, numbers and comments are left to the TextMate grammar; the server adds
what only the symbol table knows, e.g. that `critic` is an agent and `approve` a member.
"""

from __future__ import annotations

from lsprotocol import types

from masdsl.cli.lsp.document import Snapshot
from masdsl.cli.lsp.positions import code_units

TOKEN_TYPES = ("namespace", "type", "enumMember", "function", "variable", "parameter",
               "property", "macro", "class")
TOKEN_MODIFIERS = ("declaration", "readonly", "defaultLibrary")
LEGEND = types.SemanticTokensLegend(token_types=list(TOKEN_TYPES),
                                    token_modifiers=list(TOKEN_MODIFIERS))
_KIND_TOKEN = {"spec": "namespace", "agent": "function", "value": "variable", "type": "type",
               "builtin_type": "type", "member": "enumMember", "builtin": "function",
               "tool": "macro", "model": "class", "parameter": "parameter",
               "choice": "enumMember", "field": "property",
               "template_parameter": "parameter", "condition_function": "function"}
_LIBRARY = frozenset({"builtin_type", "builtin", "choice", "tool", "condition_function"})


def semantic_tokens(snapshot: Snapshot) -> list[int]:
    """The LSP relative encoding: per token (line delta, start delta, length, type,
    modifier bits)."""
    index = snapshot.index
    if index is None:
        return []
    data: list[int] = []
    previous_line = previous_start = 0
    for found in index.occurrences:
        line, start = snapshot.lines.position(found.start)
        length = code_units(snapshot.text[found.start:found.end], snapshot.lines.encoding)
        modifiers = 0
        if found.definition:
            modifiers |= 1
        if found.role in ("input",):
            modifiers |= 2
        if found.kind in _LIBRARY:
            modifiers |= 4
        delta_start = start - previous_start if line == previous_line else start
        data += [line - previous_line, delta_start, length,
                 TOKEN_TYPES.index(_KIND_TOKEN[found.kind]), modifiers]
        previous_line, previous_start = line, start
    return data

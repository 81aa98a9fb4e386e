"""Quick fixes for diagnostics whose fix is obvious.

- A help line "did you mean 'x'?" (undefined names, unknown tools, members, parameters):
  replace the diagnostic's span with `x`.
- MAS105 (unused agent) and MAS113 (unused input): delete the declaration's lines.

The fixes are computed from the server's own diagnostics of this version (those whose
range meets the requested one), so they do not depend on what the client sends back.
"""

from __future__ import annotations

import re

from lsprotocol import types

from masdsl import ast
from masdsl.cli.lsp.convert import to_diagnostic, to_range
from masdsl.cli.lsp.document import Snapshot
from masdsl.diagnostics import Diagnostic

DID_YOU_MEAN = re.compile(r"did you mean '([A-Za-z_][A-Za-z0-9_]*)'\?")
_REMOVABLE = {"MAS105": "agent", "MAS113": "input"}  # code -> the declaration's kind


def code_actions(snapshot: Snapshot, start: int, end: int) -> list[types.CodeAction]:
    """The quick fixes for the diagnostics touching `[start, end]`."""
    actions = []
    for found in snapshot.diagnostics:
        if found.span.end < start or found.span.start > end:
            continue
        lsp_diagnostic = to_diagnostic(snapshot.lines, found)
        action = _did_you_mean(snapshot, found) or _remove(snapshot, found)
        if action is not None:
            title, edit, preferred = action
            actions.append(types.CodeAction(
                title=title, kind=types.CodeActionKind.QuickFix,
                diagnostics=[lsp_diagnostic], is_preferred=preferred,
                edit=types.WorkspaceEdit(changes={snapshot.uri: [edit]})))
    return actions


def _did_you_mean(snapshot: Snapshot, found: Diagnostic
                  ) -> tuple[str, types.TextEdit, bool] | None:
    match = DID_YOU_MEAN.search(found.help or "")
    if match is None or found.span.end <= found.span.start:
        return None
    written = snapshot.text[found.span.start:found.span.end]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", written):
        return None  # the span is not just the misspelt name
    edit = types.TextEdit(range=to_range(snapshot.lines, found.span.start, found.span.end),
                          new_text=match.group(1))
    return f"Did you mean '{match.group(1)}'? Replace '{written}'", edit, True


def _remove(snapshot: Snapshot, found: Diagnostic) -> tuple[str, types.TextEdit, bool] | None:
    if found.code not in _REMOVABLE or snapshot.program is None:
        return None
    word = _REMOVABLE[found.code]
    declaration = next((item for item in snapshot.program.items
                        if isinstance(item, ast.AgentDecl | ast.InputDecl) and item.kind == word
                        and item.name.span.start == found.span.start), None)
    if declaration is None:
        return None
    start, end = _whole_lines(snapshot.text, declaration.span.start, declaration.span.end)
    edit = types.TextEdit(range=to_range(snapshot.lines, start, end), new_text="")
    return f"Remove the unused {word} '{declaration.name.value}'", edit, False


def _whole_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen `[start, end)` to whole lines when only blanks surround it on its lines, and
    take one blank line after it when a blank line also precedes it, so the deletion leaves
    no double gap behind (a trailing comment keeps its line)."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    if text[line_start:start].strip() or text[end:line_end].strip():
        return start, end
    end = min(line_end + 1, len(text))
    previous = text[text.rfind("\n", 0, max(0, line_start - 1)) + 1:line_start]
    following_end = text.find("\n", end)
    if line_start > 0 and not previous.strip() and following_end >= 0 \
            and not text[end:following_end].strip():
        end = following_end + 1
    return line_start, end

"""Definition, references, rename and the document outline, from the symbol table.

Agents (templates and instances among them), values (inputs, outputs, bound names, graph
nodes), type aliases and enum members can be renamed; declared tools and template
parameters can be navigated too. A value's definition is its declaration or its first
binding. Enum members are identified by name: renaming `approve` renames it in every enum
that declares it.
"""

from __future__ import annotations

import re

from lsprotocol import types

from masdsl import ast
from masdsl.checker.context import RESERVED
from masdsl.cli.lsp.convert import to_range
from masdsl.cli.lsp.document import Snapshot
from masdsl.cli.lsp.index import NAVIGABLE, RENAMEABLE, Occurrence

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
KEYWORDS = frozenset({
    "mas", "input", "output", "type", "agent", "flow", "if", "else", "match", "case", "loop",
    "max", "until", "graph", "max_steps", "start", "node", "edge", "when", "not", "true",
    "false", "list", "enum", "role", "tools", "max_tool_turns", "temperature", "top_p",
    "max_tokens", "retries", "model", "default", "and", "or", "memory"})


class RenameError(ValueError):
    """A rename that cannot be done; the message is shown to the user."""


def symbol_at(snapshot: Snapshot, offset: int,
              kinds: frozenset[str] = RENAMEABLE) -> Occurrence | None:
    """The symbol of one of `kinds` under `offset` (by default a renameable one), if any."""
    found = snapshot.index.at(offset) if snapshot.index else None
    return found if found is not None and found.kind in kinds else None


def _location(snapshot: Snapshot, item: Occurrence) -> types.Location:
    return types.Location(uri=snapshot.uri,
                          range=to_range(snapshot.lines, item.start, item.end))


def definition(snapshot: Snapshot, offset: int) -> types.Location | None:
    found = symbol_at(snapshot, offset, NAVIGABLE)
    if found is None or snapshot.index is None:
        return None
    target = snapshot.index.definition(found.kind, found.name)
    if target is not None and found.kind == "tool" and not target.definition:
        return None  # a builtin tool (python, calculator): declared nowhere in the spec
    return _location(snapshot, target) if target else None


def references(snapshot: Snapshot, offset: int, include_declaration: bool
               ) -> list[types.Location]:
    found = symbol_at(snapshot, offset, NAVIGABLE)
    if found is None or snapshot.index is None:
        return []
    return [_location(snapshot, item) for item in snapshot.index.of(found.kind, found.name)
            if include_declaration or not item.definition]


def prepare_rename(snapshot: Snapshot, offset: int) -> types.Range | None:
    found = symbol_at(snapshot, offset)
    return to_range(snapshot.lines, found.start, found.end) if found else None


def rename(snapshot: Snapshot, offset: int, new_name: str) -> types.WorkspaceEdit:
    """Every occurrence of the symbol under `offset` renamed; raises RenameError for a
    name that is not an identifier, is reserved, or is already declared."""
    found = symbol_at(snapshot, offset)
    index = snapshot.index
    if found is None or index is None:
        raise RenameError("nothing to rename here: put the cursor on an agent, a value, a "
                          "type or an enum member")
    if not IDENTIFIER.match(new_name):
        raise RenameError(f"'{new_name}' is not a name")
    if new_name in RESERVED or new_name in KEYWORDS:
        raise RenameError(f"'{new_name}' is reserved")
    if new_name != found.name:
        taken = (set(index.agents) | index.values | set(index.type_decls)
                 if found.kind != "member" else set(index.members))
        if new_name in taken:
            raise RenameError(f"'{new_name}' is already declared")
    edits = [types.TextEdit(range=to_range(snapshot.lines, item.start, item.end),
                            new_text=new_name)
             for item in index.of(found.kind, found.name)]
    return types.WorkspaceEdit(changes={snapshot.uri: edits})


def document_symbols(snapshot: Snapshot) -> list[types.DocumentSymbol]:
    """The outline: the spec, its declarations, and the flow's bound values."""
    index = snapshot.index
    if index is None:
        return []
    program, analysis = index.program, index.analysis
    Kind = types.SymbolKind

    def symbol(name: str, kind: types.SymbolKind, whole: tuple[int, int],
               selection: tuple[int, int], detail: str | None = None,
               children: list[types.DocumentSymbol] | None = None) -> types.DocumentSymbol:
        return types.DocumentSymbol(
            name=name, kind=kind, detail=detail, children=children or None,
            range=to_range(snapshot.lines, *whole),
            selection_range=to_range(snapshot.lines, *selection))

    def span(node: ast.Node) -> tuple[int, int]:
        return (node.span.start, node.span.end)

    def bound(name: str) -> str:
        found = analysis.bindings.get(name)
        return found.render() if found else "?"

    children: list[types.DocumentSymbol] = []
    for item in program.items:
        if isinstance(item, ast.InputDecl | ast.OutputDecl):
            children.append(symbol(item.name.value, Kind.Variable, span(item), span(item.name),
                                   f"{item.kind} {bound(item.name.value)}"))
        elif isinstance(item, ast.TypeDecl):
            members = [symbol(member.value, Kind.EnumMember, span(member), span(member))
                       for member in (item.type.members if isinstance(item.type, ast.EnumType)
                                      else ())]
            children.append(symbol(item.name.value, Kind.Enum if members else Kind.Class,
                                   span(item), span(item.name), "type", members))
        elif isinstance(item, ast.AgentDecl):
            settings = analysis.agents.get(item.name.value)
            output = settings.output.render() if settings and settings.output else "?"
            children.append(symbol(item.name.value, Kind.Function, span(item), span(item.name),
                                   f"agent -> {output}"))
        elif isinstance(item, ast.AgentTemplate):
            params = ", ".join(param.value for param in item.params)
            children.append(symbol(item.name.value, Kind.Class, span(item), span(item.name),
                                   f"agent template ({params})"))
        elif isinstance(item, ast.AgentInstance):
            settings = analysis.agents.get(item.name.value)
            output = settings.output.render() if settings and settings.output else "?"
            children.append(symbol(item.name.value, Kind.Function, span(item), span(item.name),
                                   f"agent = {item.template.value}(...) -> {output}"))
        elif isinstance(item, ast.ToolDecl):
            signature = analysis.tools.get(item.name.value)
            result = signature.result.render() if signature else "?"
            children.append(symbol(item.name.value, Kind.Method, span(item), span(item.name),
                                   f"tool -> {result}"))
        else:
            values = []
            for found in index.occurrences:
                if found.kind == "value" and found.definition \
                        and found.role in ("value", "graph_node"):
                    binding = index.statement_at(found.start)
                    whole = span(binding) if binding else (found.start, found.end)
                    values.append(symbol(found.name, Kind.Variable, whole,
                                         (found.start, found.end), bound(found.name)))
            children.append(symbol("flow", Kind.Namespace, span(item), span(item), None,
                                   values))
    return [symbol(program.name.value, Kind.Module, span(program), span(program.name),
                   "mas", children)]

"""Completion: what may be written at the cursor, read from the text around it and the
symbol table (of this version, or of the last version that parsed while the spec is being
typed and does not parse).

The context is found lexically (comments and strings blanked out, braces matched): inside an
agent the settings, inside the flow statements, agents, values in scope, builtin patterns
as snippets with their parameters (every entry of the builtin-pattern registry), and after
`==`, `case` or `stop:` enum members; tool names (builtin and declared) inside `tools [...]`,
a template's parameters inside `agent x = template(`, the condition functions after `if`,
`until` or `when`, types after `:` / `->` / `=` in
declarations.
"""

from __future__ import annotations

import re

from lsprotocol import types

from masdsl import ast
from masdsl.ast import CONDITION_FUNCTIONS
from masdsl.checker import BUILTINS, DEFAULT_TOOLS, Builtin, ValueKind
from masdsl.checker.analysis import BUILTIN_MODELS
from masdsl.cli.lsp.hover import (
    CONDITION_DOCS,
    FIELD_DOCS,
    TOOL_DOCS,
    builtin_hover,
    builtin_signature,
)
from masdsl.cli.lsp.index import SymbolIndex
from masdsl.patterns import VOTE_STRATEGIES
from masdsl.types import PRIMITIVES, Enum

Kind = types.CompletionItemKind
TOP_LEVEL = ("input", "output", "type", "agent", "flow", "tool")
FLOW_KEYWORDS = ("if", "else", "match", "case", "loop", "max", "until", "graph", "max_steps",
                 "not", "true", "false")
GRAPH_KEYWORDS = ("start", "node", "edge", "when", "end")
_MASK = re.compile(r'"""(?:[^"\\]|\\[\s\S]|"[^"\\]|"\\[\s\S]|""[^"\\]|""\\[\s\S])*(?:"""|$)'
                   r'|"(?:[^"\\\n]|\\[^\n])*"?|#[^\n]*')
_SNIPPETS = {
    "input": "input ${1:name}: ${2:text}",
    "output": "output ${1:name}: ${2:text}",
    "type": "type ${1:Name} = enum { ${2:a}, ${3:b} }",
    "agent": 'agent ${1:name} -> ${2:text} {\n  role "${3:You are ...}"\n}',
    "flow": "flow {\n  $0\n}",
    "if": "if ${1:condition} {\n  $0\n}",
    "match": "match ${1:value} {\n  case ${2:member} {\n    $0\n  }\n}",
    "loop": "loop max ${1:3} until ${2:condition} {\n  $0\n}",
    "graph": "graph max_steps ${1:10} {\n  start ${2:first}\n  $0\n}",
    "tool": 'tool ${1:name}(${2:query}: ${3:text}) -> ${4:text} {\n'
            '  description "${5:What it does.}"\n}',
}
_TEMPLATE_SNIPPET = ('agent ${1:expert}(${2:field}) -> ${3:text} {\n'
                     '  role "You are an expert in {${2}}."\n}')


def blank_strings_and_comments(text: str) -> str:
    """`text` with every string and comment replaced by spaces (same length), so brackets
    and words inside them do not count."""
    return _MASK.sub(lambda match: re.sub(r"[^\n]", " ", match.group()), text)


def enclosing_headers(masked: str) -> list[str]:
    """The headers of the blocks open at the end of `masked` (outermost first): for each
    unclosed `{`, the words before it on its statement (e.g. `agent solver -> number`)."""
    stack: list[str] = []
    last_break = 0
    for index, char in enumerate(masked):
        if char == "{":
            stack.append(masked[last_break:index].strip())
            last_break = index + 1
        elif char == "}":
            if stack:
                stack.pop()
            last_break = index + 1
        elif char == "\n":
            last_break = index + 1
    return stack


def open_call(masked_line: str) -> str | None:
    """The callee of the innermost call still open on the line before the cursor."""
    depth = 0
    for index in range(len(masked_line) - 1, -1, -1):
        char = masked_line[index]
        if char in ")]":
            depth += 1
        elif char in "([":
            if depth == 0:
                if char == "[":
                    continue
                match = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*$", masked_line[:index])
                return match.group(1) if match else None
            depth -= 1
    return None


def complete(text: str, offset: int, index: SymbolIndex | None) -> list[types.CompletionItem]:
    """The completion items at `offset` of `text`."""
    masked = blank_strings_and_comments(text[:offset])
    line = masked[masked.rfind("\n") + 1:]
    headers = enclosing_headers(masked)
    head = headers[-1].split()[0] if headers and headers[-1] else ""
    if re.search(r"\btools\s*\[[^\]]*$", line):
        declared = index.analysis.tools if index is not None else {}
        return [_item(tool, Kind.Module, "tool", TOOL_DOCS.get(tool))
                for tool in sorted(DEFAULT_TOOLS)] + [
            _item(name, Kind.Function, "declared tool", tool.description or None)
            for name, tool in declared.items()]
    if re.search(r"\bmodel\s+\w*$", line) and head == "agent":
        return [_item(model, Kind.Module, "model") for model in BUILTIN_MODELS]
    if re.search(r"\bstrategy\s*:\s*\w*$", line):
        return [_item(choice, Kind.EnumMember, "vote strategy") for choice in VOTE_STRATEGIES]
    subject = re.search(r"\b(\w+)\s*(?:==|!=)\s*\w*$", line)
    if subject or re.search(r"(\bcase\s+[\w,\s]*|\bstop\s*:\s*\w*)$", line):
        return _members(index, subject.group(1) if subject else None)
    if re.search(r"(^\s*(input|output)\s+\w+\s*:|->|^\s*type\s+\w+\s*=|list\s*\[)\s*\w*$",
                 line):
        return _types(index)
    instance = re.search(r"^\s*agent\s+\w+\s*=\s*(\w+)\s*\([^)]*$", line)
    if instance and len(headers) <= 1:
        return _template_params(index, instance.group(1))
    if len(headers) <= 1:
        return [_snippet(word, Kind.Keyword, _SNIPPETS[word]) for word in TOP_LEVEL] + [
            _snippet("agent template", Kind.Keyword, _TEMPLATE_SNIPPET,
                     detail="agent name(param) { ... }: near-identical agents declared once")]
    if head == "agent":
        return [_item(key, Kind.Property, "agent setting", FIELD_DOCS[key],
                      insert=f"{key} ") for key in FIELD_DOCS]
    if head == "enum":
        return []
    items = _flow_items(index, offset, head == "graph" or "graph" in headers[-1],
                        open_call(line))
    if re.search(r"\b(if|until|when)\b[^{]*$", line):
        items += [_snippet(name, Kind.Function, f"{name}(${{1:xs}})",
                           detail=f"{name}(xs): condition function",
                           doc=CONDITION_DOCS[name]) for name in CONDITION_FUNCTIONS]
    return items


def _flow_items(index: SymbolIndex | None, offset: int, in_graph: bool,
                callee: str | None) -> list[types.CompletionItem]:
    items: list[types.CompletionItem] = []
    if callee in BUILTINS:
        builtin = BUILTINS[callee]
        items += [_item(f"{param.name}:", Kind.Field, f"{builtin.name} parameter", param.doc,
                        insert=f"{param.name}: ") for param in builtin.params]
    words = FLOW_KEYWORDS + (GRAPH_KEYWORDS if in_graph else ())
    items += [_snippet(word, Kind.Keyword, _SNIPPETS[word]) if word in _SNIPPETS
              else _item(word, Kind.Keyword, "keyword") for word in words]
    items += [_builtin_item(builtin) for builtin in BUILTINS.values()]
    if index is None:
        return items
    analysis = index.analysis
    for name, settings in analysis.agents.items():
        output = settings.output.render() if settings.output else "?"
        items.append(_snippet(name, Kind.Function, f"{name}(${{1}})",
                              detail=f"agent -> {output}", doc=settings.role[:200]))
    for name in index.values_before(offset):
        bound = analysis.bindings.get(name)
        items.append(_item(name, Kind.Variable, bound.render() if bound else "value"))
    items += _members(index, None)
    return items


def _template_params(index: SymbolIndex | None, name: str) -> list[types.CompletionItem]:
    """Inside `agent x = template(`: the template's parameters, as `param: "..."`."""
    template = index.agents.get(name) if index is not None else None
    if not isinstance(template, ast.AgentTemplate):
        return []
    return [_snippet(f"{param.value}:", Kind.Field, f'{param.value}: "${{1}}"',
                     detail=f"parameter of the template {name}",
                     doc=f"replaces `{{{param.value}}}` in the template's role")
            for param in template.params]


def _members(index: SymbolIndex | None, subject: str | None) -> list[types.CompletionItem]:
    if index is None:
        return []
    bound = index.analysis.bindings.get(subject) if subject else None
    names = list(bound.members) if isinstance(bound, Enum) else sorted(index.members)
    return [_item(name, Kind.EnumMember, "member of " + ", ".join(
        dict.fromkeys(index.members.get(name, ["enum"])))) for name in names]


def _types(index: SymbolIndex | None) -> list[types.CompletionItem]:
    items = [_item(name, Kind.TypeParameter, "builtin type") for name in PRIMITIVES]
    items.append(_snippet("list", Kind.TypeParameter, "list[${1:text}]", detail="list[T]"))
    items.append(_snippet("enum", Kind.TypeParameter, "enum { ${1:a}, ${2:b} }",
                          detail="enum { ... }"))
    if index is not None:
        items += [_item(name, Kind.Enum if isinstance(alias, Enum) else Kind.TypeParameter,
                        alias.render() if not isinstance(alias, Enum)
                        else "enum { " + ", ".join(alias.members) + " }")
                  for name, alias in index.analysis.type_aliases.items()]
    return items


def builtin_snippet(builtin: Builtin) -> str:
    """`ensemble(${1:agents}, n: ${2:3}, ${3:question})`: the subject, the required keyword
    parameters (with `n`, which a single agent needs, and a choice list where the parameter
    has one), then a data input when the pattern runs agents."""
    parts = [f"${{1:{builtin.subject.name}}}"]
    for param in builtin.params:
        if not (param.required or param.name == "n" or param.choices):
            continue
        number = len(parts) + 1
        if param.choices:
            parts.append(f"{param.name}: ${{{number}|{','.join(param.choices)}|}}")
        else:
            default = param.default if param.default is not None else (
                2 if param.kind is ValueKind.INTEGER else param.name)
            parts.append(f"{param.name}: ${{{number}:{default}}}")
    if builtin.subject.takes_agents:
        parts.append(f"${{{len(parts) + 1}:question}}")
    return f"{builtin.name}({', '.join(parts)})"


def _builtin_item(builtin: Builtin) -> types.CompletionItem:
    return _snippet(builtin.name, Kind.Snippet, builtin_snippet(builtin),
                    detail=f"{builtin_signature(builtin)} -> {builtin.result}",
                    doc=builtin_hover(builtin))


def _item(label: str, kind: types.CompletionItemKind, detail: str | None = None,
          doc: str | None = None, insert: str | None = None) -> types.CompletionItem:
    return types.CompletionItem(
        label=label, kind=kind, detail=detail, insert_text=insert,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc)
        if doc else None)


def _snippet(label: str, kind: types.CompletionItemKind, body: str, detail: str | None = None,
             doc: str | None = None) -> types.CompletionItem:
    return types.CompletionItem(
        label=label, kind=kind, detail=detail or label, insert_text=body,
        insert_text_format=types.InsertTextFormat.Snippet,
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc)
        if doc else None)

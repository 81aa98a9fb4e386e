"""The canonical `.mas` formatter: `format_program(program) -> str`.

Formatting runs in two steps. `_Layout` walks the AST and produces the canonical lines, each
remembering which part of the source it came from (its offsets and the source line where it
ends). `_place_comments` then weaves the program's comments back in using only those source
positions: a comment on the same source line just after a line's last token trails that line;
every other comment goes on its own line just before the first output line that follows it
in the source (a comment inside a multi-line expression therefore moves above its
statement). Because layout and comments are kept apart, the output is a pure function of the
tree and the comments, which is what makes it idempotent: `fmt(fmt(x)) == fmt(x)`.

Canonical layout: two-space indent, one declaration, field or statement per line (a
statement wider than the line width, 100 columns unless told otherwise, is wrapped at its
call and list brackets: one argument or item per line), agent fields in source order, a
blank line between top-level groups (consecutive inputs, outputs and types form one group;
each agent and the flow is a group of its own), strings re-escaped so they read back to the
same value, numbers printed canonically, no trailing commas.
"""

from __future__ import annotations

from dataclasses import dataclass

from masdsl import ast

INDENT = "  "
LINE_WIDTH = 100
"""The default line width: a statement longer than this is wrapped at its call and list
brackets, one argument or item per line."""


@dataclass(frozen=True)
class _Line:
    """One output line and the source region it stands for.

    Comments starting before `end` are placed above the line (at `comment_depth`); a comment
    starting at or after `end` on source line `end_line`, before the next line's `start`,
    trails it."""

    depth: int
    text: str
    start: int
    end: int
    end_line: int
    comment_depth: int
    blank_before: bool = False


def format_source(text: str | bytes, path: str = "<string>",
                  line_width: int = LINE_WIDTH) -> str:
    """Parse `text` and return its canonical form. Raises `MasError` when it does not parse."""
    from masdsl.parser import parse

    return format_program(parse(text, path), line_width)


def format_program(program: ast.Program, line_width: int = LINE_WIDTH) -> str:
    """The canonical text of `program`, with every comment of `program.comments` kept.
    Statements longer than `line_width` columns are wrapped (`wrap_expr`)."""
    layout = _Layout(line_width)
    layout.program(program)
    return _place_comments(layout.lines, program.comments)


# ---- literals ---------------------------------------------------------------------------


def format_string(value: str) -> str:
    """A STRING literal that reads back as `value`: triple-quoted when it has a newline."""
    if "\n" in value:
        return '"""' + _escape_triple(value) + '"""'
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
               .replace("\r", "\\r"))
    return f'"{escaped}"'


def _escape_triple(value: str) -> str:
    out = []
    for index, char in enumerate(value):
        if char == "\\":
            out.append("\\\\")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char == '"' and (index + 1 == len(value) or value[index + 1] == '"'):
            out.append('\\"')
        else:
            out.append(char)
    return "".join(out)


def format_number(value: int | float) -> str:
    """The canonical spelling of a number: `int` as digits, `float` as Python's shortest
    round-tripping form (always with a `.` or an exponent, so it stays a float)."""
    if isinstance(value, bool):  # pragma: no cover - bools are BoolLit, never numbers
        raise TypeError("a bool is not a number literal")
    if isinstance(value, int):
        return str(value)
    text = repr(value)
    return text


def format_type(node: ast.NamedType | ast.ListType | ast.EnumType | ast.RecordType) -> str:
    if isinstance(node, ast.NamedType):
        return node.name.value
    if isinstance(node, ast.ListType):
        return f"list[{format_type(node.element)}]"
    if isinstance(node, ast.RecordType):
        return "{ " + ", ".join(f"{field.name.value}: {format_type(field.type)}"
                                for field in node.fields) + " }"
    return "enum { " + ", ".join(member.value for member in node.members) + " }"


def format_expr(node: ast.Ref | ast.FieldAccess | ast.StringLit | ast.NumberLit | ast.BoolLit
                | ast.ListExpr | ast.Call | ast.Index) -> str:
    """An expression on one line."""
    if isinstance(node, ast.Ref):
        return node.name
    if isinstance(node, ast.Index):
        return f"{node.subject.value}[{format_expr(node.position)}]"
    if isinstance(node, ast.FieldAccess):
        return f"{node.subject.value}.{node.field.value}"
    if isinstance(node, ast.StringLit):
        return format_string(node.value)
    if isinstance(node, ast.NumberLit):
        return format_number(node.value)
    if isinstance(node, ast.BoolLit):
        return "true" if node.value else "false"
    if isinstance(node, ast.ListExpr):
        return "[" + ", ".join(format_expr(item) for item in node.items) + "]"
    return f"{node.callee.value}(" + ", ".join(_format_arg(arg) for arg in node.args) + ")"


def _format_arg(arg: ast.Arg) -> str:
    value = format_expr(arg.value)
    return f"{arg.keyword.value}: {value}" if arg.keyword is not None else value


def _fits(text: str, column: int, width: int) -> bool:
    """True when `text` starting at `column` stays within `width` columns (a triple-quoted
    string's later lines start at column 0)."""
    first, *rest = text.split("\n")
    return column + len(first) <= width and all(len(line) <= width for line in rest)


def wrap_expr(node: ast.Expr, column: int, depth: int, width: int) -> str:
    """`node` as it is written starting at `column` inside a statement at block `depth`: on
    one line when it fits in `width` columns, else a call or list is opened at its bracket
    with one argument or item per line (indented one level deeper, wrapped in turn), and
    closed on a line of its own. Literals and names are never split."""
    flat = format_expr(node)
    if _fits(flat, column, width) or not isinstance(node, ast.Call | ast.ListExpr):
        return flat
    inner = INDENT * (depth + 1)
    if isinstance(node, ast.ListExpr):
        if not node.items:
            return flat
        opening, closing = "[", "]"
        items = [wrap_expr(item, len(inner), depth + 1, width) for item in node.items]
    else:
        if not node.args:
            return flat
        opening, closing = f"{node.callee.value}(", ")"
        items = []
        for arg in node.args:
            prefix = f"{arg.keyword.value}: " if arg.keyword is not None else ""
            items.append(prefix + wrap_expr(arg.value, len(inner) + len(prefix), depth + 1,
                                            width))
    body = ",\n".join(inner + item for item in items)
    return f"{opening}\n{body}\n{INDENT * depth}{closing}"


def format_operand(operand: ast.Operand) -> str:
    """A condition operand: a name, a literal or `f(xs)`."""
    if isinstance(operand, ast.CondCall):
        return f"{operand.function.value}({operand.argument.value})"
    return format_expr(operand)


def format_cond(cond: ast.Cond) -> str:
    """A condition with the fewest parentheses that parse back to the same tree: `or` binds
    loosest, then `and`, then `not`; a nested `and`/`or` in its own kind keeps its
    parentheses (they group it as written)."""
    if isinstance(cond, ast.Truth):
        return format_operand(cond.operand)
    if isinstance(cond, ast.Compare):
        return f"{format_operand(cond.left)} {cond.op} {format_operand(cond.right)}"
    if isinstance(cond, ast.Not):
        inner = format_cond(cond.operand)
        return f"not ({inner})" if isinstance(cond.operand, ast.BoolOp) else f"not {inner}"
    parts = []
    for operand in cond.operands:
        text = format_cond(operand)
        grouped = isinstance(operand, ast.BoolOp) and (operand.op == cond.op
                                                       or operand.op == "or")
        parts.append(f"({text})" if grouped else text)
    return f" {cond.op} ".join(parts)


def _format_field(field: ast.AgentField) -> str:
    value = field.value
    if isinstance(value, ast.StringLit):
        shown = format_string(value.value)
    elif isinstance(value, ast.NumberLit):
        shown = format_number(value.value)
    elif isinstance(value, ast.Name):
        shown = value.value
    elif isinstance(value, ast.BoolLit | ast.Ref | ast.ListExpr):
        shown = format_expr(value)
    else:
        shown = "[" + ", ".join(name.value for name in value) + "]"
    return f"{field.key} {shown}"


# ---- layout -----------------------------------------------------------------------------


class _Layout:
    """Produces the canonical lines of a program, in source order."""

    def __init__(self, width: int = LINE_WIDTH) -> None:
        self.lines: list[_Line] = []
        self.width = width

    def _binding(self, depth: int, head: str, value: ast.Expr) -> str:
        """`head value` (an assignment or graph node), wrapped to the line width."""
        column = len(INDENT) * depth + len(head)
        return head + wrap_expr(value, column, depth, self.width)

    def _leaf(self, depth: int, text: str, node: ast.Node, blank_before: bool = False) -> None:
        self.lines.append(_Line(depth, text, node.span.start, node.span.end,
                                node.span.end_line, depth, blank_before))

    def _open(self, depth: int, text: str, start: int, header_end: ast.Node | int,
              end_line: int | None = None, blank_before: bool = False) -> None:
        """A line ending in `{`; `header_end` is the node ending the header or, when the
        brace's own offset is known, that offset."""
        if isinstance(header_end, int):
            end, line = header_end + 1, end_line or 1
        else:
            end, line = header_end.span.end, header_end.span.end_line
        self.lines.append(_Line(depth, text + " {", start, end, line, depth, blank_before))

    def _close(self, depth: int, node: ast.Node, text: str = "}") -> None:
        """The closing brace of `node` (whose span ends just after it)."""
        self.lines.append(_Line(depth, text, node.span.end - 1, node.span.end,
                                node.span.end_line, depth + 1))

    def program(self, program: ast.Program) -> None:
        self._open(0, f"mas {program.name.value}", program.span.start, program.name)
        previous: str | None = None
        for item in program.items:
            group = "decl" if isinstance(item, ast.InputDecl | ast.OutputDecl
                                         | ast.TypeDecl) else "own"
            blank = previous is not None and (group == "own" or previous == "own")
            previous = group
            self.item(item, blank)
        self._close(0, program)

    def item(self, item: ast.InputDecl | ast.OutputDecl | ast.TypeDecl | ast.AgentDecl
             | ast.Flow | ast.AgentTemplate | ast.AgentInstance | ast.ToolDecl,
             blank: bool) -> None:
        if isinstance(item, ast.ToolDecl):
            self.tool(item, blank)
        elif isinstance(item, ast.InputDecl | ast.OutputDecl):
            keyword = "input" if isinstance(item, ast.InputDecl) else "output"
            self._leaf(1, f"{keyword} {item.name.value}: {format_type(item.type)}", item, blank)
        elif isinstance(item, ast.TypeDecl):
            self._leaf(1, f"type {item.name.value} = {format_type(item.type)}", item, blank)
        elif isinstance(item, ast.AgentDecl):
            header = f"agent {item.name.value}"
            if item.output is not None:
                header += f" -> {format_type(item.output)}"
            self._open(1, header, item.span.start, item.output or item.name, blank_before=blank)
            for field in item.fields:
                self._leaf(2, _format_field(field), field)
            self._close(1, item)
        elif isinstance(item, ast.AgentTemplate):
            params = ", ".join(param.value for param in item.params)
            header = f"agent {item.name.value}({params})"
            if item.output is not None:
                header += f" -> {format_type(item.output)}"
            self._open(1, header, item.span.start, item.output or item.params[-1],
                       blank_before=blank)
            for field in item.fields:
                self._leaf(2, _format_field(field), field)
            self._close(1, item)
        elif isinstance(item, ast.AgentInstance):
            args = ", ".join(f"{arg.name.value}: {format_string(arg.value.value)}"
                             for arg in item.args)
            header = f"agent {item.name.value} = {item.template.value}({args})"
            if not item.has_block:
                self._leaf(1, header, item, blank)
                return
            self._open(1, header, item.span.start, item.args[-1] if item.args else
                       item.template, blank_before=blank)
            for field in item.fields:
                self._leaf(2, _format_field(field), field)
            self._close(1, item)
        else:
            self._open(1, "flow", item.span.start, item.body.span.start, item.body.span.line,
                       blank_before=blank)
            self.statements(2, item.body)
            self._close(1, item.body)

    def tool(self, item: ast.ToolDecl, blank: bool) -> None:
        """`tool name(p: T, ...) -> R {`, its fields, `}`."""
        params = ", ".join(f"{param.name.value}: {format_type(param.type)}"
                           for param in item.params)
        header = f"tool {item.name.value}({params})"
        if item.result is not None:
            header += f" -> {format_type(item.result)}"
        header_end = item.result or (item.params[-1] if item.params else item.name)
        self._open(1, header, item.span.start, header_end, blank_before=blank)
        for field in item.fields:
            self._leaf(2, f"{field.key} {format_string(field.value.value)}", field)
        self._close(1, item)

    def statements(self, depth: int, block: ast.Block) -> None:
        for statement in block.statements:
            self.statement(depth, statement)

    def _block(self, depth: int, block: ast.Block) -> None:
        """The statements and closing brace of a block whose `{` was already written."""
        self.statements(depth + 1, block)
        self._close(depth, block)

    def statement(self, depth: int, node: ast.Assign | ast.If | ast.Match | ast.Loop
                  | ast.Graph) -> None:
        if isinstance(node, ast.Assign):
            self._leaf(depth, self._binding(depth, f"{node.target.value} = ", node.value), node)
        elif isinstance(node, ast.If):
            self._open(depth, f"if {format_cond(node.condition)}", node.span.start,
                       node.then.span.start, node.then.span.line)
            self.statements(depth + 1, node.then)
            if node.otherwise is None:
                self._close(depth, node.then)
            else:
                # `} else {` is one line; it takes a comment that followed the `}` (in
                # canonical text that is also the comment after the `{`).
                then = node.then.span
                self.lines.append(_Line(depth, "} else {", then.end - 1, then.end,
                                        then.end_line, depth + 1))
                self._block(depth, node.otherwise)
        elif isinstance(node, ast.Match):
            self._open(depth, f"match {node.subject.value}", node.span.start, node.subject)
            for case in node.cases:
                members = ", ".join(member.value for member in case.members)
                self._open(depth + 1, f"case {members}", case.span.start,
                           case.body.span.start, case.body.span.line)
                self._block(depth + 1, case.body)
            if node.otherwise is not None:
                self._open(depth + 1, "else", node.otherwise.span.start,
                           node.otherwise.span.start, node.otherwise.span.line)
                self._block(depth + 1, node.otherwise)
            self._close(depth, node)
        elif isinstance(node, ast.Loop):
            header = f"loop max {format_number(node.max_iterations.value)}"
            if node.until is not None:
                header += f" until {format_cond(node.until)}"
            self._open(depth, header, node.span.start, node.body.span.start,
                       node.body.span.line)
            self._block(depth, node.body)
        else:
            self._open(depth, f"graph max_steps {format_number(node.max_steps.value)}",
                       node.span.start, node.max_steps)
            for graph_item in node.items:
                text = self._binding(depth + 1, f"node {graph_item.name.value} = ",
                                     graph_item.value) \
                    if isinstance(graph_item, ast.GraphNode) else _format_graph_item(graph_item)
                self._leaf(depth + 1, text, graph_item)
            self._close(depth, node)


def _format_graph_item(node: ast.GraphStart | ast.GraphNode | ast.GraphEdge) -> str:
    if isinstance(node, ast.GraphStart):
        return f"start {node.node.value}"
    if isinstance(node, ast.GraphNode):
        return f"node {node.name.value} = {format_expr(node.value)}"
    text = f"edge {node.source.value} -> {node.target.value}"
    return text + (f" when {format_cond(node.when)}" if node.when is not None else "")


# ---- comments ---------------------------------------------------------------------------


def _place_comments(lines: list[_Line], comments: tuple[ast.Comment, ...]) -> str:
    """Join `lines`, putting each comment above the line it preceded or after the line it
    trailed (see the module docstring)."""
    pending = sorted(comments, key=lambda comment: comment.span.start)
    position = 0
    out: list[str] = []
    for index, line in enumerate(lines):
        if line.blank_before:
            out.append("")
        while position < len(pending) and pending[position].span.start < line.end:
            out.append(INDENT * line.comment_depth + _comment_text(pending[position]))
            position += 1
        text = INDENT * line.depth + line.text
        next_start = lines[index + 1].start if index + 1 < len(lines) else None
        if position < len(pending):
            comment = pending[position]
            if (comment.span.line == line.end_line
                    and (next_start is None or comment.span.start < next_start)):
                text += "  " + _comment_text(comment)
                position += 1
        out.append(text)
    out.extend(_comment_text(comment) for comment in pending[position:])
    return "\n".join(out) + "\n"


def _comment_text(comment: ast.Comment) -> str:
    return comment.text.rstrip()

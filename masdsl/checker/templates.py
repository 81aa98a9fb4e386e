"""Agent templates: `agent expert(field) { role "... {field} ..." }` declared once, and
instances `agent physicist = expert(field: "physics") { temperature 0.2 }` that are
ordinary agents (the checker gives each its `AgentSettings`, so lowering, the IR and the
runtime never see a template).

Rules: a template names its parameters once each (MAS102); every `{name}` in its role is a
parameter and every brace is paired (`{{`/`}}` are literal braces) (MAS144). An instance
names a template (MAS141), gives every parameter a string (MAS142) and nothing else
(MAS143), each once (MAS115). A template is not an agent: calling it, or naming it where
an agent is expected, is MAS145. The instance's own fields replace the template's.
"""

from __future__ import annotations

import re

from masdsl import ast
from masdsl.checker.context import Context, suggest

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")
"""A template role's pieces: `{{`/`}}` (literal braces), `{name}`, or a stray brace."""


def _role(fields: tuple[ast.AgentField, ...]) -> ast.StringLit | None:
    found = next((item for item in fields if item.key == "role"), None)
    return found.value if found is not None and isinstance(found.value, ast.StringLit) \
        else None


def check_template(ctx: Context, template: ast.AgentTemplate) -> None:
    """The template's own rules: distinct parameters, placeholders that are parameters."""
    params: set[str] = set()
    for param in template.params:
        if param.value in params:
            ctx.report("MAS102", param.span, f"the parameter '{param.value}' is declared "
                       "twice", help="give each parameter its own name")
        params.add(param.value)
    role = _role(template.fields)
    if role is None:
        return
    for match in PLACEHOLDER.finditer(role.value):
        name = match.group(1)
        if name is None and match.group() in ("{", "}"):
            ctx.report("MAS144", role.span, "the role has a stray brace",
                       help="write {{ or }} for a literal brace; placeholders are {param}")
            return
        if name is not None and name not in params:
            ctx.report("MAS144", role.span, f"the role's {{{name}}} is not a parameter of "
                       f"'{template.name.value}'", help=suggest(name, params)
                       or f"add it: agent {template.name.value}(..., {name})")


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each `{param}` replaced by its value and `{{`/`}}` by braces."""

    def piece(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return values.get(match.group(1), match.group())
        return {"{{": "{", "}}": "}"}.get(match.group(), match.group())

    return PLACEHOLDER.sub(piece, text)


def instantiate(ctx: Context, instance: ast.AgentInstance,
                templates: dict[str, ast.AgentTemplate]) -> ast.AgentDecl | None:
    """The ordinary agent an instance declares (None, after reporting, when its template is
    unknown): the template's output and fields, its role filled in with the arguments, and
    the instance's own fields in place of the template's."""
    template = templates.get(instance.template.value)
    if template is None:
        ctx.report("MAS141", instance.template.span, f"'{instance.template.value}' is not "
                   "an agent template", help=suggest(instance.template.value, templates)
                   or "declare it: agent " + instance.template.value + '(param) { role '
                   '"... {param} ..." }')
        return None
    params = [param.value for param in template.params]
    values: dict[str, str] = {}
    for arg in instance.args:
        name = arg.name.value
        if name in values:
            ctx.report("MAS115", arg.name.span, f"'{name}' is given twice",
                       help="keep one of them")
        elif name not in params:
            ctx.report("MAS143", arg.name.span, f"the template '{template.name.value}' has "
                       f"no parameter '{name}'", help=suggest(name, params)
                       or "its parameters: " + ", ".join(params))
        else:
            values[name] = arg.value.value
    missing = [name for name in params if name not in values]
    if missing:
        ctx.report("MAS142", instance.template.span, "no value for the parameter"
                   + ("s " if len(missing) > 1 else " ") + ", ".join(missing),
                   help="give each parameter a string: " + ", ".join(
                       f'{name}: "..."' for name in missing))
    own = {item.key for item in instance.fields}
    fields = [item for item in template.fields if item.key not in own]
    fields = [_filled(item, values) if item.key == "role" else item for item in fields]
    return ast.AgentDecl(span=instance.span, name=instance.name, output=template.output,
                         fields=(*fields, *instance.fields))


def _filled(item: ast.AgentField, values: dict[str, str]) -> ast.AgentField:
    role = item.value
    assert isinstance(role, ast.StringLit)
    return item.model_copy(update={"value": role.model_copy(
        update={"value": fill(role.value, values)})})

"""Conditions: the tests of `if`, `loop ... until` and graph edges' `when`, evaluated
without an LLM call.

Typing rules: a bare operand (`x`, `all_equal(xs)`, `empty(xs)`) must be bool (MAS202);
`==`/`!=` compare two values of one type (MAS202), where a name that is not a value but is
a member of the other side's enum stands for that member (MAS106 when it is not one;
MAS202 when the other side is bool and the name is not `true`/`false`); `<`, `<=`, `>`,
`>=` compare numbers (MAS202); `and`/`or`/`not` combine conditions. The functions are
`all_equal(xs)` and `empty(xs)` (bool) and `len(xs)` (number) over a list (MAS206), and no
other (MAS116). A member reference is recorded for the compiler under the kind "member".
"""

from __future__ import annotations

from masdsl import ast
from masdsl.checker.analysis import MEMBER
from masdsl.checker.context import Context, render, same_type, suggest
from masdsl.checker.expressions import Scope, field_type, resolve_value
from masdsl.spans import Span
from masdsl.types import BOOL, NUMBER, TEXT, Enum, List, Type

ORDERING = ("<", "<=", ">", ">=")


def check_cond(ctx: Context, scope: Scope, cond: ast.Cond, depth: int) -> None:
    """Check one condition (see the module docstring), reporting every problem once."""
    if ctx.too_deep(depth, cond.span):
        return
    if isinstance(cond, ast.BoolOp):
        for operand in cond.operands:
            check_cond(ctx, scope, operand, depth + 1)
    elif isinstance(cond, ast.Not):
        check_cond(ctx, scope, cond.operand, depth + 1)
    elif isinstance(cond, ast.Truth):
        _truth(ctx, scope, cond, depth)
    else:
        _compare(ctx, scope, cond, depth)


def _truth(ctx: Context, scope: Scope, cond: ast.Truth, depth: int) -> None:
    operand_type = operand_value_type(ctx, scope, cond.operand, depth)
    if operand_type is None or same_type(operand_type, BOOL):
        return
    shown = _shown(cond.operand)
    if isinstance(operand_type, Enum):
        hint = f"compare it: {shown} == {operand_type.members[0]}"
    elif same_type(operand_type, NUMBER):
        hint = f"compare it: {shown} > 0"
    else:
        hint = "a condition tests a bool, or compares values"
    ctx.report("MAS202", cond.operand.span, f"'{shown}' is {render(operand_type)}, not bool",
               help=hint)


def _compare(ctx: Context, scope: Scope, cond: ast.Compare, depth: int) -> None:
    left_member = _member_candidate(ctx, scope, cond.left)
    right_member = _member_candidate(ctx, scope, cond.right)
    if left_member and right_member:
        for side in (cond.left, cond.right):
            operand_value_type(ctx, scope, side, depth)  # MAS101 for each unknown name
        return
    if left_member or right_member:
        name_side = cond.left if left_member else cond.right
        value_side = cond.right if left_member else cond.left
        assert isinstance(name_side, ast.Ref)
        value = operand_value_type(ctx, scope, value_side, depth)
        _member(ctx, scope, cond, name_side, value_side, value, depth)
        return
    left = operand_value_type(ctx, scope, cond.left, depth)
    right = operand_value_type(ctx, scope, cond.right, depth)
    if cond.op in ORDERING:
        for side, side_type in ((cond.left, left), (cond.right, right)):
            if side_type is not None and not same_type(side_type, NUMBER):
                ctx.report("MAS202", side.span, f"`{cond.op}` compares numbers; "
                           f"'{_shown(side)}' is {render(side_type)}",
                           help="use == or != for other values")
        return
    if left is not None and right is not None and not same_type(left, right):
        ctx.report("MAS202", cond.span, f"'{_shown(cond.left)}' is {render(left)} and "
                   f"'{_shown(cond.right)}' is {render(right)}: values of different types "
                   "are never equal", help="compare values of one type")


def _member(ctx: Context, scope: Scope, cond: ast.Compare, name: ast.Ref,
            value_side: ast.Operand, value: Type | None, depth: int) -> None:
    """`value == name` where `name` is no value: an enum member of `value`'s type."""
    if value is None:
        return
    if cond.op in ORDERING:
        ctx.report("MAS202", name.span, f"`{cond.op}` compares numbers; '{name.name}' is no "
                   "value here", help="use == or != to test an enum member")
        return
    if isinstance(value, Enum):
        if name.name in value.members:
            ctx.record(name, MEMBER, value)
            return
        ctx.report("MAS106", name.span, f"'{name.name}' is not a member of {render(value)}",
                   help=suggest(name.name, value.members)
                   or "members: " + ", ".join(value.members))
        return
    if same_type(value, BOOL):
        ctx.report("MAS202", name.span, f"'{_shown(value_side)}' is bool: compare it with "
                   "true or false", help=f"write {_shown(value_side)} == true")
        return
    resolve_value(ctx, scope, name.name, name.span, depth)  # MAS101 with a suggestion


def _member_candidate(ctx: Context, scope: Scope, operand: ast.Operand) -> bool:
    """True for a name that denotes no value, agent or type here (it may be a member)."""
    if not isinstance(operand, ast.Ref):
        return False
    name = operand.name
    return not (name in scope.bound or name in scope.forward or name in scope.maybe
                or name in ctx.flow_names or name in ctx.outputs or name in ctx.inputs
                or name in ctx.agents or name in ctx.type_aliases)


def _bound_later(ctx: Context, scope: Scope, name: str, span: Span) -> bool:
    """MAS107 for a condition that reads a name bound only later in the loop body or graph:
    a condition decides before the body runs on, so it reads values bound before it."""
    if name in scope.bound or name not in scope.forward:
        return False
    ctx.report("MAS107", span, f"'{name}' is bound later in the loop: a condition can only "
               "test values bound before it", help=f"bind '{name}' before this condition")
    return True


def operand_value_type(ctx: Context, scope: Scope, operand: ast.Operand,
                       depth: int) -> Type | None:
    """The type of a condition operand (None when unknown after a diagnostic)."""
    named = (operand.name, operand.span) if isinstance(operand, ast.Ref) else (
        (operand.subject.value, operand.subject.span) if isinstance(operand, ast.FieldAccess)
        else (operand.argument.value, operand.argument.span)
        if isinstance(operand, ast.CondCall) else None)
    if named is not None and _bound_later(ctx, scope, *named):
        return None
    if isinstance(operand, ast.Ref):
        return ctx.record(operand, "ref",
                          resolve_value(ctx, scope, operand.name, operand.span, depth))
    if isinstance(operand, ast.FieldAccess):
        return ctx.record(operand, "field", field_type(ctx, scope, operand, depth))
    if isinstance(operand, ast.StringLit):
        return TEXT
    if isinstance(operand, ast.NumberLit):
        return NUMBER
    if isinstance(operand, ast.BoolLit):
        return BOOL
    function = operand.function.value
    argument = resolve_value(ctx, scope, operand.argument.value, operand.argument.span, depth)
    if function not in ast.CONDITION_FUNCTIONS:
        ctx.report("MAS116", operand.function.span, f"conditions have no function "
                   f"'{function}'", help=suggest(function, ast.CONDITION_FUNCTIONS)
                   or "conditions can use " + ", ".join(ast.CONDITION_FUNCTIONS))
        return None
    if argument is not None and not isinstance(argument, List):
        ctx.report("MAS206", operand.argument.span, f"{function}() takes a list; "
                   f"'{operand.argument.value}' is {render(argument)}",
                   help="pass a list, e.g. the result of ensemble(...)")
    return NUMBER if function == "len" else BOOL


def _shown(operand: ast.Operand) -> str:
    """An operand as the spec writes it, for messages."""
    if isinstance(operand, ast.Ref):
        return operand.name
    if isinstance(operand, ast.FieldAccess):
        return f"{operand.subject.value}.{operand.field.value}"
    if isinstance(operand, ast.CondCall):
        return f"{operand.function.value}({operand.argument.value})"
    if isinstance(operand, ast.StringLit):
        return repr(operand.value)
    if isinstance(operand, ast.BoolLit):
        return "true" if operand.value else "false"
    return str(operand.value)

"""Lowering of conditions (`if`, `loop ... until`, graph edges' `when`).

A condition becomes a *test*: the value a `branch` node or a graph step reads, and the
values of it for which the condition holds. A condition on one bool or enum value (`x`,
`not x`, `x == member`, `x != member`, `x == true`) tests that value directly, exactly as
before conditions could compute; anything else (comparisons between values, `and`/`or`,
`all_equal`/`len`/`empty`) becomes a `condition` node whose bool `out` is tested for
`true`. Neither costs an LLM call.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.builder import Builder, Context, Value, out
from compiler.ir import OUT, ConditionNode, Port, Term, TermOp
from compiler.lower_expr import lower_field
from compiler.resolve import domain_of, fail
from masdsl import ast
from masdsl.types import BOOL, Enum, Record, Type

TRUE = ("true",)
_FUNCTIONS: dict[str, TermOp] = {"all_equal": "all_equal", "len": "len", "empty": "empty"}


@dataclass(frozen=True)
class Test:
    """What a construct branches on: `subject`'s value, holding for the values `holds`."""

    subject: Value
    holds: tuple[str, ...]
    computed: bool = False  # True when `subject` is a `condition` node's bool

    @property
    def fails(self) -> tuple[str, ...]:
        """The subject's values for which the condition does not hold, in domain order."""
        return tuple(value for value in domain_of(self.subject.type) if value not in self.holds)


def lower_condition(builder: Builder, context: Context, env: dict[str, Value],
                    cond: ast.Cond, label: str) -> Test:
    """The test of `cond` over the values bound in `env` (see the module docstring)."""
    direct = _direct(builder, context, env, cond)
    if direct is not None:
        return direct
    ports: dict[str, tuple[Port, Value]] = {}
    term = _term(builder, context, env, cond, ports)
    node_id = builder.new_id(f"condition_{label}")
    builder.add(ConditionNode(id=node_id, span=cond.span, label=label, scope=context.scope,
                              test=term, inputs=tuple(port for port, _ in ports.values()),
                              outputs=(Port(name=OUT, type=BOOL),)),
                context, list(ports.values()))
    return Test(out(node_id, BOOL), TRUE, computed=True)


def _is_member(builder: Builder, operand: ast.Operand) -> bool:
    return isinstance(operand, ast.Ref) and \
        (operand.span.start, operand.span.end) in builder.members


def _value(builder: Builder, env: dict[str, Value], name: str, span: ast.Node) -> Value:
    if name not in env:
        raise fail(builder.program, span.span, "MAS107", f"'{name}' is not bound here")
    return env[name]


def _operand_type(builder: Builder, env: dict[str, Value], operand: ast.Operand) -> Type | None:
    """The type of a value operand (a bound name or a field of one), or None for others."""
    if isinstance(operand, ast.Ref) and not _is_member(builder, operand):
        return _value(builder, env, operand.name, operand).type
    if isinstance(operand, ast.FieldAccess):
        record = _value(builder, env, operand.subject.value, operand.subject).type
        return record.field(operand.field.value) if isinstance(record, Record) else None
    return None


def _operand_value(builder: Builder, context: Context, env: dict[str, Value],
                   operand: ast.Ref | ast.FieldAccess) -> Value:
    """The value of a bound name, or of a record field (through a `field` node)."""
    if isinstance(operand, ast.Ref):
        return _value(builder, env, operand.name, operand)
    value = lower_field(builder, context, env, operand)
    if value is None:
        raise fail(builder.program, operand.span, "MAS107",
                   f"'{operand.subject.value}' is not bound here")
    return value


def _direct(builder: Builder, context: Context, env: dict[str, Value],
            cond: ast.Cond) -> Test | None:
    """The test of a condition on one bool or enum value, or None for any other."""
    negated = isinstance(cond, ast.Not)
    inner = cond.operand if isinstance(cond, ast.Not) else cond
    if isinstance(inner, ast.Truth):
        operand = inner.operand
        if _operand_type(builder, env, operand) != BOOL:
            return None
        assert isinstance(operand, ast.Ref | ast.FieldAccess)
        return Test(_operand_value(builder, context, env, operand),
                    ("false",) if negated else TRUE,
                    computed=isinstance(operand, ast.FieldAccess))
    if negated or not isinstance(inner, ast.Compare) or inner.op not in ("==", "!="):
        return None
    for left, right in ((inner.left, inner.right), (inner.right, inner.left)):
        subject_type = _operand_type(builder, env, left)
        if subject_type is None:
            continue
        if _is_member(builder, right):
            assert isinstance(right, ast.Ref)
            member = right.name
        elif isinstance(right, ast.BoolLit):
            member = "true" if right.value else "false"
        else:
            continue
        domain = domain_of(subject_type)
        if member not in domain or (not isinstance(subject_type, Enum) and subject_type != BOOL):
            continue
        assert isinstance(left, ast.Ref | ast.FieldAccess)
        holds = (member,) if inner.op == "==" else tuple(v for v in domain if v != member)
        return Test(_operand_value(builder, context, env, left), holds,
                    computed=isinstance(left, ast.FieldAccess))
    return None


def _term(builder: Builder, context: Context, env: dict[str, Value],
          cond: ast.Cond | ast.Operand, ports: dict[str, tuple[Port, Value]]) -> Term:
    """The IR expression of a condition or operand; the values it reads go into `ports`."""
    if isinstance(cond, ast.BoolOp):
        return Term(op=cond.op, operands=tuple(_term(builder, context, env, item, ports)
                                               for item in cond.operands))
    if isinstance(cond, ast.Not):
        return Term(op="not", operands=(_term(builder, context, env, cond.operand, ports),))
    if isinstance(cond, ast.Truth):
        return Term(op="truth", operands=(_term(builder, context, env, cond.operand, ports),))
    if isinstance(cond, ast.Compare):
        return Term(op=cond.op, operands=(_term(builder, context, env, cond.left, ports),
                                          _term(builder, context, env, cond.right, ports)))
    if isinstance(cond, ast.Ref):
        if _is_member(builder, cond):
            return Term(op="const", value=cond.name)
        return Term(op="port", port=_port(builder, context, env, cond, ports))
    if isinstance(cond, ast.FieldAccess):
        return Term(op="port", port=_port(builder, context, env, cond, ports))
    if isinstance(cond, ast.CondCall):
        reference = ast.Ref(span=cond.argument.span, name=cond.argument.value)
        port = _port(builder, context, env, reference, ports)
        function = _FUNCTIONS.get(cond.function.value)
        if function is None:
            raise fail(builder.program, cond.function.span, "MAS116",
                       f"conditions have no function '{cond.function.value}'")
        return Term(op=function, port=port)
    return Term(op="const", value=cond.value)


def _port(builder: Builder, context: Context, env: dict[str, Value],
          operand: ast.Ref | ast.FieldAccess, ports: dict[str, tuple[Port, Value]]) -> str:
    """The input port reading a bound value or a record field (one port per each)."""
    key = operand.name if isinstance(operand, ast.Ref) else \
        f"{operand.subject.value}.{operand.field.value}"
    if key not in ports:
        value = _operand_value(builder, context, env, operand)
        ports[key] = (Port(name=f"in_{key}", type=value.type), value)
    return ports[key][0].name

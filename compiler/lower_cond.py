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
from compiler.resolve import domain_of, fail
from masdsl import ast
from masdsl.types import BOOL, Enum

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
    direct = _direct(builder, env, cond)
    if direct is not None:
        return direct
    ports: dict[str, tuple[Port, Value]] = {}
    term = _term(builder, env, cond, ports)
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


def _direct(builder: Builder, env: dict[str, Value], cond: ast.Cond) -> Test | None:
    """The test of a condition on one bool or enum value, or None for any other."""
    negated = isinstance(cond, ast.Not)
    inner = cond.operand if isinstance(cond, ast.Not) else cond
    if isinstance(inner, ast.Truth):
        operand = inner.operand
        if not isinstance(operand, ast.Ref) or _is_member(builder, operand):
            return None
        subject = _value(builder, env, operand.name, operand)
        if subject.type != BOOL:
            return None
        return Test(subject, ("false",) if negated else TRUE)
    if negated or not isinstance(inner, ast.Compare) or inner.op not in ("==", "!="):
        return None
    for left, right in ((inner.left, inner.right), (inner.right, inner.left)):
        if not isinstance(left, ast.Ref) or _is_member(builder, left):
            continue
        if _is_member(builder, right):
            assert isinstance(right, ast.Ref)
            member = right.name
        elif isinstance(right, ast.BoolLit):
            member = "true" if right.value else "false"
        else:
            continue
        subject = _value(builder, env, left.name, left)
        domain = domain_of(subject.type)
        if member not in domain or (not isinstance(subject.type, Enum) and subject.type != BOOL):
            continue
        holds = (member,) if inner.op == "==" else tuple(v for v in domain if v != member)
        return Test(subject, holds)
    return None


def _term(builder: Builder, env: dict[str, Value], cond: ast.Cond | ast.Operand,
          ports: dict[str, tuple[Port, Value]]) -> Term:
    """The IR expression of a condition or operand; the values it reads go into `ports`."""
    if isinstance(cond, ast.BoolOp):
        return Term(op=cond.op, operands=tuple(_term(builder, env, item, ports)
                                               for item in cond.operands))
    if isinstance(cond, ast.Not):
        return Term(op="not", operands=(_term(builder, env, cond.operand, ports),))
    if isinstance(cond, ast.Truth):
        return Term(op="truth", operands=(_term(builder, env, cond.operand, ports),))
    if isinstance(cond, ast.Compare):
        return Term(op=cond.op, operands=(_term(builder, env, cond.left, ports),
                                          _term(builder, env, cond.right, ports)))
    if isinstance(cond, ast.Ref):
        if _is_member(builder, cond):
            return Term(op="const", value=cond.name)
        return Term(op="port", port=_port(builder, env, cond.name, cond, ports))
    if isinstance(cond, ast.CondCall):
        port = _port(builder, env, cond.argument.value, cond.argument, ports)
        function = _FUNCTIONS.get(cond.function.value)
        if function is None:
            raise fail(builder.program, cond.function.span, "MAS116",
                       f"conditions have no function '{cond.function.value}'")
        return Term(op=function, port=port)
    return Term(op="const", value=cond.value)


def _port(builder: Builder, env: dict[str, Value], name: str, where: ast.Node,
          ports: dict[str, tuple[Port, Value]]) -> str:
    """The input port reading the value `name` (one port per name)."""
    if name not in ports:
        value = _value(builder, env, name, where)
        ports[name] = (Port(name=f"in_{name}", type=value.type), value)
    return ports[name][0].name

"""Safe arithmetic: parse an expression with `ast` and evaluate only what is allowed.

Allowed: numbers, `+ - * / // % **`, unary `+`/`-`, parentheses, the constants `pi`, `e`,
`tau`, and the functions `sqrt, log, log2, log10, exp, sin, cos, tan, asin, acos, atan,
abs, round, floor, ceil, factorial, min, max`. Nothing is ever passed to `eval`. Guards
keep a model from hanging the process: exponents are bounded, integer results and operands are
bounded in size, factorial arguments and rounding digits are bounded, the number of function
arguments is bounded, and the expression text itself is bounded. Every failure is a
`CalculatorError` whose message says what was wrong and where; `calculate` turns any other
exception into an `error: ...` reply too. The tool runs it in a separate process with a
timeout (`calculator_worker.py`), so even a case these guards miss cannot freeze the runtime.

Run as a script (`python -I -S calculator.py`), it serves that worker: one JSON string per
line on stdin, one JSON reply per line on stdout.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from fractions import Fraction

Number = int | float

MAX_EXPRESSION_CHARS = 2000
MAX_EXPONENT = 10_000
MAX_INTEGER_BITS = 4096
MAX_FACTORIAL = 1000
MAX_DEPTH = 100
MAX_ROUND_DIGITS = 1000
MAX_ARGUMENTS = 100

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}
FUNCTIONS: dict[str, Callable[..., Number]] = {
    "sqrt": math.sqrt, "log": math.log, "log2": math.log2, "log10": math.log10,
    "exp": math.exp, "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "asin": math.asin, "acos": math.acos, "atan": math.atan,
    "abs": abs, "round": round, "floor": math.floor, "ceil": math.ceil,
    "factorial": math.factorial, "min": min, "max": max,
}
BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


class CalculatorError(ValueError):
    """A located, human-readable reason an expression could not be evaluated."""


def evaluate(expression: str) -> Number:
    """The value of `expression`, or a `CalculatorError` saying why not."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    if not text:
        raise CalculatorError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        column = (error.offset or 1)
        raise CalculatorError(f"syntax error at column {column}: {error.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise CalculatorError("expression nested too deeply or malformed") from None
    return _evaluate(tree.body, 0)


def format_number(value: Number) -> str:
    """A short text for a result: integers exactly, floats to 12 significant digits."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.12g}"


def calculate(expression: str) -> str:
    """`evaluate` as text for a tool reply: the result, or `error: ...`; never raises."""
    try:
        return format_number(evaluate(expression))
    except CalculatorError as error:
        return f"error: {error}"
    except (RecursionError, MemoryError):
        return "error: expression too large to evaluate"
    except Exception as error:  # a guard we did not think of: still a tool failure
        return f"error: {type(error).__name__}: {error}"


def _short(value: Number) -> str:
    """A number for a message: huge integers by their size, not their 1,000 digits."""
    if isinstance(value, int) and abs(value) >= 10**15:
        digits = int(value.bit_length() * 0.30103) + 1  # no str(): it is slow on huge ints
        return f"a number of about {digits} digits"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _where(node: ast.AST) -> str:
    return f"column {getattr(node, 'col_offset', 0) + 1}"


def _evaluate(node: ast.expr, depth: int) -> Number:
    if depth > MAX_DEPTH:
        raise CalculatorError("expression nested too deeply")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise CalculatorError(f"only numbers are allowed, got {node.value!r} at {_where(node)}")
        return node.value
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        raise CalculatorError(f"unknown name {node.id!r} at {_where(node)}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, depth + 1)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        left = _evaluate(node.left, depth + 1)
        right = _evaluate(node.right, depth + 1)
        return _binary(node, left, right)
    if isinstance(node, ast.Call):
        return _call(node, depth)
    raise CalculatorError(f"unsupported syntax {type(node).__name__} at {_where(node)}")


def _binary(node: ast.BinOp, left: Number, right: Number) -> Number:
    if isinstance(node.op, ast.Pow):
        if abs(right) > MAX_EXPONENT:
            raise CalculatorError(f"exponent too large: {_short(right)} (limit {MAX_EXPONENT})")
        big = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
        if big and (abs(int(left)).bit_length() - 1) * int(right) + 1 > MAX_INTEGER_BITS:
            raise CalculatorError(f"result of ** too large at {_where(node)}")
    try:
        value = BINARY[type(node.op)](left, right)
    except ZeroDivisionError:
        raise CalculatorError(f"division by zero at {_where(node)}") from None
    except OverflowError:
        raise CalculatorError(f"result too large at {_where(node)}") from None
    if isinstance(value, complex):
        raise CalculatorError(f"result is not a real number at {_where(node)}")
    return _checked(value, node)


def _checked(value: Number | Fraction, node: ast.AST) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INTEGER_BITS:
        raise CalculatorError(f"result too large at {_where(node)}")
    if isinstance(value, float) and math.isnan(value):
        raise CalculatorError(f"result is not a number at {_where(node)}")
    return value if isinstance(value, int | float) else float(value)


def _call(node: ast.Call, depth: int) -> Number:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
        known = ", ".join(sorted(FUNCTIONS))
        raise CalculatorError(f"unknown function {name!r} at {_where(node)} (known: {known})")
    if node.keywords:
        raise CalculatorError(f"keyword arguments are not allowed at {_where(node)}")
    name = node.func.id
    if len(node.args) > MAX_ARGUMENTS:
        raise CalculatorError(f"{name}: more than {MAX_ARGUMENTS} arguments at {_where(node)}")
    arguments = [_evaluate(argument, depth + 1) for argument in node.args]
    if name == "factorial" and arguments and (
        not isinstance(arguments[0], int) or not 0 <= arguments[0] <= MAX_FACTORIAL
    ):
        raise CalculatorError(f"factorial needs an integer in 0..{MAX_FACTORIAL}")
    if name == "round" and len(arguments) == 2:
        digits = arguments[1]
        if not isinstance(digits, int):
            raise CalculatorError("round's second argument must be an integer")
        if abs(digits) > MAX_ROUND_DIGITS:
            raise CalculatorError(f"round: the digits must be within -{MAX_ROUND_DIGITS}.."
                                  f"{MAX_ROUND_DIGITS}, got {_short(digits)} at {_where(node)}")
    try:
        return _checked(FUNCTIONS[name](*arguments), node)
    except CalculatorError:
        raise
    except (ValueError, TypeError) as error:
        raise CalculatorError(f"{name}: {error} at {_where(node)}") from None
    except OverflowError:
        raise CalculatorError(f"{name}: result too large at {_where(node)}") from None


def serve() -> None:
    """The worker loop: a JSON string per line in, `calculate`'s reply as JSON per line out."""
    import json
    import sys

    for line in sys.stdin:
        try:
            expression = json.loads(line)
            reply = calculate(expression) if isinstance(expression, str) else \
                "error: not an expression"
        except ValueError:
            reply = "error: unreadable request"
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()

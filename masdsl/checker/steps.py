"""Deterministic steps that run code: `run_tests(code, tests)`.

Typing rule: `code` is `code` or `text` (MAS201); `tests` is the second positional argument
(MAS109), a `list[text]`, `list[code]`, or one `text`/`code` test (MAS201); nothing else is
given (MAS207). The result is `TEST_RESULT`, the record `{ passed: bool, passed_count:
number, total: number, report: text }`, so conditions branch on `r.passed` or compare
`r.passed_count`. No LLM call: it costs nothing in `--stats`.
"""

from __future__ import annotations

from masdsl import ast
from masdsl.checker.context import Context, render, same_type
from masdsl.checker.expressions import Scope, data_input_type, value_type
from masdsl.types import CODE, TEST_RESULT, TEXT, List, Type


def _program_like(value_type_: Type) -> bool:
    return same_type(value_type_, CODE) or same_type(value_type_, TEXT)


def check_run_tests(ctx: Context, scope: Scope, call: ast.Call, subject: ast.Expr,
                    keywords: dict[str, ast.Arg], depth: int) -> Type | None:
    """`run_tests(code, tests)` (see the module docstring)."""
    positional = [arg.value for arg in call.args if arg.keyword is None]
    code_type = value_type(ctx, scope, subject, depth)
    if code_type is not None and not _program_like(code_type):
        ctx.report("MAS201", subject.span, f"run_tests runs a program: code or text, not "
                   f"{render(code_type)}", help="pass the candidate program, e.g. an agent "
                                                "declared -> code")
    if len(positional) < 2:
        ctx.report("MAS109", call.callee.span, "run_tests needs the tests",
                   help="write run_tests(program, tests), tests a list[text] of asserts")
        return TEST_RESULT
    for extra in positional[2:]:
        ctx.report("MAS207", extra.span, "run_tests takes a program and its tests",
                   help="put every test in one list")
    tests_type = data_input_type(ctx, scope, positional[1], depth)
    if tests_type is not None and not _program_like(tests_type) and not (
            isinstance(tests_type, List) and _program_like(tests_type.element)):
        ctx.report("MAS201", positional[1].span, f"the tests are a list of text or code "
                   f"snippets, or one; this is {render(tests_type)}",
                   help='write e.g. ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]')
    return TEST_RESULT

"""`run_tests(code, tests)` at run time: the candidate program, then each test, in the same
sandbox the `python` tool uses (`runtime.tools.sandbox`), with no LLM call.

One sandboxed run executes a harness: it loads the candidate into a fresh namespace (its
`if __name__ == "__main__":` block does not run), then runs each test in that namespace in
order, catching every exception, and prints one result line per test behind a marker that
is random per run. Lines are printed as they happen, so a run stopped by a limit (an
endless loop in one test) still reports the tests before it; the tests it never reached
count as failed, with the reason. The candidate can print anything: only marker lines are
read, and the marker is new each run, so ordinary output can never pass for a result. A
candidate that goes looking can still find the marker in the harness (it runs in the same
interpreter): `run_tests` is a step of a flow, not a reward verifier (rewards come from
`trainer.tasks`).

The result is a value of `masdsl.types.TEST_RESULT`: `(passed, passed_count, total,
report)`, `passed` true when the candidate loaded and every test passed (and there was at
least one test).
"""

from __future__ import annotations

import json
import secrets

from runtime.tools.registry import describe_sandbox_result
from runtime.tools.sandbox import SandboxLimits, run_python_async

MAX_REPORT_LINES = 20

_HARNESS = '''
import json as _json, sys as _sys
_MARK = {marker!r}
_CODE = {code!r}
_TESTS = {tests!r}
def _say(kind, index, ok, detail):
    print(_MARK + _json.dumps([kind, index, ok, detail]), flush=True)
_ns = {{"__name__": "candidate"}}
try:
    exec(compile(_CODE, "candidate.py", "exec"), _ns)
except BaseException as _error:
    _say("load", -1, False, type(_error).__name__ + ": " + str(_error)[:300])
    raise SystemExit(0)
_say("load", -1, True, "")
for _index, _test in enumerate(_TESTS):
    try:
        exec(compile(_test, "test_%d.py" % (_index + 1), "exec"), _ns)
    except BaseException as _error:
        _detail = type(_error).__name__ + (": " + str(_error)[:300] if str(_error) else "")
        _say("test", _index, False, _detail)
    else:
        _say("test", _index, True, "")
'''


def harness(code: str, tests: tuple[str, ...], marker: str) -> str:
    """The program the sandbox runs (see the module docstring)."""
    return _HARNESS.format(marker=marker, code=code, tests=list(tests))


def read_results(stdout: str, marker: str, total: int) -> tuple[bool, dict[int, str | None]]:
    """Whether the candidate loaded (None: no report), and each reported test's failure
    (None: passed), from the harness's marker lines."""
    loaded = False
    results: dict[int, str | None] = {}
    load_error: str | None = None
    for line in stdout.splitlines():
        if not line.startswith(marker):
            continue
        try:
            kind, index, ok, detail = json.loads(line[len(marker):])
        except (ValueError, TypeError):
            continue
        if kind == "load":
            loaded = bool(ok)
            load_error = None if ok else str(detail)
        elif kind == "test" and isinstance(index, int) and 0 <= index < total:
            results[index] = None if ok else str(detail)
    if load_error is not None:
        results = {-1: load_error}
    return loaded, results


async def run_tests(code: str, tests: tuple[str, ...], limits: SandboxLimits
                    ) -> tuple[bool, int, int, str]:
    """Run `tests` against `code` in the sandbox; the `TEST_RESULT` value."""
    marker = f"@@run_tests:{secrets.token_hex(8)}@@"
    result = await run_python_async(harness(code, tests, marker), limits=limits)
    loaded, results = read_results(result.stdout, marker, len(tests))
    total = len(tests)
    lines: list[str] = []
    if not loaded:
        reason = results.get(-1) or "the program did not run:\n" + describe_sandbox_result(
            result, limits)
        lines.append(f"the program failed to load: {reason}")
        return False, 0, total, "\n".join(lines)
    passed_count = 0
    for index, test in enumerate(tests):
        outcome = results.get(index, "missing")
        if outcome is None:
            passed_count += 1
            continue
        if outcome == "missing":
            outcome = "did not finish: " + describe_sandbox_result(
                result, limits).splitlines()[-1]
        if len(lines) < MAX_REPORT_LINES:
            first = test.strip().splitlines()[0] if test.strip() else "(empty test)"
            lines.append(f"test {index + 1} failed: {first[:200]} -> {outcome}")
    passed = total > 0 and passed_count == total
    summary = f"{passed_count}/{total} tests passed"
    return passed, passed_count, total, "\n".join([summary, *lines])

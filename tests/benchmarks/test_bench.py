"""`benchmarks.bench`, `benchmarks.report` and `masc bench`, on the scripted engine double."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks.bench import BenchConfig, BenchError, run_bench
from benchmarks.bench_records import markdown
from benchmarks.report import ReportError, write_report
from masdsl.cli import main
from runtime.engines.base import Capabilities, ChatRequest
from tests.runtime.scripted_engine import ScriptedEngine, last_user

SYSTEMS = Path(__file__).resolve().parents[2] / "benchmarks" / "systems"
SINGLE = str(SYSTEMS / "single_agent.mas")
VOTE = str(SYSTEMS / "self_consistency.mas")
CODE = str(SYSTEMS / "code" / "single_agent.mas")
TASK = "arithmetic@1"  # "Calculate a + b." items, generated offline by reasoning-gym


def solve(request: ChatRequest) -> str:
    """Answers the arithmetic item in the request correctly (level 1 items are `a + b`)."""
    match = re.search(r"Calculate (\d+) \+ (\d+)\.", last_user(request))
    return f"ANSWER: {int(match[1]) + int(match[2])}" if match else "ANSWER: 0"


def config(**changes: object) -> BenchConfig:
    values: dict[str, object] = {"task": TASK, "system": SINGLE, "limit": 4,
                                 "engine": "scripted"}
    values.update(changes)
    return BenchConfig(**values)  # type: ignore[arg-type]


def test_result_file_has_every_field(tmp_path: Path) -> None:
    engine = ScriptedEngine(solve)
    result = run_bench(config(samples=2, seed=3), tmp_path, engine=engine)
    written = json.loads((tmp_path / f"{result['run']}.json").read_text())
    for key in ("task", "system", "engine", "model", "seed", "machine", "items", "summary",
                "wall_s", "samples", "started", "finished"):
        assert key in written, key
    assert written["task"] == TASK and written["system"] == "single_agent"
    assert written["seed"] == 3 and written["machine"]["cpus"] >= 1
    assert len(written["items"]) == 8  # 4 items x 2 samples
    summary = written["summary"]
    assert summary["accuracy"] == 1.0 and summary["items"] == 4
    assert summary["mean_llm_calls"] == 1.0 and summary["mean_completion_tokens"] > 0
    assert len(engine.requests) == 8
    table = (tmp_path / f"{result['run']}.md").read_text()
    assert "| arithmetic@1 | single_agent |" in table and "100.0%" in table


def test_wrong_answers_count_as_incorrect(tmp_path: Path) -> None:
    result = run_bench(config(system=VOTE), tmp_path, engine=ScriptedEngine(
        lambda request: "ANSWER: -1"))
    assert result["summary"]["accuracy"] == 0.0
    assert result["summary"]["mean_llm_calls"] == 5.0  # ensemble of five, then a vote


def test_resume_skips_finished_items(tmp_path: Path) -> None:
    first = run_bench(config(limit=5), tmp_path, engine=ScriptedEngine(solve))
    progress = tmp_path / f"{first['run']}.progress.jsonl"
    lines = progress.read_text().splitlines()
    assert len(lines) == 6  # header + five outcomes
    # An interruption after two items, in the middle of writing the third.
    progress.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])
    (tmp_path / f"{first['run']}.json").unlink()
    engine = ScriptedEngine(solve)
    resumed = run_bench(config(limit=5), tmp_path, engine=engine, resume=True)
    assert len(engine.requests) == 3
    assert resumed["resumed_outcomes"] == 2
    assert [o["item_id"] for o in resumed["items"]] == [o["item_id"] for o in first["items"]]
    assert resumed["summary"]["accuracy"] == 1.0
    # Resuming a finished run redoes nothing; without --resume everything runs again.
    again = ScriptedEngine(solve)
    run_bench(config(limit=5), tmp_path, engine=again, resume=True)
    assert again.requests == []
    fresh = ScriptedEngine(solve)
    run_bench(config(limit=5), tmp_path, engine=fresh)
    assert len(fresh.requests) == 5


def test_resume_refuses_a_different_configuration(tmp_path: Path) -> None:
    run_bench(config(name="run"), tmp_path, engine=ScriptedEngine(solve))
    with pytest.raises(BenchError, match="seed: was 0, now 1"):
        run_bench(config(name="run", seed=1), tmp_path, engine=ScriptedEngine(solve),
                  resume=True)


def test_interface_mismatch_is_a_failure_per_item(tmp_path: Path) -> None:
    engine = ScriptedEngine(solve)
    result = run_bench(config(system=CODE), tmp_path, engine=engine)
    assert engine.requests == []
    assert len(result["items"]) == 4
    for outcome in result["items"]:
        assert outcome["status"] == "compile_error" and not outcome["correct"]
        assert any("MAS310" in line and "answer is code; the task needs number" in line
                   for line in outcome["diagnostics"])


def test_spec_with_errors_is_a_failure_per_item(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mas"
    broken.write_text("mas broken {\n  input question: text\n  output answer: number\n"
                      "  flow { answer = nobody(question) }\n}\n")
    result = run_bench(config(system=str(broken)), tmp_path, engine=ScriptedEngine(solve))
    assert {o["status"] for o in result["items"]} == {"compile_error"}
    assert all(o["diagnostics"] and "broken.mas:4:" in o["diagnostics"][0]
               for o in result["items"])


def test_designer_mode_records_compile_success_per_item(tmp_path: Path) -> None:
    spec = Path(SINGLE).read_text()
    no_flow = "mas parsed_only {\n  input question: text\n  output answer: number\n}\n"
    replies = iter([f"Here:\n```\n{spec}\n```", "mas oops {", f"```\n{spec}\n```",
                    no_flow])

    def reply(request: ChatRequest) -> str:
        if "Design a multi-agent system" in last_user(request):
            return next(replies)
        return solve(request)

    engine = ScriptedEngine(reply)
    result = run_bench(config(system=None, designer="embedded", decoding="free",
                              concurrency=1), tmp_path, engine=engine)
    compiled = [o["compiled"] for o in result["items"]]
    assert compiled == [True, False, True, False]
    assert result["summary"]["compile_rate"] == 0.5
    assert result["summary"]["parse_rate"] == 0.75  # the spec without a flow parses
    assert any("MAS307" in line for line in result["items"][3]["diagnostics"])
    assert result["summary"]["accuracy"] == 0.5
    failed = result["items"][1]
    assert failed["status"] == "compile_error" and failed["diagnostics"]
    assert result["items"][0]["llm_calls"] == 2  # the design, then the solver


def test_constrained_designer_needs_a_grammar_engine(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="cannot constrain decoding"):
        run_bench(config(system=None, designer="embedded"), tmp_path,
                  engine=ScriptedEngine(solve))


def test_design_only_runs_nothing_but_the_designer(tmp_path: Path) -> None:
    engine = ScriptedEngine(lambda request: Path(SINGLE).read_text())
    engine.capabilities = Capabilities(batching=True, logprobs=True, grammar=True,
                                       token_ids=True, max_context=1 << 20)
    result = run_bench(config(system=None, designer="embedded", design_only=True,
                              decoding="grammar"), tmp_path, engine=engine)
    assert len(engine.requests) == 4
    assert all(request.grammar for request in engine.requests)
    assert result["summary"]["compile_rate"] == 1.0
    assert result["system"] == "designer[embedded]-grammar-compile"
    assert "constructs of the 4 compiled designs: calls only 4" in markdown(result)
    voting = ScriptedEngine(lambda request: Path(VOTE).read_text())
    voting.capabilities = engine.capabilities
    mix = markdown(run_bench(config(system=None, designer="embedded", design_only=True,
                                    decoding="grammar"), tmp_path / "vote", engine=voting))
    assert "constructs of the 4 compiled designs: ensemble 4, vote 4" in mix


def test_designer_mode_constrains_with_the_interface_decoding_grammar(tmp_path: Path) -> None:
    import grammar

    spec = Path(SINGLE).read_text()
    engine = ScriptedEngine(lambda request: spec)
    engine.capabilities = Capabilities(batching=True, logprobs=True, grammar=True,
                                       token_ids=True, max_context=1 << 20)
    run_bench(config(system=None, designer="embedded", design_only=True, limit=1,
                     decoding="grammar"), tmp_path, engine=engine)
    sent = engine.requests[0].grammar
    assert sent == grammar.decoding_grammar_text((("question", "text"),),
                                                 (("answer", "number"),))
    assert "%ignore COMMENT" not in sent and sent != grammar.grammar_text()


def test_unknown_task_exits_2_listing_the_tasks(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    code = main(["bench", "no_such_task", "--system", SINGLE, "--out", str(tmp_path)])
    assert code == 2
    error = capsys.readouterr().err
    assert "unknown task 'no_such_task'" in error and "gsm8k" in error and "humaneval" in error


def test_cli_needs_a_system_or_a_designer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", TASK]) == 2
    assert "--system SPEC or --designer MODEL" in capsys.readouterr().err


def test_cli_runs_with_a_registered_engine(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    from runtime.engines import register_engine

    register_engine("scripted-bench-test", lambda **options: ScriptedEngine(solve))
    code = main(["bench", TASK, "--system", SINGLE, "--limit", "3", "--engine",
                 "scripted-bench-test", "--out", str(tmp_path), "--name", "cli"])
    assert code == 0
    assert "accuracy 100.0%" in capsys.readouterr().out
    assert json.loads((tmp_path / "cli.json").read_text())["summary"]["executions"] == 3


def test_report_renders_a_table_and_a_png(tmp_path: Path) -> None:
    run_bench(config(), tmp_path, engine=ScriptedEngine(solve))
    run_bench(config(system=VOTE), tmp_path, engine=ScriptedEngine(lambda r: "ANSWER: -1"))
    table, plot = write_report(tmp_path)
    text = table.read_text()
    assert text.count("| arithmetic@1 |") == 2
    assert "| self_consistency |" in text and "0.0%" in text and "100.0%" in text
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_report_without_results_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no benchmark results"):
        write_report(tmp_path)
    assert main(["bench", "report", "--out", str(tmp_path / "missing")]) == 2


def test_threads_apply_to_llamacpp_only(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="--threads applies to the llamacpp engine only"):
        run_bench(config(engine="openai", threads=1), tmp_path)

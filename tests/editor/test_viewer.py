"""`masc view` and `masc run --view`: the page's data, its offline self-containment, bad
traces, both graph layouts, and the page in a real headless browser (Debian's chromium
driven by Playwright) where clicking a node shows its turns.

Runs use a scripted engine (a test double standing in for the model); the committed
screenshot in docs/ comes from a real run on the embedded model.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from masdsl.cli import main
from runtime.engines import register_engine
from runtime.engines.base import ChatRequest
from tests.runtime.scripted_engine import ScriptedEngine, role_of

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "solver_verifier.mas"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "</script><b>not bold</b><!--"  # model text must stay text in the page


def scripted_reply(request: ChatRequest) -> str:
    """The solver answers 16; the verifier never answers in the expected format, so its
    turns end in a typed failure after the retries."""
    if "verifier" in role_of(request):
        return "I cannot tell."
    return f"12 * 3 = 36 and 36 - 20 = 16. {HOSTILE}\nANSWER: 16"


@pytest.fixture(scope="module", autouse=True)
def engines() -> None:
    register_engine("scripted-view", lambda **_: ScriptedEngine(scripted_reply), replace=True)


def page_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>',
                      html, re.DOTALL)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


@pytest.fixture(scope="module")
def run_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A run of solver_verifier (2 samples) with --trace and --view; its stderr."""
    folder = tmp_path_factory.mktemp("view")
    trace, page = folder / "trace.jsonl", folder / "run.html"
    import contextlib
    import io

    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        code = main(["run", str(SPEC), "--engine", "scripted-view", "--input",
                     "question=How many muffins are left?", "--samples", "2",
                     "--trace", str(trace), "--view", str(page)])
    assert code == 0, errors.getvalue()
    return trace, page, errors.getvalue()


def test_run_ends_with_a_cost_summary_and_writes_the_page(run_page: tuple[Path, Path, str]
                                                          ) -> None:
    _, page, stderr = run_page
    summary = stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"cost: 2 execution\(s\), \d+ LLM call\(s\), [\d,]+ prompt \+ "
                        r"[\d,]+ generated tokens, \d+\.\d s wall", summary), summary
    data = page_data(page.read_text(encoding="utf-8"))
    assert len(data["executions"]) == 2
    assert {run["outputs"]["answer"] for run in data["executions"]} == {16}
    calls = sum(run["llm_calls"] for run in data["executions"])
    assert len(data["turns"]) == calls == int(summary.split()[3])
    failed = [turn for turn in data["turns"] if turn["failure"]]
    assert failed and all(turn["agent"] == "verifier" for turn in failed)
    stats = data["stats"]
    split = stats["split"]
    assert split["agent_calls"] + split["tool_turns"] + split["format_retries"] \
        == stats["llm_calls"] == 15


def test_view_of_the_trace_shows_the_same_run(run_page: tuple[Path, Path, str],
                                              tmp_path: Path) -> None:
    trace, page, _ = run_page
    out = tmp_path / "view.html"
    assert main(["view", str(SPEC), "--trace", str(trace), "-o", str(out)]) == 0
    from_trace, from_run = page_data(out.read_text("utf-8")), page_data(page.read_text("utf-8"))
    assert from_trace["turns"] == from_run["turns"]
    assert from_trace["executions"] == from_run["executions"]


def test_the_page_is_self_contained(run_page: tuple[Path, Path, str]) -> None:
    html = run_page[1].read_text(encoding="utf-8")
    assert re.search(r'<(script|link|img|iframe)[^>]+(src|href)="(?!data:)', html) is None
    assert "@import" not in html and "url(http" not in html
    assert "<svg" in html and html.count('class="node"') >= 10


def test_a_reward_line_is_shown_and_bad_traces_exit_2(
        run_page: tuple[Path, Path, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    trace = run_page[0]
    lines = trace.read_text(encoding="utf-8").splitlines()
    first = next(json.loads(line) for line in lines if '"type": "execution"' in line)
    rewarded = tmp_path / "rewarded.jsonl"
    reward = {"type": "reward", "execution_id": first["execution_id"], "reward": 1.0}
    rewarded.write_text("\n".join([*lines, json.dumps(reward)]) + "\n")
    out = tmp_path / "rewarded.html"
    assert main(["view", str(SPEC), "--trace", str(rewarded), "-o", str(out)]) == 0
    runs = {run["execution_id"]: run for run in page_data(out.read_text("utf-8"))["executions"]}
    assert runs[first["execution_id"]]["reward"] == 1.0
    broken = tmp_path / "broken.jsonl"
    broken.write_text(lines[0] + "\n{not json\n")
    assert main(["view", str(SPEC), "--trace", str(broken), "-o", str(out)]) == 2
    assert f"{broken}:2: not a trace record" in capsys.readouterr().err
    other = ROOT / "examples" / "ensemble_judge.mas"
    assert main(["view", str(other), "--trace", str(trace), "-o", str(out)]) == 2
    assert "is not a trace of" in capsys.readouterr().err


def test_builtin_layout_draws_every_node(tmp_path: Path) -> None:
    out = tmp_path / "plain.html"
    assert main(["view", str(SPEC), "--no-dot", "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    titles = re.findall(r'<g class="node"><title>([^<]+)</title>', html)
    assert sorted(titles) == sorted(node["id"] for node in page_data(html)["nodes"])
    assert "built-in layered layout" in html


# ---- in a real browser -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                    "(make setup installs it)")
@pytest.mark.parametrize("layout", ["dot", "builtin"])
def test_the_page_in_headless_chromium(run_page: tuple[Path, Path, str], tmp_path: Path,
                                       layout: str) -> None:
    playwright = pytest.importorskip("playwright.sync_api",
                                     reason="playwright (the dev extra) is not installed")
    if layout == "dot" and shutil.which("dot") is None:
        pytest.skip("Graphviz dot is not installed (make setup installs it)")
    page_file = tmp_path / f"{layout}.html"
    assert main(["view", str(SPEC), "--trace", str(run_page[0]), "-o", str(page_file)]
                + (["--no-dot"] if layout == "builtin" else [])) == 0
    data = page_data(page_file.read_text(encoding="utf-8"))
    problems: list[str] = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda message: problems.append(
                f"{message.type}: {message.text}") if message.type in ("error", "warning")
                else None)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("request", lambda request: problems.append(f"request: {request.url}")
                    if not request.url.startswith(("file:", "data:")) else None)
            page.goto(page_file.as_uri())
            page.wait_for_selector("body[data-ready=true]", timeout=10_000)
            assert page.locator("#graph g.node[data-node]").count() == len(data["nodes"])
            first = data["executions"][0]["execution_id"]
            first_turns = [t for t in data["turns"] if t["execution_id"] == first]
            assert page.locator("#turns tr.clickable").count() == len(first_turns)
            assert "16" in page.locator("#run .output").first.inner_text()
            # click the verifier's first critique: its turns (typed failures) are shown
            critique = next(node for node in data["nodes"]
                            if node["kind"] == "reflect_critique")
            page.locator(f'#graph g.node[data-node="{critique["id"]}"]').click()
            expected = [t for t in first_turns if t["node_id"] == critique["id"]]
            assert page.locator("#details .turn").count() == len(expected) > 0
            # format retries, then the typed failure of the last one
            assert page.locator("#details .turn.failure").count() == 1
            assert page.locator("#details .turn .retry").count() == len(expected) - 1
            assert critique["label"] in page.locator("#details h2").first.inner_text()
            assert page.locator(f'#graph g.node.selected[data-node="{critique["id"]}"]') \
                .count() == 1
            # a row of the turn table selects the solver's node
            page.locator("#turns tr.clickable").first.click()
            shown = page.locator("#details .turn .parsed")
            assert shown.count() >= 1 and shown.first.inner_text() == "16"
            assert HOSTILE in page.locator("#details .turn .reply").first.inner_text()
            assert page.locator("#details b", has_text="not bold").count() == 0
            # the second execution
            second = data["executions"][1]["execution_id"]
            page.select_option("#execution", second)
            assert second in page.locator("#run").inner_text()
        finally:
            browser.close()
    assert problems == []

"""`masc run` refuses ambiguous or hostile command lines clearly (issue 13): strict numbers,
duplicate inputs, huge sample counts, deeply nested JSON, and reaches an OpenAI-compatible
server through `--engine openai --base-url ... --api-key-env ...`."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from masdsl.cli import main
from runtime.engines import register_engine
from tests.runtime.scripted_engine import ScriptedEngine

SPEC = """mas half {
  input x: number
  output answer: number
  agent solver -> number { role "Halve x." }
  flow { answer = solver(x) }
}
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "half.mas"
    path.write_text(SPEC)
    register_engine("scripted-two", lambda **_: ScriptedEngine(lambda r: "ANSWER: 2"),
                    replace=True)
    return path


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e400", "1,5", "1_000", "0x10",
                                   "", "1e"])
def test_numbers_on_the_command_line_are_strict(
        spec: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(spec), "--engine", "scripted-two", "--input", f"x={value}"]) == 2
    error = capsys.readouterr().err
    assert "input 'x'" in error and "Traceback" not in error


@pytest.mark.parametrize(("value", "shown"), [("4", "4"), ("-1.5", "-1.5"), ("2e3", "2000"),
                                              ("+.5", "0.5")])
def test_plain_numbers_still_work(spec: Path, value: str, shown: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(spec), "--engine", "scripted-two", "--input", f"x={value}"]) == 0
    assert capsys.readouterr().out.strip() == "answer: 2"


def test_a_duplicate_input_is_refused(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(spec), "--engine", "scripted-two", "-i", "x=1", "-i", "x=2"]) == 2
    assert "given twice" in capsys.readouterr().err


def test_huge_samples_are_refused(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(spec), "--engine", "scripted-two", "-i", "x=1",
                 "--samples", str(10**12)]) == 2
    assert "more than 1,000,000 executions" in capsys.readouterr().err


def test_deeply_nested_inputs_json_is_refused(
        spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    batch = tmp_path / "deep.jsonl"
    batch.write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    assert main(["run", str(spec), "--engine", "scripted-two", "--inputs", str(batch)]) == 2
    error = capsys.readouterr().err
    assert "nested too deeply" in error and "internal error" not in error


class ChatServerDouble(http.server.BaseHTTPRequestHandler):
    """Test double of an OpenAI-compatible server: records requests, answers `ANSWER: 2`."""

    seen: ClassVar[list[tuple[str, dict[str, object]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServerDouble.seen.append((self.headers.get("Authorization", ""), body))
        reply = json.dumps({"choices": [{"message": {"role": "assistant",
                                                     "content": "ANSWER: 2"},
                                         "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_engine_openai_takes_its_server_and_key_from_the_command_line(
        spec: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    ChatServerDouble.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ChatServerDouble)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("MASDSL_TEST_KEY", "sk-test")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        code = main(["run", str(spec), "--engine", "openai", "--model", "served-model",
                     "--base-url", url, "--api-key-env", "MASDSL_TEST_KEY", "-i", "x=4"])
    finally:
        server.shutdown()
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == "answer: 2"
    authorization, body = ChatServerDouble.seen[0]
    assert authorization == "Bearer sk-test" and body["model"] == "served-model"


def test_engine_openai_flags_are_checked_before_anything_runs(
        spec: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["run", str(spec), "--engine", "openai", "-i", "x=1"]) == 2
    assert "--engine openai needs --base-url URL and --model NAME" in capsys.readouterr().err
    monkeypatch.delenv("MASDSL_NOT_SET", raising=False)
    assert main(["run", str(spec), "--engine", "openai", "--model", "m", "--base-url",
                 "http://127.0.0.1:9/v1", "--api-key-env", "MASDSL_NOT_SET", "-i", "x=1"]) == 2
    assert "MASDSL_NOT_SET: that environment variable is not set" in capsys.readouterr().err
    assert main(["run", str(spec), "--engine", "scripted-two", "--base-url", "http://x",
                 "-i", "x=1"]) == 2
    assert "--base-url: only for --engine openai" in capsys.readouterr().err

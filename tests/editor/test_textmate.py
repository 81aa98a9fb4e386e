"""The VS Code extension's TextMate grammar tokenizes every example and baseline system
with the engine VS Code uses (npm's vscode-textmate + vscode-oniguruma): no invalid token,
no non-blank text left unscoped, no file ending inside a string. `make setup` installs the
npm packages into editors/vscode/node_modules (git-ignored)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXTENSION = ROOT / "editors" / "vscode"
NODE = shutil.which("node")
SPECS = sorted([*ROOT.glob("examples/*.mas"), *ROOT.glob("benchmarks/systems/**/*.mas"),
                *ROOT.glob("tests/fixtures/valid/*.mas")])

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed (make setup installs "
                       "Debian's nodejs and npm)"),
    pytest.mark.skipif(not (EXTENSION / "node_modules" / "vscode-textmate").is_dir(),
                       reason="editors/vscode/node_modules is missing (make setup runs npm ci)"),
]


def tokenize(files: list[Path]) -> tuple[int, list[dict[str, Any]]]:
    assert NODE is not None
    result = subprocess.run([NODE, "test/tokenize.js", *map(str, files)], cwd=EXTENSION,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)["files"]


def test_every_example_and_system_tokenizes_cleanly() -> None:
    assert len(SPECS) >= 20
    code, results = tokenize(SPECS)
    problems = [problem for result in results for problem in result["problems"]]
    assert problems == [] and code == 0
    assert all(result["tokens"] > 0 for result in results)


def test_names_get_the_scopes_an_editor_colours() -> None:
    _, (result,) = tokenize([ROOT / "examples" / "cyclic_graph.mas"])
    scopes = set(result["scopes"])
    assert {"string.quoted.triple.mas", "entity.name.function.agent.mas",
            "entity.name.type.mas", "keyword.control.mas", "keyword.control.graph.mas",
            "support.type.property-name.setting.mas", "comment.line.number-sign.mas",
            "constant.numeric.mas", "constant.language.mas",
            "keyword.operator.comparison.mas"} <= scopes
    _, (result,) = tokenize([ROOT / "examples" / "ensemble_judge.mas"])
    assert {"support.function.builtin.mas", "variable.parameter.keyword.mas"} <= set(
        result["scopes"])


def test_garbage_and_unclosed_strings_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mas"
    bad.write_text('mas x {\n  agent a { role "ok" }\n  @\n  agent b { role """never\n')
    code, (result,) = tokenize([bad])
    assert code == 1
    assert any(":3:3: invalid token" in problem for problem in result["problems"])
    assert any("ends inside a rule" in problem for problem in result["problems"])


def test_the_extension_manifest_points_at_real_files() -> None:
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".mas"] and grammar["language"] == language["id"]
    configuration = json.loads((EXTENSION / language["configuration"]).read_text("utf-8"))
    assert configuration["comments"]["lineComment"] == "#"
    assert json.loads((EXTENSION / grammar["path"]).read_text("utf-8"))["scopeName"] == \
        grammar["scopeName"] == "source.mas"
    assert (EXTENSION / manifest["main"]).is_file()
    assert manifest["contributes"]["configuration"]["properties"]["masdsl.server.args"][
        "default"] == ["lsp"]
    assert NODE is not None
    checked = subprocess.run([NODE, "--check", manifest["main"]], cwd=EXTENSION,
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr


def test_declared_tools_and_their_mcp_style_names_get_scopes() -> None:
    _, (result,) = tokenize([ROOT / "examples" / "custom_tool.mas"])
    assert {"storage.type.tool.mas", "entity.name.function.tool.mas"} <= set(result["scopes"])
    assert result["problems"] == []


def tokens_of(path: Path) -> list[tuple[int, str, list[str]]]:
    """Every token of one file: (line, text, scopes)."""
    assert NODE is not None
    result = subprocess.run([NODE, "test/tokenize.js", "--tokens", str(path)], cwd=EXTENSION,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    (file,) = json.loads(result.stdout)["files"]
    assert file["problems"] == []
    return [(token["line"], token["text"], token["scopes"]) for token in file["listed"]]


def scopes_of(tokens: list[tuple[int, str, list[str]]], text: str,
              line: int | None = None) -> list[str]:
    """The scopes of the first token spelled `text` (on `line` when given)."""
    for number, spelled, scopes in tokens:
        if spelled == text and (line is None or number == line):
            return scopes
    raise AssertionError(f"no token {text!r}: {[t for _, t, _ in tokens]}")


def test_every_registry_builtin_is_highlighted_as_a_builtin(tmp_path: Path) -> None:
    """One call per entry of the builtin-pattern registry and per condition function, read
    from the registry and `CONDITION_FUNCTIONS` themselves: a new builtin the grammar forgets
    fails here."""
    from masdsl.ast import CONDITION_FUNCTIONS
    from masdsl.patterns import BUILTINS

    names = [*BUILTINS, *CONDITION_FUNCTIONS]
    spec = tmp_path / "calls.mas"
    spec.write_text("mas calls {\n  flow {\n" + "".join(
        f"    v{number} = {name}(x)\n" for number, name in enumerate(names)) + "  }\n}\n")
    tokens = tokens_of(spec)
    for number, name in enumerate(names):
        assert "support.function.builtin.mas" in scopes_of(tokens, name, line=number + 3), name
    # an agent call next to them is not a builtin
    spec.write_text("mas calls {\n  flow {\n    y = solver(x)\n  }\n}\n")
    assert "entity.name.function.call.mas" in scopes_of(tokens_of(spec), "solver")


def test_templates_instances_memory_indexing_and_tools_get_scopes(tmp_path: Path) -> None:
    spec = tmp_path / "v2.mas"
    spec.write_text('''mas v2 {
  tool unit-convert(value: number, to_unit: text) -> number { description "Convert." }
  agent expert(field, style) {
    role "An expert in {field}, writing {style}."
    memory 4
    tools [unit-convert, constants.lookup]
  }
  agent physicist = expert(field: "physics", style: "briefly") { temperature 0.3 }
  flow {
    xs = map(physicist, parts, max: 4, context: task)
    last = xs[-1]
    first = xs[i]
  }
}
''')
    tokens = tokens_of(spec)
    assert scopes_of(tokens, "unit-convert", line=2)[-1] == "entity.name.function.tool.mas"
    assert scopes_of(tokens, "tool", line=2)[-1] == "storage.type.tool.mas"
    assert scopes_of(tokens, "expert", line=3)[-1] == "entity.name.function.agent.template.mas"
    assert scopes_of(tokens, "field", line=3)[-1] == "variable.parameter.template.mas"
    assert scopes_of(tokens, "style", line=3)[-1] == "variable.parameter.template.mas"
    assert scopes_of(tokens, "memory")[-1] == "support.type.property-name.setting.mas"
    assert scopes_of(tokens, "constants.lookup")[-1] == "entity.name.function.tool.mas"
    assert scopes_of(tokens, "physicist", line=8)[-1] == "entity.name.function.agent.mas"
    assert scopes_of(tokens, "expert", line=8)[-1] == "entity.name.function.agent.template.mas"
    assert scopes_of(tokens, "field", line=8)[-1] == "variable.parameter.keyword.mas"
    assert scopes_of(tokens, "context", line=10)[-1] == "variable.parameter.keyword.mas"
    assert scopes_of(tokens, "xs", line=11)[-1] == "variable.other.indexed.mas"
    assert scopes_of(tokens, "-1", line=11)[-1] == "constant.numeric.mas"
    assert scopes_of(tokens, "i", line=12)[-1] == "variable.other.mas"

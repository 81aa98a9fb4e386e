"""Exports: stable node-link JSON that loads back into an equal IR and matches the
published JSON Schema; DOT and Mermaid; Graphviz rendering errors."""

from __future__ import annotations

import json
import shutil

import jsonschema
import pytest
from compiler_helpers import optimised, spec

from compiler import export_dot
from compiler.export_dot import GraphvizMissing, render, to_dot
from compiler.export_json import IRLoadError, load, to_json
from compiler.export_mermaid import to_mermaid
from compiler.schema import json_schema, published_schema_text, schema_text

SOURCE = spec("    k = classify(question)\n"
              "    match k { case a { answer = solver(question, hint: \"quote \\\" me\") }\n"
              "              else { answer = vote(ensemble([solver, alt], question), "
              "strategy: majority, tiebreak: judge) } }\n"
              "    loop max 2 until v == approve { v = critic(question, answer) }")


def test_json_is_sorted_stable_and_round_trips() -> None:
    ir, _ = optimised(SOURCE)
    text = to_json(ir)
    assert text == to_json(optimised(SOURCE)[0])
    data = json.loads(text)
    assert data["schema_version"] == "1"
    assert [node["id"] for node in data["nodes"]] == sorted(node["id"] for node in data["nodes"])
    assert load(text) == ir
    assert to_json(load(text)) == text


def test_json_matches_the_published_schema() -> None:
    assert published_schema_text() == schema_text(), "run: python -m compiler.schema"
    ir, _ = optimised(SOURCE)
    jsonschema.validate(json.loads(to_json(ir)), json_schema())


def test_load_rejects_other_documents() -> None:
    with pytest.raises(IRLoadError, match="not JSON"):
        load("{")
    with pytest.raises(IRLoadError, match="schema version"):
        load('{"schema_version": "0"}')
    with pytest.raises(IRLoadError, match="not a valid IR"):
        load('{"schema_version": "1", "name": 3}')


def test_dot_and_mermaid_show_every_node_and_edge() -> None:
    ir, _ = optimised(SOURCE)
    dot = to_dot(ir)
    mermaid = to_mermaid(ir)
    assert dot.startswith('digraph "t" {') and dot == to_dot(ir)
    assert mermaid.startswith("flowchart TD")
    for node in ir.nodes():
        assert f'"{node.id}"' in dot
        assert node.id.replace(".", "_") in mermaid
    assert dot.count(" -> ") == len(ir.edges())
    assert mermaid.count("-->") + mermaid.count("-.->") == len(ir.edges())
    assert "style=dashed" in dot and "when true" in dot


def test_render_without_graphviz_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_dot.shutil, "which", lambda name: None)
    with pytest.raises(GraphvizMissing, match="Graphviz 'dot' is not installed"):
        render("digraph {}", "svg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_graphviz_accepts_the_dot_of_every_construct() -> None:
    ir, _ = optimised(SOURCE)
    svg = render(to_dot(ir), "svg")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    graph, _ = optimised(spec("    graph max_steps 4 {\n      start s\n"
                              "      node s = solver(question, r)\n"
                              "      node r = critic(question, s)\n      edge s -> r\n"
                              "      edge r -> s when r == revise\n    }\n    answer = s"))
    assert b"<svg" in render(to_dot(graph), "svg")


def test_package_exposes_compile_load_and_validate() -> None:
    import compiler

    compiled = compiler.compile(VALID_SOURCE)
    assert compiler.load(compiler.to_json(compiled.ir)) == compiled.ir
    assert compiler.validate_ir(compiled.ir) is compiled.ir
    assert compiler.analyze(compiled.ir) == compiled.stats
    with pytest.raises(AttributeError):
        compiler.nothing  # noqa: B018


VALID_SOURCE = spec("    answer = vote(ensemble(solver, n: 2, question))")

"""The run viewer's HTML: one self-contained page (inline CSS, JS, SVG and data; it loads
nothing from anywhere, so it works offline and from a file:// URL)."""

from __future__ import annotations

import json
from html import escape
from importlib import resources
from typing import Any


def _asset(name: str) -> str:
    return resources.files("masdsl.cli.viewer").joinpath(name).read_text(encoding="utf-8")


def embed_json(data: Any) -> str:
    """JSON that is safe inside `<script type="application/json">`: no `</script>`, no
    HTML comment openers, no line separators that break older parsers."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render_page(report: dict[str, Any], svg: str, layout: str) -> str:
    """The whole page for a report (`report.build_report`) and its graph (`svg.graph_svg`)."""
    name = escape(report["name"])
    interface = ", ".join(f"{n}: {t}" for n, t in report["inputs"]) + " → " + ", ".join(
        f"{n}: {t}" for n, t in report["outputs"])
    drawn_by = "Graphviz dot" if layout == "dot" else "the built-in layered layout"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} · masc view</title>
<link rel="icon" href="data:,">
<style>
{_asset("viewer.css")}
</style>
</head>
<body>
<header>
  <h1>{name}</h1>
  <div class="path">{escape(report["path"])} · {escape(interface)}</div>
  <div class="cost" id="cost"></div>
</header>
<main>
  <section class="card" id="graph-card">
    <h2>Compiled graph</h2>
    <div id="graph">{svg}</div>
    <div class="legend">Click a node. Agents are filled blue; outlined green: ran in this
    execution; red: ended in a typed failure; purple: selected. Drawn by {drawn_by}.</div>
  </section>
  <section class="card" id="details"></section>
  <section class="card wide"><h2>Run</h2><div id="run"></div></section>
  <section class="card wide"><h2>Every turn</h2><div id="turns"></div></section>
  <section class="card wide"><details><summary>Spec source</summary>
    <pre id="source">{escape(report["source"])}</pre></details></section>
</main>
<script type="application/json" id="report-data">{embed_json(report)}</script>
<script>
{_asset("viewer.js")}
</script>
</body>
</html>
"""

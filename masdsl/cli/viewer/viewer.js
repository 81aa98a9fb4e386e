// masc view: renders the report data embedded in the page. Plain DOM, no libraries, no
// network; user text is only ever set through textContent.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const nodes = new Map(data.nodes.map((node) => [node.id, node]));
  const state = { execution: data.executions.length ? data.executions[0].execution_id : null,
                  node: null };

  function el(tag, attrs, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") element.className = value;
      else if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else element.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      element.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return element;
  }

  function show(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 2);
  }

  function number(value) { return Number(value).toLocaleString("en-US"); }

  function turnsOf(nodeId) {
    return data.turns.filter((turn) => turn.execution_id === state.execution &&
                                      (nodeId === null || turn.node_id === nodeId));
  }

  function table(rows) {
    return el("table", {}, ...rows.map(([key, value]) => el("tr", {}, el("th", {}, key),
                                                             el("td", {}, value))));
  }

  // ---- header: worst-case cost ----------------------------------------------------------
  function renderCost() {
    const stats = data.stats;
    const split = stats.split;
    const pills = [
      ["worst-case LLM calls", number(stats.llm_calls)],
      ["logical agent calls", number(split.agent_calls)],
      ["tool turns", number(split.tool_turns)],
      ["format retries", number(split.format_retries)],
      ["generated tokens", number(stats.generated_tokens)],
      ["critical path", `${stats.critical_path} calls`],
      ["parallel width", String(stats.parallel_width)],
      ["agent runs", String(stats.agent_runs)],
    ];
    const box = document.getElementById("cost");
    for (const [name, value] of pills) box.append(el("span", { class: "pill" }, `${name} `,
                                                     el("b", {}, value)));
  }

  // ---- executions ------------------------------------------------------------------------
  function renderExecutions() {
    const box = document.getElementById("run");
    box.replaceChildren();
    if (!data.executions.length) {
      box.append(el("p", { class: "empty" },
                    "No trace: run `masc view SPEC --trace TRACE.jsonl` (or `masc run --view`) " +
                    "to see every turn."));
      return;
    }
    if (data.executions.length > 1) {
      const select = el("select", { id: "execution", onchange: (event) => {
        state.execution = event.target.value; refresh(); } });
      for (const run of data.executions) {
        const option = el("option", { value: run.execution_id },
                          `${run.execution_id} (${run.status})`);
        if (run.execution_id === state.execution) option.selected = true;
        select.append(option);
      }
      box.append(el("p", {}, "Execution ", select));
    }
    const run = data.executions.find((item) => item.execution_id === state.execution);
    const status = el("span", { class: run.status === "ok" ? "ok" : "bad" }, run.status);
    const rows = [["execution", run.execution_id], ["status", status]];
    for (const [name, value] of Object.entries(run.inputs || {})) rows.push([`input ${name}`,
                                                                            show(value)]);
    for (const [name, value] of Object.entries(run.outputs || {})) {
      rows.push([`output ${name}`, el("b", { class: "output" }, show(value))]);
    }
    for (const [where, reason] of Object.entries(run.failures || {})) {
      rows.push([`failed ${where}`, el("span", { class: "bad" }, reason)]);
    }
    rows.push(["reward", run.reward === null || run.reward === undefined ? "unknown"
                                                                           : String(run.reward)]);
    rows.push(["cost", `${run.llm_calls} LLM calls, ${number(run.prompt_tokens)} prompt + ` +
               `${number(run.completion_tokens)} generated tokens, ${run.wall_s.toFixed(2)} s`]);
    box.append(table(rows));
  }

  // ---- graph -----------------------------------------------------------------------------
  function graphNodes() {
    return Array.from(document.querySelectorAll("#graph g.node"));
  }

  function wireGraph() {
    for (const group of graphNodes()) {
      const title = group.querySelector("title");
      const id = title ? title.textContent.trim() : null;
      if (!id || !nodes.has(id)) continue;
      group.setAttribute("data-node", id);
      group.addEventListener("click", () => select(id));
    }
  }

  function markGraph() {
    const ran = new Set(), failed = new Set();
    for (const turn of turnsOf(null)) {
      ran.add(turn.node_id);
      if (turn.failure) failed.add(turn.node_id);
    }
    for (const group of graphNodes()) {
      const id = group.getAttribute("data-node");
      group.classList.toggle("ran", ran.has(id) && !failed.has(id));
      group.classList.toggle("failed", failed.has(id));
      group.classList.toggle("selected", id === state.node);
    }
  }

  // ---- the selected node -----------------------------------------------------------------
  function renderTurn(turn) {
    const card = el("div", { class: "turn" + (turn.failure ? " failure" : ""),
                             "data-turn": String(turn.turn_index) });
    card.append(el("h3", {}, `turn ${turn.turn_index}`, el("span", { class: "meta" },
      `${turn.agent} · ${turn.prompt_tokens} prompt + ${turn.completion_tokens} generated ` +
      `tokens · ${(turn.latency_s * 1000).toFixed(0)} ms · ${turn.finish_reason}` +
      (turn.seed === null ? "" : ` · seed ${turn.seed}`))));
    card.append(el("details", {}, el("summary", {}, "messages sent"),
                   el("pre", { class: "prompt" }, turn.prompt)));
    card.append(el("div", {}, el("b", {}, "reply"), el("pre", { class: "reply" }, turn.reply)));
    for (const call of turn.tool_calls) {
      card.append(el("div", { class: "tool" }, el("b", {}, `tool ${call.tool} `),
        el("span", { class: call.ok ? "ok" : "bad" }, call.ok ? "ok" : "error"),
        el("pre", {}, call.argument), el("pre", {}, call.result)));
    }
    if (turn.failure) {
      card.append(el("div", { class: "bad" }, el("b", {}, "typed failure: "), turn.failure));
    } else if (turn.parsed !== null && turn.parsed !== undefined) {
      card.append(el("div", {}, el("b", {}, "parsed value: "),
                     el("code", { class: "parsed" }, show(turn.parsed))));
    } else if (!turn.tool_calls.length) {
      card.append(el("div", { class: "meta retry" },
                     "no value parsed from this reply: the next turn is a format retry"));
    }
    return card;
  }

  function renderNode() {
    const box = document.getElementById("details");
    box.replaceChildren();
    const node = nodes.get(state.node);
    if (!node) {
      box.append(el("p", { class: "empty" }, "Click a node of the graph to see its settings, " +
                    "its worst-case cost and its turns."));
      return;
    }
    box.append(el("h2", {}, `${node.label} `, el("span", { class: "meta" },
                                                  `${node.kind} · ${node.id} · line ${node.line}`)));
    const rows = [];
    if (node.agent) {
      const agent = node.agent;
      rows.push(["agent", `${agent.name} -> ${agent.output}`],
                ["tools", agent.tools.join(", ") || "none"],
                ["max_tool_turns", String(agent.max_tool_turns)],
                ["temperature", String(agent.temperature)], ["top_p", String(agent.top_p)],
                ["max_tokens", String(agent.max_tokens)], ["retries", String(agent.retries)],
                ["model", agent.model]);
      const worst = node.worst;
      rows.push(["worst case", `${worst.calls} LLM calls (${worst.agent_calls} agent call + ` +
                 `${worst.tool_turns} tool turns + ${worst.format_retries} format retries), ` +
                 `${number(worst.tokens)} generated tokens`]);
    }
    rows.push(["inputs", node.inputs.map(([name, type]) => `${name}: ${type}`).join(", ") ||
                         "none"]);
    rows.push(["outputs", node.outputs.map(([name, type]) => `${name}: ${type}`).join(", ")]);
    box.append(table(rows));
    if (node.agent) box.append(el("details", {}, el("summary", {}, "role"),
                                  el("pre", {}, node.agent.role)));
    const turns = turnsOf(node.id);
    box.append(el("h2", { class: "turns-title" }, `Turns (${turns.length})`));
    if (!turns.length) {
      box.append(el("p", { class: "empty" }, node.agent ? (state.execution ?
        "This node did not run in this execution." : "No trace loaded.") :
        "This node makes no LLM call."));
    }
    for (const turn of turns) box.append(renderTurn(turn));
  }

  function resultCell(turn) {
    if (turn.failure) return el("td", { class: "bad" }, turn.failure);
    if (turn.parsed !== null && turn.parsed !== undefined) {
      return el("td", { class: "ok" }, show(turn.parsed));
    }
    return el("td", { class: "meta" }, turn.tool_calls.length ? "tool call" : "no value (retried)");
  }

  function renderTurnTable() {
    const box = document.getElementById("turns");
    box.replaceChildren();
    const turns = turnsOf(null);
    if (!turns.length) {
      box.append(el("p", { class: "empty" }, "No turns recorded."));
      return;
    }
    const head = el("tr", {}, ...["node", "agent", "turn", "tokens (prompt / generated)",
                                  "latency", "result"].map((name) => el("th", {}, name)));
    const rows = turns.map((turn) => el("tr", { class: "clickable", onclick: () =>
      select(turn.node_id) },
      el("td", {}, nodes.has(turn.node_id) ? nodes.get(turn.node_id).label : turn.node_id),
      el("td", {}, turn.agent), el("td", {}, String(turn.turn_index)),
      el("td", {}, `${turn.prompt_tokens} / ${turn.completion_tokens}`),
      el("td", {}, `${(turn.latency_s * 1000).toFixed(0)} ms`),
      resultCell(turn)));
    box.append(el("table", {}, head, ...rows));
  }

  function select(id) {
    state.node = id;
    markGraph();
    renderNode();
  }

  function refresh() {
    renderExecutions();
    markGraph();
    renderNode();
    renderTurnTable();
  }

  renderCost();
  wireGraph();
  const firstRan = turnsOf(null).map((turn) => turn.node_id)[0];
  state.node = firstRan || null;
  refresh();
  document.body.setAttribute("data-ready", "true");
})();

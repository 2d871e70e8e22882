// optracr explore: draws the data Python computed (the page holds no forward pass of its own) with Plotly.
"use strict";
const DATA = JSON.parse(document.getElementById("explore-data").textContent);
const KIND_COLOURS = {input: "#bdbdbd", selector: "#fee08b", folded: "#e0e0e0", attention: "#9ecae1",
                      mlp: "#fdd0a2", fused: "#fdae6b"};
const PLOT_CONFIG = {displaylogo: false, responsive: true};
const state = {trace: null, view: "program", stage: DATA.stream.stages.length - 1, drawn: {}};
const $ = (id) => document.getElementById(id);

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function count(number, noun) {
  return `${number} ${noun}${number === 1 ? "" : "s"}`;
}

function showDetails(target, entries) {
  const list = el("dl");
  for (const [term, text] of entries) {
    if (text === "" || text === null || text === undefined) continue;
    list.append(el("dt", {}, term), el("dd", {}, String(text)));
  }
  target.replaceChildren(list);
  return list;
}

// ------------------------------------------------------------------------------------------ input and outputs
function runInput(text) {
  $("input-error").textContent = "";
  if (DATA.mode === "static") {
    const trace = DATA.traces[text.trim().split(/\s+/).filter(Boolean).join(" ")];
    if (trace) return showTrace(trace);
    $("input-error").textContent = "This page was written with precomputed inputs only: " +
      Object.keys(DATA.traces).map((known) => JSON.stringify(known)).join(", ") +
      ". Run `optracr explore` for a live page that computes any input.";
    document.body.dataset.state = "error";
    return Promise.resolve();
  }
  const started = performance.now();
  return fetch("run?input=" + encodeURIComponent(text)).then((response) => {
    if (!response.ok) throw new Error(`HTTP status ${response.status}`);
    return response.json();
  }).then((trace) => {
    showTrace(trace);
    document.body.dataset.roundTripMs = (performance.now() - started).toFixed(1);
  }).catch((error) => {
    $("input-error").textContent = `The explore server gave no answer (${error.message}); is \`optracr explore\` ` +
      "still running? Start it again and reload the page.";
    document.body.dataset.state = "error";
  });
}

function showTrace(trace) {
  if (trace.error) {
    $("input-error").textContent = trace.error;
    document.body.dataset.input = trace.input;
    document.body.dataset.state = "error";
    return;
  }
  state.trace = trace;
  state.drawn.residual = state.drawn.attention = false;  // the program and the layout do not depend on the input
  $("input-box").value = trace.input;
  drawOutputs(trace);
  drawView(state.view);
  document.body.dataset.input = trace.input;
  document.body.dataset.state = "ready";
}

function drawOutputs(trace) {
  const rows = [["position", trace.tokens.map((_, i) => String(i))], ["token", trace.tokens],
                ["model", trace.model]];
  if (trace.expected) rows.push(["evaluator", [DATA.bos, ...trace.expected]]);
  const table = $("outputs");
  table.replaceChildren();
  for (const [name, cells] of rows) {
    const row = el("tr", {"data-row": name}, el("th", {}, name));
    cells.forEach((cell, position) => {
      const mismatch = position > 0 && trace.mismatches[position - 1] && (name === "model" || name === "evaluator");
      row.append(el("td", mismatch ? {class: "mismatch", title: "the model and the evaluator disagree"} : {},
                    mismatch ? cell + " \u2717" : cell));
    });
    table.append(row);
  }
  const wrong = trace.mismatches.map((bad, i) => bad ? i + 1 : null).filter((i) => i !== null);
  const agreement = $("agreement");
  if (!trace.expected) {
    agreement.className = "hint";
    agreement.textContent = trace.evaluator_error;
  } else if (wrong.length) {
    agreement.className = "bad";
    agreement.textContent = "the model disagrees with the RASP evaluator at position(s) " + wrong.join(", ");
  } else {
    agreement.className = "good";
    agreement.textContent = "the model's output equals the RASP evaluator's at every position";
  }
}

// ------------------------------------------------------------------------------------------------- views
function drawView(view) {
  if (state.drawn[view] || !window.Plotly) return;  // without Plotly yet: drawn once it has loaded
  if (view === "program") drawProgram();
  if (view === "layout") drawLayout();
  if (view === "residual") drawResidual();
  if (view === "attention") drawAttention();
  state.drawn[view] = true;
}

function selectView(view) {
  state.view = view;
  for (const button of document.querySelectorAll("nav button")) {
    button.classList.toggle("active", button.dataset.view === view);
  }
  for (const section of document.querySelectorAll(".view")) {
    section.classList.toggle("active", section.id === "view-" + view);
  }
  drawView(view);
}

function drawProgram() {
  const nodes = DATA.program.nodes;
  const index = Object.fromEntries(nodes.map((node, i) => [node.label, i]));
  // Edges bend upwards in proportion to their span, so a long edge does not run through the nodes between.
  const edges = DATA.program.edges.map(([from, to]) => {
    const a = nodes[index[from]], b = nodes[index[to]];
    const bend = 0.35 * (b.x - a.x - 1);
    return {type: "path", layer: "below", line: {color: "#999", width: 1},
            path: `M ${a.x},${a.y} Q ${(a.x + b.x) / 2},${Math.min(a.y, b.y) - bend} ${b.x},${b.y}`};
  });
  const kinds = [...new Set(nodes.map((node) => node.kind))];
  const traces = kinds.map((kind) => {
    const members = nodes.filter((node) => node.kind === kind);
    return {x: members.map((n) => n.x), y: members.map((n) => n.y), text: members.map((n) => n.label),
            customdata: members.map((n) => index[n.label]), mode: "markers+text", textposition: "bottom center",
            name: kind, marker: {size: 22, color: KIND_COLOURS[kind] || "#ccc", line: {color: "#333", width: 1}},
            hovertext: members.map((n) => n.label + "<br>" + (n.expression || n.where)), hoverinfo: "text"};
  });
  const top = -0.4 - 0.35 * Math.max(0, ...nodes.map((n) => n.x)), bottom = Math.max(...nodes.map((n) => n.y)) + 0.6;
  const height = Math.max(320, 70 * (bottom - top) + 90);
  const graph = $("program-graph");
  Plotly.react(graph, traces, {
    height, shapes: edges, margin: {l: 20, r: 20, t: 30, b: 30}, hovermode: "closest", dragmode: "pan",
    xaxis: {visible: false, range: [-0.6, Math.max(...nodes.map((n) => n.x)) + 0.6]},
    yaxis: {visible: false, range: [bottom, top]},
    legend: {orientation: "h"},
    title: {text: "s-ops and selectors, inputs on the left; colour: where each is computed", font: {size: 13}},
  }, PLOT_CONFIG);
  graph.on("plotly_click", (event) => {
    const point = event.points.find((p) => p.customdata !== undefined);
    if (point) showNode(nodes[point.customdata]);
  });
}

function showNode(node) {
  const panel = $("program-details");
  showDetails(panel, [["s-op", node.label], ["expression", node.expression], ["encoding", node.encoding],
                      ["value set", node.values], ["where", node.where],
                      ["residual directions", node.directions.length ? node.directions.join(", ") : ""]]);
  if (node.directions.length || ["tokens", "indices"].includes(node.label)) {
    const button = el("button", {type: "button", id: "show-band"}, "show its residual band");
    button.addEventListener("click", () => {
      $("band-filter").value = node.label;
      selectView("residual");
      filterBands(true);
    });
    panel.append(button);
  }
}

function drawLayout() {
  const layout = DATA.layout;
  if (!layout.num_layers) {
    $("layout-chart").textContent = "This model has no layers: the embedding and the unembedding compute it" +
      (layout.folded_into_unembedding.length ? ` (the unembedding composes ${layout.folded_into_unembedding.join(", ")})` : "") + ".";
    return;
  }
  const shapes = [];
  for (let layer = 0; layer < layout.num_layers; layer++) {
    const left = layer + (1 - layout.fill) / 2;
    for (const [bottom, capacity] of [[1.06, layout.num_heads], [0.06, layout.mlp_hidden_width]]) {
      if (capacity) shapes.push({type: "rect", x0: left, x1: left + layout.fill, y0: bottom, y1: bottom + 0.88,
                                 line: {dash: "dot", color: "#888", width: 1}});
    }
  }
  const boxes = layout.boxes;
  const fills = boxes.map((box) => {
    const bottom = box.attention ? 1.06 : 0.06;
    return {x: [box.x0, box.x1, box.x1, box.x0, box.x0], y: [bottom, bottom, bottom + 0.88, bottom + 0.88, bottom],
            fill: "toself", mode: "lines", line: {color: "#000", width: 1}, hoverinfo: "skip", showlegend: false,
            fillcolor: box.attention ? KIND_COLOURS.attention : box.fused ? KIND_COLOURS.fused : KIND_COLOURS.mlp};
  });
  const centres = {x: boxes.map((b) => (b.x0 + b.x1) / 2), y: boxes.map((b) => (b.attention ? 1.5 : 0.5)),
                   customdata: boxes.map((_, i) => i), mode: "markers+text", showlegend: false,
                   text: boxes.map((b) => (b.fused ? "fused: " : "") + b.sops.join(", ")),
                   textfont: {size: 11}, marker: {size: 40, color: "rgba(0,0,0,0)"},
                   hovertext: boxes.map((b) => b.sops.join(", ") + "<br>" + count(b.width, b.unit)),
                   hoverinfo: "text"};
  const chart = $("layout-chart");
  Plotly.react(chart, [...fills, centres], {
    height: 380, margin: {l: 80, r: 20, t: 60, b: 20}, hovermode: "closest", shapes,
    title: {text: `${count(layout.num_layers, "layer")}, ${count(layout.num_heads, "head")} and ${count(layout.mlp_hidden_width, "MLP unit")} ` +
                  `per layer, ${layout.parameters.toLocaleString("en")} parameters; box widths to scale, dotted: ` +
                  "a layer's padded width" + (layout.folded_into_unembedding.length ? "; the unembedding composes " +
                  layout.folded_into_unembedding.join(", ") : ""), font: {size: 13}},
    xaxis: {range: [0, layout.num_layers], tickvals: [...Array(layout.num_layers).keys()].map((l) => l + 0.5),
            ticktext: [...Array(layout.num_layers).keys()].map((l) => "layer " + l), side: "top",
            showgrid: false, zeroline: false},
    yaxis: {range: [0, 2], tickvals: [1.5, 0.5], ticktext: ["attention", "MLP"], showgrid: false, zeroline: false},
  }, PLOT_CONFIG);
  chart.on("plotly_click", (event) => {
    const point = event.points.find((p) => p.customdata !== undefined);
    if (point) showBox(boxes[point.customdata]);
  });
}

function showBox(box) {
  showDetails($("layout-details"), [
    ["sublayer", `layer ${box.layer} ${box.attention ? "attention" : "MLP"}` + (box.fused ? " (a fused MLP)" : "")],
    ["width", count(box.width, box.unit)],
    ["computes", box.computes.join("\n")],
    ["folded s-ops its reads compose", box.folded.join(", ")],
  ]);
}

// ------------------------------------------------------------------------------------------- residual stream
function setUpResidual() {
  const select = $("stage");
  DATA.stream.stages.forEach((stage, i) => select.append(el("option", {value: String(i)}, stage.title)));
  select.value = String(state.stage);
  select.addEventListener("change", () => { state.stage = Number(select.value); drawResidual(); });
  const bands = $("bands");
  DATA.stream.bands.forEach((band, i) => {
    const details = el("details", {class: "band" + (band.output ? " output" : ""), "data-band": band.name,
                                   "data-index": String(i)},
                       el("summary", {}, band.name, el("span", {class: "badge"}, `${band.kind}, ${band.rows.length}`
                          + (band.rows.length === 1 ? " direction" : " directions"))),
                       el("div", {class: "band-chart"}));
    if (band.output) details.querySelector("summary").append(el("span", {class: "badge output"}, "output"));
    details.addEventListener("toggle", () => { if (details.open) drawBand(details); });
    bands.append(details);
  });
  $("band-filter").addEventListener("input", () => filterBands(false));
  $("expand-all").addEventListener("click", () => {
    for (const details of shownBands()) details.open = true;
  });
  $("collapse-all").addEventListener("click", () => {
    for (const details of document.querySelectorAll("details.band")) details.open = false;
  });
  filterBands(false);
}

function shownBands() {
  return [...document.querySelectorAll("details.band")].filter((details) => details.style.display !== "none");
}

function filterBands(openMatches) {
  const words = $("band-filter").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0, directions = 0;
  for (const details of document.querySelectorAll("details.band")) {
    const band = DATA.stream.bands[Number(details.dataset.index)];
    const match = !words.length || words.some((word) => band.name.toLowerCase().includes(word));
    details.style.display = match ? "" : "none";
    if (match) { shown++; directions += band.rows.length; if (openMatches) details.open = true; }
  }
  $("band-count").textContent = `${shown} of ${DATA.stream.bands.length} bands shown (${directions} of ` +
    `${DATA.stream.num_directions} directions); bands open on click, drag on a band to zoom, double-click to reset`;
}

function drawResidual() {
  const stage = DATA.stream.stages[state.stage];
  $("stage-detail").textContent = stage.detail ? "this sublayer computes: " + stage.detail : "";
  for (const details of document.querySelectorAll("details.band")) {
    const band = DATA.stream.bands[Number(details.dataset.index)];
    const summary = details.querySelector("summary");
    summary.querySelectorAll(".badge.writes, .badge.helps").forEach((badge) => badge.remove());
    details.classList.toggle("writes", stage.writes.includes(band.name));
    if (stage.writes.includes(band.name)) summary.append(el("span", {class: "badge writes"}, "written here"));
    if (stage.helps.includes(band.name)) summary.append(el("span", {class: "badge helps"}, "scratch part here"));
    if (details.open) drawBand(details);
  }
}

function residualRange() {
  if (state.trace.residualMax === undefined) {
    let largest = 1;
    for (const matrix of state.trace.residual) for (const row of matrix) for (const v of row) largest = Math.max(largest, Math.abs(v));
    state.trace.residualMax = largest;
  }
  return state.trace.residualMax;
}

function drawBand(details) {
  const band = DATA.stream.bands[Number(details.dataset.index)];
  const matrix = state.trace.residual[state.stage].slice(band.start, band.start + band.rows.length);
  const positions = state.trace.tokens.map((token, i) => i);
  const customdata = band.rows.map((label, r) => positions.map((p) => [
    label, band.values[r] || "(its one direction)", band.directions[r], state.trace.tokens[p], p]));
  const vmax = residualRange();
  const chart = details.querySelector(".band-chart");
  Plotly.react(chart, [{
    type: "heatmap", z: matrix, x: positions, y: band.rows.map((_, r) => r), customdata, zmin: -vmax, zmax: vmax,
    colorscale: "RdBu", reversescale: true, xgap: 1, ygap: 1, colorbar: {thickness: 10},
    hovertemplate: "%{customdata[0]} (direction %{customdata[2]})<br>value %{customdata[1]}<br>" +
                   "position %{customdata[4]} (%{customdata[3]})<br>activation %{z:.6~g}<extra></extra>",
  }], {
    height: Math.min(900, 80 + 18 * band.rows.length), margin: {l: 120, r: 20, t: 30, b: 40},  // t: room for the mode bar
    xaxis: {tickvals: positions, ticktext: state.trace.tokens, title: {text: "position (token)", font: {size: 11}}},
    yaxis: {tickvals: band.rows.map((_, r) => r), ticktext: band.rows.map((label, r) => band.values[r] || label),
            autorange: "reversed"},
  }, PLOT_CONFIG);
}

// ------------------------------------------------------------------------------------------------- attention
function drawAttention() {
  const container = $("heads");
  container.replaceChildren();
  const tokens = state.trace.tokens;
  const positions = tokens.map((_, i) => i);
  DATA.stream.heads.forEach((head, i) => {
    const chart = el("div", {class: "head-chart", "data-head": `${head.layer}.${head.head}`});
    container.append(chart);
    const title = `layer ${head.layer}, head ${head.head}: ${head.sop}` +
      (head.operation ? ` = ${head.operation}` : "") + (head.selector ? `<br>select ${head.selector}` : "");
    const side = Math.max(260, 28 * tokens.length + 120);
    Plotly.react(chart, [{type: "heatmap", z: state.trace.attention[i], x: positions, y: positions, zmin: 0, zmax: 1,
                          colorscale: "Blues", reversescale: true, xgap: 1, ygap: 1, showscale: false,
                          hovertemplate: "query %{y}, key %{x}<br>weight %{z:.4~g}<extra></extra>"}], {
      width: side, height: side + 40, margin: {l: 60, r: 10, t: 70, b: 50},
      title: {text: title, font: {size: 12}, x: 0.02, xanchor: "left"},
      xaxis: {tickvals: positions, ticktext: tokens, title: {text: "key", font: {size: 11}}, side: "bottom"},
      yaxis: {tickvals: positions, ticktext: tokens, title: {text: "query", font: {size: 11}}, autorange: "reversed"},
    }, {displaylogo: false});
  });
  if (!DATA.stream.heads.length) container.append("This model has no attention heads.");
}

// ------------------------------------------------------------------------------------------------------ start
function start() {
  $("title").textContent = DATA.title;
  $("shape").textContent = DATA.shape;
  $("input-hint").textContent = DATA.hint;
  for (const known of Object.keys(DATA.traces)) $("known-inputs").append(el("option", {value: known}));
  for (const button of document.querySelectorAll("nav button")) {
    button.addEventListener("click", () => selectView(button.dataset.view));
  }
  $("input-form").addEventListener("submit", (event) => { event.preventDefault(); runInput($("input-box").value); });
  setUpResidual();
  showTrace(DATA.traces[DATA.initial]);
  // Plotly's bundle loads after this script (deferred, or inlined below it): the input box and the outputs
  // are usable at once, the charts follow.
  const drawCharts = () => { drawView(state.view); document.body.dataset.charts = "ready"; };
  if (window.Plotly) drawCharts(); else document.addEventListener("DOMContentLoaded", drawCharts);
}

start();

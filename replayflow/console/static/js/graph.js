// The run's dataflow graph as SVG: one box per task (or per group of one task type), coloured by
// phase, with an arrow wherever a future produced by one task went into another. Connected tasks
// are laid out by dagre (left to right); tasks with no edge at all sit in a grid below, so an old
// history (no recorded edges) or a wide fan-out stays readable.

import dagre from "../vendor/dagre/dagre.esm.js";
import { s } from "./dom.js";

const NODE_W = 150;
const NODE_H = 30;
const GROUP_H = 44;
const GAP = 14;

function nodeSize(node) {
  return { width: NODE_W, height: node.group ? GROUP_H : NODE_H };
}

function layout(graph) {
  const linked = new Set();
  for (const e of graph.edges) { linked.add(e.source); linked.add(e.target); }
  const positions = new Map();
  let width = 0;
  let height = 0;
  const edgePoints = new Map();
  if (linked.size) {
    const g = new dagre.graphlib.Graph({ multigraph: false });
    g.setGraph({ rankdir: "LR", nodesep: GAP, ranksep: 48, marginx: 10, marginy: 10 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const node of graph.nodes) if (linked.has(node.id)) g.setNode(node.id, nodeSize(node));
    for (const e of graph.edges) g.setEdge(e.source, e.target);
    dagre.layout(g);
    for (const id of g.nodes()) {
      const n = g.node(id);
      positions.set(id, { x: n.x - n.width / 2, y: n.y - n.height / 2, w: n.width, h: n.height });
    }
    for (const e of g.edges()) edgePoints.set(`${e.v}\u0000${e.w}`, g.edge(e).points);
    width = g.graph().width;
    height = g.graph().height;
  }
  const loose = graph.nodes.filter((n) => !linked.has(n.id));
  if (loose.length) {
    const perRow = Math.max(1, Math.min(loose.length, Math.floor(Math.max(width, 960) / (NODE_W + GAP))));
    let y = height + 10;
    loose.forEach((node, i) => {
      const size = nodeSize(node);
      const col = i % perRow;
      if (i && col === 0) y += GROUP_H + GAP;
      positions.set(node.id, { x: 10 + col * (NODE_W + GAP), y, w: size.width, h: size.height });
    });
    width = Math.max(width, 10 + perRow * (NODE_W + GAP));
    height = y + GROUP_H + 10;
  }
  return { positions, edgePoints, width, height };
}

function fit(text, max = 22) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function path(points) {
  return points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

export function drawGraph(box, graph, { onSelect, onExpand } = {}) {
  const { positions, edgePoints, width, height } = layout(graph);
  const svg = s("svg", { width: Math.ceil(width), height: Math.ceil(height), id: "graph",
    class: "graph", role: "img", "aria-label": `dataflow graph of ${graph.task_count} tasks` });
  svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
  s("path", { d: "M0,0 L10,5 L0,10 z", class: "edge-arrow" }))));
  const edges = s("g", { class: "edges" });
  for (const e of graph.edges) {
    const points = edgePoints.get(`${e.source}\u0000${e.target}`);
    if (!points) continue;
    edges.append(s("path", { class: "edge", d: path(points), "marker-end": "url(#arrow)",
      "data-source": e.source, "data-target": e.target },
    s("title", {}, `${e.source} → ${e.target}${e.count > 1 ? ` (${e.count})` : ""}`)));
  }
  svg.append(edges);
  const nodes = s("g", { class: "nodes" });
  for (const node of graph.nodes) {
    const p = positions.get(node.id);
    const g = s("g", { class: `node phase-${node.phase}${node.group ? " group" : ""}`,
      transform: `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`, "data-id": node.id,
      "data-phase": node.phase, "data-kind": node.kind, tabindex: 0 },
    s("title", {}, node.group
      ? `${node.name}: ${node.size} tasks (${Object.entries(node.counts).map(([k, v]) => `${v} ${k}`).join(", ")}); click to show each task`
      : `${node.id}\n${node.name}\n${node.state}${node.attempts > 1 ? `, ${node.attempts} attempts` : ""}${node.error ? `\n${node.error}` : ""}`),
    s("rect", { class: "box", width: p.w, height: p.h }),
    s("text", { x: 8, y: 19 }, fit(node.group ? `${node.label} ×${node.size}` : node.label)));
    if (node.group) {
      const counts = Object.entries(node.counts);
      let x = 8;
      for (const [phase, n] of counts) {
        const w = Math.max(3, (p.w - 16) * (n / node.size));
        g.append(s("rect", { class: `bar phase-${phase}`, x, y: 27, width: w, height: 10, stroke: "#fff", "stroke-width": 0.5 }));
        x += w;
      }
      g.addEventListener("click", () => onExpand && onExpand(node.name));
    } else {
      g.addEventListener("click", () => onSelect && onSelect(node.id));
    }
    g.addEventListener("keydown", (event) => { if (event.key === "Enter") g.dispatchEvent(new MouseEvent("click")); });
    nodes.append(g);
  }
  svg.append(nodes);
  box.replaceChildren(svg);
  return svg;
}

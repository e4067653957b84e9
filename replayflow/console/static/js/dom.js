// Building the page from data that may come from anyone (a history is untrusted): text always
// goes in through textContent, never as markup.

export const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  return fill(el, attrs, children);
}

function fill(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "text") {
      el.textContent = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function time(value) {
  if (!value) return "";
  const d = new Date(value);
  return d.toISOString().replace("T", " ").replace(/\.000Z$|Z$/, "").replace(/(\.\d{3})\d*$/, "$1");
}

export function clock(value) {
  return value ? time(value).slice(11) : "";
}

export function seconds(value) {
  if (value === null || value === undefined) return "";
  if (value < 0.01) return `${(value * 1000).toFixed(2).replace(/\.?0+$/, "")} ms`;
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(value < 10 ? 2 : 1)} s`;
  const m = Math.floor(value / 60);
  return m < 120 ? `${m} min ${Math.round(value % 60)} s` : `${(value / 3600).toFixed(1)} h`;
}

export function json(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

export function chip(text, cls) {
  return h("span", { class: `chip ${cls || text}` }, text);
}

export const PHASES = ["scheduled", "running", "completed", "failed", "timed_out", "cancelled",
  "waiting"];

export function legend() {
  return h("div", { class: "legend" },
    PHASES.map((p) => h("span", { style: null, dataset: { phase: p }, class: `legend-${p}` },
      p.replace("_", " "))));
}

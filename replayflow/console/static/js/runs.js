// The runs list: filters in the address (so a filtered list can be bookmarked), status colours,
// and "more" for the next page.

import * as api from "./api.js";
import { chip, h, seconds, time } from "./dom.js";

const FILTERS = ["status", "since", "type", "tag"];

function runLink(row) {
  return `#/run/${encodeURIComponent(row.workflow_id)}/${encodeURIComponent(row.run_id)}`;
}

function rowOf(row) {
  return h("tr", { class: "run-row", dataset: { workflowId: row.workflow_id, status: row.status } },
    h("td", {}, h("a", { href: runLink(row), class: "mono" }, row.workflow_id)),
    h("td", { class: "mono muted" }, row.run_id),
    h("td", {}, row.type || ""),
    h("td", {}, chip(row.status)),
    h("td", {}, time(row.started)),
    h("td", {}, time(row.closed)),
    h("td", { class: "num" }, seconds(row.duration)),
    h("td", {}, (row.tags || []).join(", ")));
}

export async function showRuns(main, config, query) {
  const params = {};
  for (const name of FILTERS) if (query.get(name)) params[name] = query.get(name);
  if (!params.status) params.status = "all";

  const form = h("form", { class: "filters", id: "filters" },
    h("label", {}, "status", h("select", { name: "status" },
      ["all", "open", "closed"].map((v) => h("option", { value: v, selected: v === params.status }, v)))),
    h("label", {}, "since", h("input", { name: "since", value: params.since || "", placeholder: "1h, 2d, 2024-11-25", size: 14 })),
    h("label", {}, "type", h("input", { name: "type", value: params.type || "", size: 16 })),
    h("label", {}, "tag", h("input", { name: "tag", value: params.tag || "", size: 14 })),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of FILTERS) {
      const value = form.elements[name].value.trim();
      if (value && !(name === "status" && value === "all")) next.set(name, value);
    }
    const text = next.toString();
    location.hash = `#/runs${text ? `?${text}` : ""}`;
  });

  const body = h("tbody");
  const table = h("table", { id: "runs" },
    h("thead", {}, h("tr", {}, ["workflow id", "run id", "type", "status", "started", "closed",
      "duration", "tags"].map((c) => h("th", {}, c)))),
    body);
  const more = h("button", { type: "button", id: "more", hidden: true }, "More");
  const count = h("p", { class: "muted", id: "runs-count" });
  let shown = 0;

  async function load(pageToken) {
    const page = await api.get("/api/executions", pageToken ? { ...params, page_token: pageToken } : params);
    for (const row of page.executions) body.append(rowOf(row));
    shown += page.executions.length;
    count.textContent = shown ? `${shown} run${shown === 1 ? "" : "s"}${page.next_page_token ? " (more below)" : ""}` : "No run matches.";
    more.hidden = !page.next_page_token;
    more.onclick = () => load(page.next_page_token).catch((err) => { count.textContent = err.message; });
  }

  await load(null);
  main.replaceChildren(h("h1", {}, "Runs"), form, count, table, more);
}

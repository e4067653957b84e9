// One run: what it is, what can be done to it, its graph, timeline, tasks and history.
// While the run is open, one EventSource on `.../events` tells the page when the history grew;
// the page then re-reads the run (the server's cache answers, not SWF).

import * as api from "./api.js";
import { chip, clock, h, json, legend, seconds, time } from "./dom.js";
import { drawGraph } from "./graph.js";
import { drawTimeline } from "./timeline.js";

const INFO_KEYS = [
  ["workflow_type", "type"], ["workflow_version", "version"], ["task_list", "task list"],
  ["tags", "tags"], ["started", "started"], ["closed", "closed"], ["duration", "duration"],
  ["input", "input"], ["result", "result"], ["reason", "reason"], ["details", "details"],
  ["parent_workflow_id", "parent"], ["continued_from_run_id", "continued from"],
  ["continued_as_run_id", "continued as"], ["event_count", "events"], ["source", "source"],
];

function infoValue(key, value) {
  if (value === null || value === undefined || (Array.isArray(value) && !value.length)) return null;
  if (key === "started" || key === "closed") return time(value);
  if (key === "duration") return seconds(value);
  if (key === "tags") return value.join(", ");
  if (key === "details") {
    return h("details", {}, h("summary", { class: "muted" }, "details (the failure's full text)"),
      h("pre", { class: "mono" }, json(value)));
  }
  if (["input", "result"].includes(key)) return h("pre", { class: "mono" }, json(value));
  return String(value);
}

function infoList(info) {
  const dl = h("dl", { class: "info", id: "info" });
  for (const [key, label] of INFO_KEYS) {
    const value = infoValue(key, info[key]);
    if (value === null || value === "") continue;
    dl.append(h("dt", {}, label), h("dd", { dataset: { key } }, value));
  }
  return dl;
}

function parseJson(text, what) {
  if (!text.trim()) return undefined;
  try { return JSON.parse(text); } catch (err) { throw new Error(`${what} is not valid JSON (${err.message})`); }
}

function actionsPanel(info, path, after) {
  if (!info.actions.length) return null;
  const status = h("p", { class: "muted", id: "action-status", role: "status" });
  const run = async (what, body, confirmText) => {
    if (confirmText && !window.confirm(confirmText)) return;
    status.className = "muted";
    status.textContent = `${what}…`;
    try {
      const result = await api.post(`${path}/${what}`, body());
      status.textContent = `${what}: done (${result.workflow_id} ${result.run_id})`;
      after(what, result);
    } catch (err) {
      status.className = "error";
      status.textContent = `${what}: ${err.message}`;
    }
  };
  const box = h("div", { class: "actions", id: "actions" });
  if (info.actions.includes("terminate")) {
    const reason = h("input", { id: "terminate-reason", placeholder: "reason (optional)", size: 24 });
    box.append(h("label", {}, "terminate", h("span", {}, reason, " ",
      h("button", { type: "button", class: "danger", id: "terminate", onclick: () => run("terminate",
        () => (reason.value.trim() ? { reason: reason.value.trim() } : {}),
        "Terminate this run now? Its open tasks are abandoned.") }, "Terminate"))));
  }
  if (info.actions.includes("cancel")) {
    box.append(h("button", { type: "button", id: "cancel", onclick: () => run("cancel", () => ({}),
      "Ask this run to cancel itself?") }, "Request cancel"));
  }
  if (info.actions.includes("signal")) {
    const name = h("input", { id: "signal-name", placeholder: "name", size: 14 });
    const input = h("input", { id: "signal-input", placeholder: "input (JSON)", size: 24 });
    box.append(h("label", {}, "signal", h("span", {}, name, " ", input, " ",
      h("button", { type: "button", id: "signal", onclick: () => run("signal", () => {
        const value = parseJson(input.value, "the signal's input");
        return value === undefined ? { name: name.value.trim() } : { name: name.value.trim(), input: value };
      }) }, "Send"))));
  }
  if (info.actions.includes("restart")) {
    const input = h("input", { id: "restart-input", placeholder: "new input (JSON; empty: the same)", size: 30 });
    box.append(h("label", {}, "start another run like this one", h("span", {}, input, " ",
      h("button", { type: "button", id: "restart", onclick: () => run("restart", () => {
        const value = parseJson(input.value, "the new input");
        return value === undefined ? {} : { input: value };
      }) }, "Restart"))));
  }
  return h("section", {}, h("h2", {}, "Actions"), box, status);
}

function taskDetail(task) {
  if (!task) return h("p", { class: "muted" }, "Click a task (here, in the graph or the timeline) to see its input, result and error.");
  const parts = [h("h3", { class: "mono" }, task.task_id),
    h("p", {}, chip(task.phase), " ", task.name, task.version ? ` (version ${task.version})` : "",
      `, ${task.attempts} attempt${task.attempts === 1 ? "" : "s"}`)];
  const add = (label, value, id) => {
    if (value === null || value === undefined || value === "") return;
    parts.push(h("h4", {}, label), h("pre", { class: "mono", id }, json(value)));
  };
  add("input", task.input, "detail-input");
  add("result", task.result, "detail-result");
  add("error", task.error, "detail-error");
  add("traceback", task.traceback, "detail-traceback");
  if (!task.traceback) add("details", task.details, "detail-details");
  return h("div", {}, parts);
}

function tasksTable(tasks, selected, onSelect) {
  const body = h("tbody");
  for (const t of tasks) {
    body.append(h("tr", { class: `clickable task-row${t.task_id === selected ? " selected" : ""}`,
      dataset: { id: t.task_id, phase: t.phase }, onclick: () => onSelect(t.task_id) },
    h("td", { class: "mono", title: `${t.kind} ${t.name}` }, t.task_id),
    h("td", {}, chip(t.phase)), h("td", { class: "num" }, t.attempts),
    h("td", { title: time(t.scheduled) }, clock(t.scheduled)),
    h("td", { title: time(t.started) }, clock(t.started)),
    h("td", { title: time(t.closed) }, clock(t.closed)),
    h("td", { class: "error" }, t.error || "")));
  }
  return h("table", { id: "tasks" }, h("thead", {}, h("tr", {}, ["task", "state",
    "attempts", "scheduled", "started", "closed", "error"].map((c) => h("th", {}, c)))), body);
}

function historyTable(events) {
  const body = h("tbody");
  for (const e of events) {
    const key = `${e.eventType[0].toLowerCase()}${e.eventType.slice(1)}EventAttributes`;
    body.append(h("tr", {}, h("td", { class: "num" }, e.eventId), h("td", {}, time(e.eventTimestamp)),
      h("td", {}, e.eventType), h("td", { class: "mono" }, e[key] ? JSON.stringify(e[key]) : "")));
  }
  return h("table", { id: "history" }, h("thead", {}, h("tr", {}, ["id", "time", "event", "attributes"]
    .map((c) => h("th", {}, c)))), body);
}

export async function showRun(main, config, workflowId, runId) {
  const path = api.runPath(workflowId, runId);
  const state = { selected: null, failedOnly: false, expand: new Set(), data: null, stream: null, closed: false };

  const title = h("h1");
  const live = h("span", { class: "muted", id: "live" });
  const infoBox = h("div");
  const actionsBox = h("div");
  const graphNote = h("p", { class: "muted", id: "graph-note" });
  const graphBox = h("div", { class: "graph-box", id: "graph-box" });
  const timelineNote = h("p", { class: "muted" });
  const timelineBox = h("div", { class: "timeline-box", id: "timeline-box" });
  const failedOnly = h("input", { type: "checkbox", id: "failed-only" });
  const tasksBox = h("div", { id: "tasks-box" });
  const detailBox = h("div", { class: "detail", id: "task-detail" });
  const historyBox = h("div", { id: "history-box" });
  const historyDetails = h("details", { id: "history-section" },
    h("summary", {}, "History (every event)"), historyBox);

  const select = (taskId) => {
    state.selected = taskId;
    renderTasks();
    for (const el of graphBox.querySelectorAll(".node.selected")) el.classList.remove("selected");
    const node = [...graphBox.querySelectorAll(".node")].find((n) => n.dataset.id === taskId);
    if (node) node.classList.add("selected");
    const row = [...tasksBox.querySelectorAll("tr.task-row")].find((r) => r.dataset.id === taskId);
    if (row) row.scrollIntoView({ block: "nearest" });
  };

  function renderTasks() {
    const tasks = state.data.tasks.tasks.filter((t) => !state.failedOnly || t.phase === "failed" || t.phase === "timed_out");
    tasksBox.replaceChildren(tasks.length ? tasksTable(tasks, state.selected, select)
      : h("p", { class: "muted" }, state.failedOnly ? "No failed task." : "No task."));
    detailBox.replaceChildren(taskDetail(state.data.tasks.tasks.find((t) => t.task_id === state.selected)));
  }

  function render() {
    const { info, graph, profile } = state.data;
    title.replaceChildren(h("span", { class: "mono" }, info.workflow_id), " ", chip(info.status),
      h("div", { class: "muted mono" }, `run ${info.run_id}`));
    infoBox.replaceChildren(infoList(info));
    actionsBox.replaceChildren(actionsPanel(info, path, afterAction) || "");
    graphNote.textContent = `${graph.task_count} task${graph.task_count === 1 ? "" : "s"}, ${graph.edges.length} edge${graph.edges.length === 1 ? "" : "s"}` +
      (graph.grouped ? ". Tasks of one type are grouped: click a group to show its tasks." : "") +
      (!graph.edges.length && graph.task_count > 1 ? " (no edges recorded: an older history, or no future was passed between tasks)" : "");
    drawGraph(graphBox, graph, { onSelect: select, onExpand: (name) => { state.expand.add(name); refresh(); } });
    const drawn = drawTimeline(timelineBox, profile, { onSelect: select });
    timelineNote.textContent = drawn.total > drawn.rows ? `first ${drawn.rows} of ${drawn.total} tasks` : "";
    renderTasks();
    main.dataset.status = info.status;
  }

  async function load() {
    const expand = new URLSearchParams();
    for (const name of state.expand) expand.append("expand", name);
    const [info, graph, profile, tasks] = await Promise.all([
      api.get(path), api.get(`${path}/graph${state.expand.size ? `?${expand}` : ""}`),
      api.get(`${path}/profile`), api.get(`${path}/tasks`)]);
    state.data = { info, graph, profile, tasks };
  }

  async function refresh() {
    try {
      await load();
      render();
      if (historyDetails.open) await loadHistory();
    } catch (err) {
      live.textContent = `refresh failed: ${err.message}`;
    }
  }

  async function loadHistory() {
    historyBox.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    const events = await api.get(`${path}/history`);
    historyBox.replaceChildren(
      h("p", {}, h("a", { href: `${path}/history?raw=true`, download: "", id: "download-history" },
        "Download the raw history (JSON)"), h("span", { class: "muted" },
        " — replays with replayflow.testing.replay, and reads back with --history-file")),
      historyTable(events));
  }
  historyDetails.addEventListener("toggle", () => { if (historyDetails.open) loadHistory().catch((err) => { historyBox.textContent = err.message; }); });

  function afterAction(what, result) {
    if (what === "restart") {
      location.hash = `#/run/${encodeURIComponent(result.workflow_id)}/${encodeURIComponent(result.run_id)}`;
      return;
    }
    refresh();
  }

  function watch() {
    const source = new EventSource(`${path}/events`);
    state.stream = source;
    let seen = state.data.info.event_count;
    live.textContent = config.live ? "live" : "";
    source.addEventListener("update", (event) => {
      const update = JSON.parse(event.data);
      if (update.event_count !== seen) {
        seen = update.event_count;
        refresh();
      }
    });
    source.addEventListener("end", (event) => {
      const reason = JSON.parse(event.data).reason;
      live.textContent = reason === "snapshot" ? "snapshot (a history file)" : "closed";
      source.close();
    });
    source.onerror = () => { if (source.readyState === EventSource.CONNECTING) live.textContent = "reconnecting…"; };
  }

  await load();
  failedOnly.addEventListener("change", () => { state.failedOnly = failedOnly.checked; renderTasks(); });
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/runs" }, "← runs"), " ", live), title, infoBox, actionsBox,
    h("h2", {}, "Graph"), legend(), graphNote, graphBox,
    h("h2", {}, "Timeline"), timelineNote, timelineBox,
    h("h2", {}, "Tasks"), h("label", { class: "inline" }, failedOnly, "failed only"),
    h("div", { class: "split" }, tasksBox, detailBox),
    h("h2", {}, "History"), historyDetails);
  render();
  watch();
  return () => { if (state.stream) state.stream.close(); };
}

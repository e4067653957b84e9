// Start a run of a workflow class the console process can import.

import * as api from "./api.js";
import { h } from "./dom.js";

export async function showStart(main, config) {
  if (!config.can_act) {
    main.replaceChildren(h("h1", {}, "Start a run"),
      h("p", { class: "notice" }, "This console is read-only: it starts no run."));
    return;
  }
  const field = (name, label, attrs = {}) => h("label", {}, label, h("input", { name, id: `start-${name}`, ...attrs }));
  const input = h("textarea", { name: "input", id: "start-input", placeholder: "[1, 0]   (a list: positional arguments; an object: keyword arguments)" });
  const status = h("p", { class: "muted", id: "start-status", role: "status" });
  const form = h("form", { id: "start-form" },
    h("div", { class: "actions" },
      field("workflow", "workflow class (MODULE.CLASS)", { required: true, size: 40, placeholder: "examples.basic.BasicWorkflow" }),
      field("workflow_id", "workflow id (optional)", { size: 24 }),
      field("task_list", "decision task list (optional)", { size: 18 }),
      field("tags", "tags (comma separated)", { size: 18 }),
      field("execution_timeout", "execution timeout, s (optional)", { type: "number", min: 1, size: 8 })),
    h("label", {}, "input (JSON)", input),
    h("p", {}, h("button", { type: "submit", id: "start-submit" }, "Start")), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    const body = { workflow: values.workflow.trim() };
    try {
      if (values.input.trim()) body.input = JSON.parse(values.input);
    } catch (err) {
      status.className = "error";
      status.textContent = `the input is not valid JSON (${err.message})`;
      return;
    }
    if (values.workflow_id.trim()) body.workflow_id = values.workflow_id.trim();
    if (values.task_list.trim()) body.task_list = values.task_list.trim();
    if (values.tags.trim()) body.tags = values.tags.split(",").map((t) => t.trim()).filter(Boolean);
    if (values.execution_timeout) body.execution_timeout = Number(values.execution_timeout);
    status.className = "muted";
    status.textContent = "starting…";
    try {
      const started = await api.post("/api/executions", body);
      location.hash = `#/run/${encodeURIComponent(started.workflow_id)}/${encodeURIComponent(started.run_id)}`;
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    }
  });
  main.replaceChildren(h("h1", {}, "Start a run"), form);
}

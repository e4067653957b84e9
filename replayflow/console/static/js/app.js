// The console's page: a hash router over three views (runs, one run, start form).
// `#token=...` in the address (as printed by `replayflow console`) logs the page in, then is
// dropped from the address bar; the token stays in this tab's sessionStorage only.

import * as api from "./api.js";
import { h } from "./dom.js";
import { showRuns } from "./runs.js";
import { showRun } from "./run.js";
import { showStart } from "./start.js";

const main = document.getElementById("main");
let config = { can_act: false, live: false, source: "" };
let leave = null; // what the current view must stop (its event stream) when we navigate away

function takeTokenFromHash() {
  const match = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (match) {
    api.setToken(decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search + "#/runs");
  }
}

async function route() {
  if (leave) { leave(); leave = null; }
  const hash = location.hash.replace(/^#/, "") || "/runs";
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  main.dataset.state = "loading";
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    if (parts[0] === "run" && parts.length >= 3) {
      leave = await showRun(main, config, parts[1], parts.slice(2).join("/"));
    } else if (parts[0] === "start") {
      await showStart(main, config);
    } else {
      await showRuns(main, config, new URLSearchParams(query || ""));
    }
    main.dataset.state = "ready";
    main.dataset.readyAt = performance.now().toFixed(1); // ms since navigation (bench/console.py)
  } catch (err) {
    main.dataset.state = "error";
    console.error(err);
    main.replaceChildren(h("p", { class: "notice error", id: "page-error" }, err.message));
  }
}

async function start() {
  takeTokenFromHash();
  const tokenInput = document.getElementById("token");
  tokenInput.value = api.token();
  tokenInput.addEventListener("change", () => api.setToken(tokenInput.value.trim()));
  try {
    config = await api.get("/api/config");
  } catch (err) {
    main.replaceChildren(h("p", { class: "notice error" }, `The console does not answer: ${err.message}`));
    return;
  }
  document.getElementById("source").textContent = config.source;
  if (!config.can_act) {
    document.getElementById("token-box").hidden = true;
    document.getElementById("nav-start").hidden = true;
  }
  window.addEventListener("hashchange", route);
  await route();
}

start();

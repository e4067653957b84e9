// The API as the page uses it: JSON in and out, the token on every POST.

const TOKEN_KEY = "replayflow-console-token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function answer(response) {
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!response.ok) {
    throw new ApiError(response.status, (body && body.error) || `HTTP ${response.status}`);
  }
  return body;
}

export async function get(path, params) {
  const query = params ? `?${new URLSearchParams(params)}` : "";
  return answer(await fetch(path + query, { headers: { Accept: "application/json" } }));
}

export async function post(path, body) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  return answer(await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}) }));
}

export function runPath(workflowId, runId) {
  return `/api/executions/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}`;
}

import { say } from "./dom.js";

// The /v1 API with the signed-in token, and the session: who is signed in, which view is shown.
//
// Live updates poll: a view that shows something still moving asks again every POLL_MS, and
// stops as soon as it is left or nothing moves any more. Cheap for the API (one small request
// per open view), and no connection held open through proxies.

export const POLL_MS = 1500;
export const IDLE_POLL_MS = 10000;
export const TOKEN_KEY = "coursesync.token";
export const FINAL = new Set(["completed", "completed_with_errors", "failed", "cancelled"]);

// me: the token's record (name, scopes, connections); viewId: bumped on every navigation, so a
// poll of an older view stops itself; onUnauthorized: what a 401 does (sign out).
export const session = { me: null, viewId: 0, onUnauthorized: () => {} };

export const canWrite = () => !!session.me && session.me.scopes.some((s) => s === "write" || s === "admin");

export class ApiError extends Error {
  constructor(status, doc) {
    super((doc && (doc.detail || doc.title)) || `HTTP ${status}`);
    this.status = status;
  }
}

export async function api(path, { method = "GET", json, body, headers = {}, token } = {}) {
  const auth = token || sessionStorage.getItem(TOKEN_KEY);
  const init = { method, headers: { Authorization: `Bearer ${auth}`, ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  const resp = await fetch(`/v1${path}`, init);
  const doc = resp.headers.get("Content-Type")?.includes("json") ? await resp.json() : null;
  if (resp.status === 401 && !token) session.onUnauthorized("Your token is no longer valid: sign in again.");
  if (!resp.ok) throw new ApiError(resp.status, doc);
  return doc;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// Repeats fn while the view is the current one and fn answers true (again in POLL_MS) or a
// number (again in that many ms); a hidden tab asks nothing.
export function poll(id, fn) {
  const tick = async () => {
    if (id !== session.viewId) return;
    if (document.hidden) { setTimeout(tick, POLL_MS); return; }
    let again = false;
    try { again = await fn(); } catch (err) { say(`Update failed: ${err.message}`); again = true; }
    if (again && id === session.viewId) setTimeout(tick, again === true ? POLL_MS : again);
  };
  setTimeout(tick, POLL_MS);
}

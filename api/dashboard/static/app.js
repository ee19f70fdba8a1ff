// coursesync dashboard: one page, four views (runs, a run, connections, failures), all read
// through the /v1 API with the token typed in at sign-in. No framework, no build: a few small
// ES modules the browser loads as they are. This one signs in and out and routes.

import { TOKEN_KEY, api, session } from "./api.js";
import { connectionsView } from "./connections.js";
import { h, put, say } from "./dom.js";
import { failuresView } from "./failures.js";
import { runView } from "./run.js";
import { runsView } from "./runs.js";

function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  session.me = null;
  document.getElementById("sign-in-error").textContent = message;
  route();
}

async function signIn(ev) {
  ev.preventDefault();
  const input = document.getElementById("token");
  const token = input.value.trim();
  const error = document.getElementById("sign-in-error");
  try {
    session.me = await api("/token", { token });
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = "";
    error.textContent = "";
    route();
  } catch (err) {
    error.textContent = err.status === 401 ? "That token is not valid." : `Sign-in failed: ${err.message}`;
  }
}

async function fillLists() {
  try {
    const { connections } = await api("/connections");
    const names = document.getElementById("connection-names");
    const providers = document.getElementById("provider-names");
    put(names, ...connections.map((c) => h("option", { value: c.name })));
    put(providers, ...[...new Set(connections.map((c) => c.provider))].map((p) => h("option", { value: p })));
  } catch { /* the lists only help typing */ }
}

async function route() {
  const id = ++session.viewId;
  const token = sessionStorage.getItem(TOKEN_KEY);
  const signedIn = !!token;
  document.getElementById("sign-in").hidden = signedIn;
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("who").hidden = !signedIn;
  const view = document.getElementById("view");
  put(view);
  if (!signedIn) {
    document.getElementById("token").focus();
    return;
  }
  if (!session.me) {
    try { session.me = await api("/token"); } catch { return; }
    fillLists();
  }
  document.getElementById("who-name").textContent = `${session.me.name} (${session.me.scopes.join(", ")})`;
  const [path, qs] = (location.hash.slice(1) || "/runs").split("?");
  const params = Object.fromEntries(new URLSearchParams(qs || ""));
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll("#nav a")) {
    a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${parts[0] || "runs"}`);
    if (a.hasAttribute("aria-current")) a.setAttribute("aria-current", "page");
  }
  say("");
  try {
    if (parts[0] === "runs" && parts[1]) await runView(parts[1], params, id);
    else if (parts[0] === "connections") await connectionsView(params, id);
    else if (parts[0] === "failures") await failuresView(params, id);
    else await runsView(params, id);
    document.title = `${document.querySelector("#view h1")?.textContent || "Runs"} · coursesync`;
  } catch (err) {
    if (id === session.viewId) put(view, h("p", { class: "error", role: "alert" }, err.message));
  }
  if (id === session.viewId) document.getElementById("main").focus({ preventScroll: true });
}

session.onUnauthorized = signOut;
document.getElementById("sign-in-form").addEventListener("submit", signIn);
document.getElementById("sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
route();

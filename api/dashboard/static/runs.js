// The runs view: newest first, filtered, each with a live progress bar; the start-a-run form.

import { FINAL, IDLE_POLL_MS, api, canWrite, poll, query } from "./api.js";
import { badge, field, fmt, h, legend, put, runLink, say, select, when } from "./dom.js";

const STATES = ["queued", "running", "paused", "completed", "completed_with_errors", "failed", "cancelled"];
export const SEGMENTS = ["succeeded", "failed", "invalid", "unchanged", "excluded", "pending"];

function counts(run) {
  const c = run.counts;
  const settled = c.succeeded + c.failed + c.invalid + c.unchanged + (c.excluded || 0);
  const total = Math.max(c.total, settled + c.pending);
  const pct = total ? Math.floor((100 * settled) / total) : FINAL.has(run.state) ? 100 : 0;
  return { c, total, pct };
}

export function progress(run) {
  const { c, total, pct } = counts(run);
  const label = SEGMENTS.map((s) => `${c[s] || 0} ${s}`).join(", ");
  const bar = h("div", {
    class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
    "aria-valuenow": pct, "aria-valuetext": `${pct}% settled: ${label}`,
    "aria-label": `Progress of run ${run.run_id}`, "data-run": run.run_id,
  });
  for (const s of SEGMENTS.slice(0, 5)) {
    if (!total || !c[s]) continue;
    const seg = h("span", { class: `seg-${s}` });
    seg.style.width = `${(100 * c[s]) / total}%`; // CSSOM, not a style attribute: the CSP allows it
    bar.append(seg);
  }
  return h("div", { class: "progress-cell" }, bar,
    h("span", { class: "muted" }, `${pct}% · ${fmt(c.succeeded)} ok · ${fmt(c.failed)} failed · ${fmt(c.invalid)} invalid`));
}


export async function runsView(params, id) {
  const view = document.getElementById("view");
  const filters = h("form", { class: "row", "aria-label": "Filter runs" },
    field("f-connection", "Connection", h("input", { name: "connection", list: "connection-names", value: params.connection || "" })),
    field("f-provider", "Provider", h("input", { name: "provider", list: "provider-names", value: params.provider || "" })),
    field("f-state", "State", select("state", [["", "any"], ...STATES.map((s) => [s, s.replaceAll("_", " ")])], params.state || "")),
    h("button", { type: "submit" }, "Filter"));
  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = `#/runs${query(Object.fromEntries(new FormData(filters)))}`;
  });
  const body = h("tbody");
  const table = h("div", { class: "table-wrap" }, h("table", {},
    h("caption", { class: "sr-only" }, "Runs, newest first"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Run"), h("th", { scope: "col" }, "Connection"),
      h("th", { scope: "col", class: "hide-narrow" }, "Provider"), h("th", { scope: "col" }, "State"),
      h("th", { scope: "col" }, "Progress"), h("th", { scope: "col", class: "hide-narrow" }, "Started"))),
    body));
  const more = h("button", { type: "button", hidden: true }, "Load more runs");
  put(view, h("h1", {}, "Runs"), canWrite() ? startForm() : null, filters,
    legend(SEGMENTS), table, h("div", { class: "pager" }, more));

  const rows = new Map();
  const row = (run) => h("tr", { "data-run": run.run_id },
    h("td", {}, runLink(run.run_id)), h("td", {}, run.connection), h("td", { class: "hide-narrow" }, run.provider),
    h("td", {}, badge(run.state)), h("td", {}, progress(run)), h("td", { class: "hide-narrow" }, when(run.created_at)));
  const show = (runs, { prepend = false } = {}) => {
    const fresh = [];
    for (const run of runs) {
      const el = row(run);
      if (rows.has(run.run_id)) rows.get(run.run_id).replaceWith(el);
      else fresh.push(el);
      rows.set(run.run_id, el);
    }
    if (prepend) body.prepend(...fresh); else body.append(...fresh);
  };
  const filter = { connection: params.connection, provider: params.provider, state: params.state };
  let cursor = null;
  const load = async () => {
    const page = await api(`/runs${query({ ...filter, limit: 50, cursor })}`);
    show(page.runs);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!rows.size) body.append(h("tr", {}, h("td", { colspan: 6 }, "No runs match.")));
  };
  more.addEventListener("click", () => load().catch((e) => say(e.message)));
  await load();
  // Refresh the newest page: moving runs update in place, new ones appear on top. Quickly while
  // a run on it is open, slowly (for new runs) when none is.
  poll(id, async () => {
    const page = await api(`/runs${query({ ...filter, limit: 50 })}`);
    show(page.runs, { prepend: true });
    return page.runs.some((run) => !FINAL.has(run.state)) ? true : IDLE_POLL_MS;
  });
}

function startForm() {
  const form = h("form", { class: "stack", "aria-describedby": "start-help" },
    field("s-connection", "Connection", h("input", { name: "connection", list: "connection-names", required: true })),
    field("s-url", "Catalog URL", h("input", { name: "source_url", type: "url", placeholder: "https://…/catalog.jsonl" })),
    field("s-file", "…or upload a catalog file", h("input", { name: "file", type: "file", accept: ".jsonl,.json,.csv,.gz,.ndjson" })),
    h("p", { id: "start-help", class: "muted" }, "JSON Lines, JSON or CSV, gzipped or not."),
    h("p", { class: "error", role: "alert" }),
    h("button", { type: "submit", class: "primary" }, "Start run"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const error = form.querySelector(".error");
    error.textContent = "";
    const file = data.get("file");
    const connection = String(data.get("connection")).trim();
    try {
      let run;
      if (file && file.size) {
        run = await api(`/connections/${encodeURIComponent(connection)}/runs`, {
          method: "POST", body: file, headers: { "Content-Type": contentType(file.name) },
        });
      } else if (data.get("source_url")) {
        run = await api("/runs", { method: "POST", json: { connection, source_url: data.get("source_url") } });
      } else {
        throw new Error("give a catalog URL or choose a file");
      }
      say(`Run ${run.run_id} started.`);
      location.hash = `#/runs/${encodeURIComponent(run.run_id)}`;
    } catch (err) {
      error.textContent = `Could not start the run: ${err.message}`;
    }
  });
  return h("details", {}, h("summary", {}, "Start a run"), h("fieldset", {}, h("legend", {}, "Start a run"), form));
}

function contentType(name) {
  if (name.endsWith(".gz")) return "application/gzip";
  if (name.endsWith(".csv")) return "text/csv";
  if (name.endsWith(".json")) return "application/json";
  return "application/x-ndjson";
}

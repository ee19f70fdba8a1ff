// coursesync dashboard: one page, four views (runs, a run, connections, failures), all read
// through the /v1 API with the token typed in at sign-in. No framework, no build: the DOM is
// built with h() and data is only ever written as text (never innerHTML), which with the page's
// Content-Security-Policy keeps a hostile item id or message inert.
//
// Live updates poll: a view that shows something still moving asks again every POLL_MS, and
// stops as soon as it is left or nothing moves any more. Cheap for the API (one small request
// per open view), and no connection held open through proxies.

const POLL_MS = 1500;
const IDLE_POLL_MS = 10000;
const TOKEN_KEY = "coursesync.token";
const FINAL = new Set(["completed", "completed_with_errors", "failed", "cancelled"]);
const STATES = ["queued", "running", "paused", "completed", "completed_with_errors", "failed", "cancelled"];
const SEGMENTS = ["succeeded", "failed", "invalid", "unchanged", "pending"];

let me = null; // the token's record: name, scopes, connections
let viewId = 0; // bumped on every navigation: a poll of an older view stops itself

// ------------------------------------------------------------------ small helpers
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// replaceChildren() that skips null and false, as h() does, and flattens.
function put(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const child of children.flat(Infinity)) if (child) el.append(child);
  return el;
}

const canWrite = () => !!me && me.scopes.some((s) => s === "write" || s === "admin");
const fmt = (n) => Number(n || 0).toLocaleString("en");
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const say = (text) => { document.getElementById("status").textContent = text; };

class ApiError extends Error {
  constructor(status, doc) {
    super((doc && (doc.detail || doc.title)) || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, { method = "GET", json, body, headers = {}, token } = {}) {
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
  if (resp.status === 401 && !token) signOut("Your token is no longer valid: sign in again.");
  if (!resp.ok) throw new ApiError(resp.status, doc);
  return doc;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

// Repeats fn while the view is the current one and fn answers true (again in POLL_MS) or a
// number (again in that many ms); a hidden tab asks nothing.
function poll(id, fn) {
  const tick = async () => {
    if (id !== viewId) return;
    if (document.hidden) { setTimeout(tick, POLL_MS); return; }
    let again = false;
    try { again = await fn(); } catch (err) { say(`Update failed: ${err.message}`); again = true; }
    if (again && id === viewId) setTimeout(tick, again === true ? POLL_MS : again);
  };
  setTimeout(tick, POLL_MS);
}

// ------------------------------------------------------------------ shared pieces
function counts(run) {
  const c = run.counts;
  const settled = c.succeeded + c.failed + c.invalid + c.unchanged;
  const total = Math.max(c.total, settled + c.pending);
  const pct = total ? Math.floor((100 * settled) / total) : FINAL.has(run.state) ? 100 : 0;
  return { c, total, pct };
}

function progress(run) {
  const { c, total, pct } = counts(run);
  const label = SEGMENTS.map((s) => `${c[s] || 0} ${s}`).join(", ");
  const bar = h("div", {
    class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
    "aria-valuenow": pct, "aria-valuetext": `${pct}% settled: ${label}`,
    "aria-label": `Progress of run ${run.run_id}`, "data-run": run.run_id,
  });
  for (const s of SEGMENTS.slice(0, 4)) {
    if (!total || !c[s]) continue;
    const seg = h("span", { class: `seg-${s}` });
    seg.style.width = `${(100 * c[s]) / total}%`; // CSSOM, not a style attribute: the CSP allows it
    bar.append(seg);
  }
  return h("div", { class: "progress-cell" }, bar,
    h("span", { class: "muted" }, `${pct}% · ${fmt(c.succeeded)} ok · ${fmt(c.failed)} failed · ${fmt(c.invalid)} invalid`));
}

function legend(names, cls = "seg") {
  return h("ul", { class: "legend" }, names.map((n) => h("li", {}, h("i", { class: `${cls}-${n}` }), n)));
}

const badge = (state) => h("span", { class: `badge state-${state}` }, state.replaceAll("_", " "));
const runLink = (id, extra = "") => h("a", { href: `#/runs/${encodeURIComponent(id)}${extra}`, class: "mono" }, id);

function field(id, label, control) {
  control.id = id;
  return h("div", {}, h("label", { for: id }, label), control);
}

function select(name, options, value) {
  return h("select", { name },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
}

// ------------------------------------------------------------------ runs
async function runsView(params, id) {
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

// ------------------------------------------------------------------ one run
async function runView(runId, params, id) {
  const view = document.getElementById("view");
  const head = h("div");
  const chart = h("div");
  const batches = h("div");
  const items = h("section", { "aria-labelledby": "items-title" });
  put(view, h("p", {}, h("a", { href: "#/runs" }, "← All runs")), head,
    h("h2", {}, "Timeline"), chart, h("h2", {}, "Batches"), batches, items);

  const render = (run, timeline) => {
    put(head,
      h("h1", {}, "Run ", h("span", { class: "mono" }, run.run_id), " ", badge(run.state)),
      h("dl", { class: "facts" },
        h("dt", {}, "Connection"), h("dd", {}, run.connection),
        h("dt", {}, "Provider"), h("dd", {}, run.provider),
        h("dt", {}, "Started"), h("dd", {}, when(run.created_at)),
        h("dt", {}, "Finished"), h("dd", {}, when(run.finished_at)),
        run.reason ? [h("dt", {}, "Reason"), h("dd", {}, run.reason)] : null),
      progress(run), legend(SEGMENTS), actions(run));
    put(chart, timelineChart(timeline));
    put(batches, h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, "Batches by state"),
      h("thead", {}, h("tr", {}, Object.keys(run.batches).map((k) => h("th", { scope: "col", class: "num" }, k)))),
      h("tbody", {}, h("tr", {}, Object.values(run.batches).map((v) => h("td", { class: "num" }, fmt(v))))))));
  };
  const fetchAll = () => Promise.all([api(`/runs/${encodeURIComponent(runId)}`), api(`/runs/${encodeURIComponent(runId)}/timeline`)]);
  let [run, timeline] = await fetchAll();
  render(run, timeline);
  itemsTable(items, runId, params);
  if (!FINAL.has(run.state)) {
    poll(id, async () => {
      [run, timeline] = await fetchAll();
      render(run, timeline);
      if (FINAL.has(run.state)) itemsTable(items, runId, params); // its failures are all in now
      return !FINAL.has(run.state);
    });
  }
}

function actions(run) {
  if (!canWrite()) return null;
  const box = h("div", { class: "actions" });
  const act = async (button, path, done) => {
    button.disabled = true;
    try {
      const answer = await api(path, { method: "POST" });
      say(done(answer));
      if (answer && answer.run_id && answer.run_id !== run.run_id) location.hash = `#/runs/${answer.run_id}`;
    } catch (err) {
      say(`${button.textContent} failed: ${err.message}`);
      button.disabled = false;
    }
  };
  if (!FINAL.has(run.state) && run.cancel_requested_at) {
    box.append(h("span", { class: "badge state-cancelled" }, "cancel requested: finishing what is at the provider"));
  } else if (!FINAL.has(run.state)) {
    const cancel = h("button", { type: "button", class: "danger" }, "Cancel run");
    cancel.addEventListener("click", () => {
      if (confirm(`Cancel run ${run.run_id}? Batches not yet sent will not be sent.`)) {
        act(cancel, `/runs/${encodeURIComponent(run.run_id)}/cancel`, () => `Run ${run.run_id} is being cancelled.`);
      }
    });
    box.append(cancel);
  } else if (run.counts.failed > 0) {
    const retry = h("button", { type: "button" }, `Retry ${fmt(run.counts.failed)} failed items`);
    retry.addEventListener("click", () => act(retry, `/runs/${encodeURIComponent(run.run_id)}/retry`, (a) => `Retry run ${a.run_id} started.`));
    box.append(retry);
  }
  return box;
}

function timelineChart(timeline) {
  const pts = timeline.points;
  if (!pts.length) return h("p", { class: "muted" }, "Nothing settled or sent yet.");
  const W = 600, H = 160, pad = 24;
  const maxItems = Math.max(1, ...pts.map((p) => p.succeeded + p.failed));
  const maxReq = Math.max(1, ...pts.map((p) => p.requests));
  const bw = (W - 2 * pad) / pts.length;
  const barW = Math.max(1, Math.min(40, bw - 1)); // a short run's few buckets stay bars, not blocks
  const y = (v, max) => H - pad - ((H - 2 * pad) * v) / max;
  const bars = pts.map((p, i) => {
    const x = pad + i * bw + (bw - barW) / 2;
    const top = y(p.succeeded + p.failed, maxItems), mid = y(p.succeeded, maxItems);
    const ok = svg("rect", { x, y: mid, width: barW, height: H - pad - mid, fill: "#1a7f37" });
    const bad = svg("rect", { x, y: top, width: barW, height: mid - top, fill: "#cf222e" });
    const throttled = p.throttled ? svg("circle", { cx: x + barW / 2, cy: pad / 2, r: 4, fill: "#cf222e" }, svg("title", {}, document.createTextNode(`${p.throttled} × 429`))) : null;
    return [ok, bad, throttled];
  });
  const line = svg("polyline", {
    points: pts.map((p, i) => `${pad + i * bw + bw / 2},${y(p.requests, maxReq)}`).join(" "),
    fill: "none", stroke: "#0550ae", "stroke-width": 2,
  });
  const dots = pts.map((p, i) => svg("circle", { cx: pad + i * bw + bw / 2, cy: y(p.requests, maxReq), r: 2.5, fill: "#0550ae" }));
  const sum = (k) => pts.reduce((a, p) => a + p[k], 0);
  const label = `Timeline in ${pts.length} steps of ${timeline.bucket_s} s: ${fmt(sum("succeeded"))} items succeeded, ` +
    `${fmt(sum("failed"))} failed, ${fmt(sum("requests"))} requests, ${fmt(sum("throttled"))} answered 429.`;
  const axis = svg("line", { x1: pad, x2: W - pad, y1: H - pad, y2: H - pad, stroke: "#57606a" });
  const text = (x, t, anchor) => { const el = svg("text", { x, y: H - 6, "font-size": 11, fill: "#57606a", "text-anchor": anchor }); el.textContent = t; return el; };
  const start = new Date(pts[0].t * 1000).toLocaleTimeString();
  const end = new Date((pts[pts.length - 1].t + timeline.bucket_s) * 1000).toLocaleTimeString();
  return h("figure", {},
    svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label }, bars, line, dots, axis,
      text(pad, start, "start"), text(W - pad, end, "end")),
    h("figcaption", {}, legend(["succeeded", "failed"]),
      h("span", { class: "muted" }, `Bars: items settled per ${timeline.bucket_s} s (peak ${fmt(maxItems)}). Blue line: requests sent (peak ${fmt(maxReq)}). Red dots: 429 answers. ${label}`)));
}

function itemsTable(section, runId, params) {
  const state = params.state === "invalid" ? "invalid" : "failed";
  const stack = []; // cursors of the pages before this one
  let cursor = params.cursor || null;
  const base = (extra) => `#/runs/${encodeURIComponent(runId)}${query({ state: extra.state, code: extra.code, field: extra.field })}`;
  const tabs = h("div", { class: "actions", role: "group", "aria-label": "Which items" },
    ["failed", "invalid"].map((s) => h("a", { href: base({ state: s }), "aria-current": s === state ? "page" : null }, `${s} items`)));
  const filterNote = params.code
    ? h("p", {}, `Only items with reason `, h("code", {}, params.code), params.field ? [" on field ", h("code", {}, params.field)] : null, " · ", h("a", { href: base({ state }) }, "show all"))
    : null;
  const body = h("tbody");
  const detail = h("div", { "aria-live": "polite" });
  const prev = h("button", { type: "button", disabled: true }, "Previous page");
  const next = h("button", { type: "button", disabled: true }, "Next page");
  const where = h("span", { class: "muted" });
  put(section, h("h2", { id: "items-title" }, state === "failed" ? "Failed items" : "Invalid items"),
    tabs, filterNote,
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, `${state} items of run ${runId}`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Item"), h("th", { scope: "col" }, "Field"),
        h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Reason"))), body)),
    h("div", { class: "pager" }, prev, next, where), detail);
  let page = 1;
  const load = async () => {
    const answer = await api(`/runs/${encodeURIComponent(runId)}/items${query({ state, code: params.code, field: params.field, limit: 25, cursor })}`);
    put(body, ...answer.items.map((item) => {
      const first = item.errors[0] || {};
      const open = h("button", { type: "button", class: "link mono", "aria-controls": "item-detail" }, item.item_id);
      open.addEventListener("click", () => showItem(detail, item));
      return h("tr", {}, h("td", {}, open), h("td", {}, first.field || "—"), h("td", {}, h("code", {}, first.code || "")),
        h("td", {}, first.message || "", item.errors.length > 1 ? ` (+${item.errors.length - 1} more)` : ""));
    }));
    if (!answer.items.length) body.append(h("tr", {}, h("td", { colspan: 4 }, answer.next_cursor ? "None on this page: try the next one." : "None.")));
    where.textContent = `Page ${page}`;
    prev.disabled = !stack.length;
    next.disabled = !answer.next_cursor;
    next.onclick = () => { stack.push(cursor); cursor = answer.next_cursor; page += 1; load().catch((e) => say(e.message)); };
  };
  prev.onclick = () => { cursor = stack.pop() || null; page -= 1; load().catch((e) => say(e.message)); };
  load().catch((e) => say(e.message));
}

function showItem(detail, item) {
  put(detail, h("section", { class: "detail", id: "item-detail", tabindex: "-1", "aria-labelledby": "item-title" },
    h("h3", { id: "item-title" }, "Item ", h("span", { class: "mono" }, item.item_id)),
    item.errors.map((e) => h("dl", { class: "facts" },
      h("dt", {}, "Stage"), h("dd", {}, e.stage || "—"),
      h("dt", {}, "Field"), h("dd", {}, e.field || "—"),
      h("dt", {}, "Code"), h("dd", {}, h("code", {}, e.code || "—")),
      h("dt", {}, "Reason"), h("dd", {}, e.message || "—"),
      e.line !== undefined ? [h("dt", {}, "Line"), h("dd", {}, String(e.line))] : null))));
  detail.firstChild.focus();
}

// ------------------------------------------------------------------ connections
async function connectionsView(params, id) {
  const view = document.getElementById("view");
  const cards = h("div", { class: "cards" });
  put(view, h("h1", {}, "Connections"), cards);
  const render = async () => {
    const { connections } = await api("/connections");
    const found = await Promise.all(connections.map(async (conn) =>
      connectionCard(conn, await api(`/connections/${encodeURIComponent(conn.name)}/status`), render)));
    const focused = document.activeElement?.id;
    put(cards, ...found);
    if (!found.length) cards.append(h("p", {}, "This token sees no connection."));
    if (focused) document.getElementById(focused)?.focus();
    return true;
  };
  try {
    await render();
  } catch (err) {
    put(cards, h("p", { class: "error" }, `Could not list connections: ${err.message}`));
    return;
  }
  poll(id, async () => (await render()) && 3000); // budgets move slowly; N connections, N calls
}

function connectionCard(conn, status, rerender) {
  const name = conn.name;
  const slug = name.replace(/[^A-Za-z0-9_-]/g, "_");
  const paused = !!conn.paused;
  let toggle = null;
  if (canWrite()) {
    toggle = h("button", { type: "button", id: `toggle-${slug}`, class: paused ? "primary" : "" }, paused ? "Resume" : "Pause");
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      try {
        await api(`/connections/${encodeURIComponent(name)}/${paused ? "resume" : "pause"}`, { method: "POST" });
        say(`Connection ${name} ${paused ? "resumed" : "paused"}.`);
        await rerender();
      } catch (err) {
        say(`Could not ${paused ? "resume" : "pause"} ${name}: ${err.message}`);
        toggle.disabled = false;
      }
    });
  }
  const s = status.schedule;
  const last = status.last_run;
  return h("article", { class: "card", "aria-labelledby": `conn-${slug}`, "data-connection": name },
    h("h2", { id: `conn-${slug}` }, name, " ", paused ? h("span", { class: "badge state-paused" }, "paused") : h("span", { class: "badge state-completed" }, "active")),
    h("dl", { class: "facts" },
      h("dt", {}, "Provider"), h("dd", {}, status.provider),
      h("dt", {}, "Last run"), h("dd", {}, last ? [runLink(last.run_id), " ", badge(last.state)] : "none"),
      h("dt", {}, "Schedule"), h("dd", {}, s ? (s.every_s ? `every ${duration(s.every_s)}` : h("code", {}, s.cron)) : "none"),
      s ? [h("dt", {}, "Next due"), h("dd", {}, when(s.next_due_at))] : null),
    h("div", { class: "actions" }, toggle, h("a", { href: `#/runs${query({ connection: name })}` }, "Runs"),
      h("a", { href: `#/failures${query({ connection: name })}` }, "Failures")),
    status.budgets.map(budgetBlock));
}

function duration(s) {
  if (s % 86400 === 0) return `${s / 86400} d`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

function budgetBlock(b) {
  const member = b.members[0] || {};
  const limit = b.windows.join(" + ") || "none";
  return h("section", { "aria-label": `Budget ${b.bucket}` },
    h("h3", {}, `Budget: ${b.bucket}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Limit"), h("dd", {}, limit),
      h("dt", {}, "Learned"), h("dd", {}, member.learned_cap ? `provider's concurrency limit ${member.learned_cap}` : "nothing"),
      member.own_cap?.length ? [h("dt", {}, "Own cap"), h("dd", {}, member.own_cap.join(" + "))] : null,
      h("dt", {}, "Used"), h("dd", {}, `${fmt(b.used_last_minute)} requests in the last minute `, sparkline(b.use_per_10s)),
      h("dt", {}, "Waiting"), h("dd", {}, `${fmt(member.waiting)} batches waiting, ${fmt(member.in_flight)} in flight`),
      b.paused_s > 0 ? [h("dt", {}, "Paused"), h("dd", {}, `${b.paused_s.toFixed(1)} s more: ${b.pause_reason || "the provider said stop"}`)] : null,
      b.job_slots ? [h("dt", {}, "Job slots"), h("dd", {}, `${b.job_slots[0]} of ${b.job_slots[1]} held`)] : null));
}

function sparkline(values) {
  const W = 120, H = 24, max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(W * i) / Math.max(1, values.length - 1)},${H - 2 - ((H - 4) * v) / max}`).join(" ");
  return svg("svg", { class: "spark", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": `requests per 10 s over the last 10 minutes, peak ${max}, latest ${values[values.length - 1] || 0}` },
  svg("polyline", { points: pts, fill: "none", stroke: "#0550ae", "stroke-width": 1.5 }));
}

// ------------------------------------------------------------------ failures
async function failuresView(params) {
  const view = document.getElementById("view");
  const form = h("form", { class: "row", "aria-label": "Filter failures" },
    field("x-connection", "Connection", h("input", { name: "connection", list: "connection-names", value: params.connection || "" })),
    field("x-since", "Since", select("since", [["1", "last hour"], ["24", "last 24 hours"], ["168", "last 7 days"], ["720", "last 30 days"]], params.since || "168")),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = `#/failures${query(Object.fromEntries(new FormData(form)))}`;
  });
  const body = h("tbody");
  const note = h("p", { class: "muted" });
  put(view, h("h1", {}, "Failures by reason"), form, note,
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "sr-only" }, "Failures by reason, most frequent first"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Reason"), h("th", { scope: "col" }, "Sample message"),
        h("th", { scope: "col", class: "num" }, "Items"), h("th", { scope: "col", class: "num" }, "Runs"), h("th", { scope: "col" }, "Newest runs"))),
      body)));
  const since = new Date(Date.now() - Number(params.since || 168) * 3600 * 1000).toISOString();
  const found = await api(`/failures${query({ connection: params.connection, since })}`);
  note.textContent = `${fmt(found.runs_scanned)} runs since ${when(found.since)}${found.truncated ? " (the newest only)" : ""}.`;
  put(body, ...found.reasons.map((r) => {
    const extra = query({ state: r.stage === "validation" ? "invalid" : "failed", code: r.code, field: r.field || undefined });
    return h("tr", {},
      h("td", {}, h("code", {}, r.code), r.field ? [" on ", h("code", {}, r.field)] : null, h("div", { class: "muted" }, r.stage)),
      h("td", {}, r.message), h("td", { class: "num" }, fmt(r.count)), h("td", { class: "num" }, fmt(r.runs)),
      h("td", {}, r.run_ids.map((id) => h("div", {}, runLink(id, extra)))));
  }));
  if (!found.reasons.length) body.append(h("tr", {}, h("td", { colspan: 5 }, "No failures.")));
}

// ------------------------------------------------------------------ sign-in and routing
function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  document.getElementById("sign-in-error").textContent = message;
  route();
}

async function signIn(ev) {
  ev.preventDefault();
  const input = document.getElementById("token");
  const token = input.value.trim();
  const error = document.getElementById("sign-in-error");
  try {
    me = await api("/token", { token });
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
  const id = ++viewId;
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
  if (!me) {
    try { me = await api("/token"); } catch { return; }
    fillLists();
  }
  document.getElementById("who-name").textContent = `${me.name} (${me.scopes.join(", ")})`;
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
    if (id === viewId) put(view, h("p", { class: "error", role: "alert" }, err.message));
  }
  if (id === viewId) document.getElementById("main").focus({ preventScroll: true });
}

document.getElementById("sign-in-form").addEventListener("submit", signIn);
document.getElementById("sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
route();

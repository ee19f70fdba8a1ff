// One run: its progress, timeline, batches, failed and invalid items, retry and cancel.

import { FINAL, api, canWrite, poll, query } from "./api.js";
import { timelineChart } from "./charts.js";
import { badge, fmt, h, legend, put, say, when } from "./dom.js";
import { SEGMENTS, progress } from "./runs.js";

export async function runView(runId, params, id) {
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

// Failures by reason across runs, each linking to the runs and items of that reason.

import { api, query } from "./api.js";
import { field, fmt, h, put, runLink, select, when } from "./dom.js";

export async function failuresView(params) {
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

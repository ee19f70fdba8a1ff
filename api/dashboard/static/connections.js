// Connections: paused or not (pause and resume), last run, schedule, and their budgets.

import { api, canWrite, poll, query } from "./api.js";
import { sparkline } from "./charts.js";
import { badge, fmt, h, put, runLink, say, when } from "./dom.js";

export async function connectionsView(params, id) {
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

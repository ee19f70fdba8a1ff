// Small SVG charts: a run's timeline and a budget's sparkline, each with a text summary.

import { fmt, h, legend, svg } from "./dom.js";

export function timelineChart(timeline) {
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

export function sparkline(values) {
  const W = 120, H = 24, max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(W * i) / Math.max(1, values.length - 1)},${H - 2 - ((H - 4) * v) / max}`).join(" ");
  return svg("svg", { class: "spark", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": `requests per 10 s over the last 10 minutes, peak ${max}, latest ${values[values.length - 1] || 0}` },
  svg("polyline", { points: pts, fill: "none", stroke: "#0550ae", "stroke-width": 1.5 }));
}

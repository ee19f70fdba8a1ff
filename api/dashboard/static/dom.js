// DOM helpers: elements built with h(), data always written as text (never as HTML markup),
// which with the page's Content-Security-Policy keeps a hostile item id or message inert.

export function h(tag, attrs = {}, ...children) {
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
export function put(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const child of children.flat(Infinity)) if (child) el.append(child);
  return el;
}

export const fmt = (n) => Number(n || 0).toLocaleString("en");
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
export const say = (text) => { document.getElementById("status").textContent = text; };

export function legend(names, cls = "seg") {
  return h("ul", { class: "legend" }, names.map((n) => h("li", {}, h("i", { class: `${cls}-${n}` }), n)));
}

export const badge = (state) => h("span", { class: `badge state-${state}` }, state.replaceAll("_", " "));
export const runLink = (id, extra = "") => h("a", { href: `#/runs/${encodeURIComponent(id)}${extra}`, class: "mono" }, id);

export function field(id, label, control) {
  control.id = id;
  return h("div", {}, h("label", { for: id }, label), control);
}

export function select(name, options, value) {
  return h("select", { name },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
}


// Small shared components: element building, dialogs, toasts, progress bars, tables, formats.

/** Build an element: h("button", {class: "btn", onclick: f}, "Save"). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value" && el.tagName === "TEXTAREA") el.value = value;
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

let uid = 0;
export const nextId = (prefix = "k") => `${prefix}-${++uid}`;

// -- formats ----------------------------------------------------------------------------------

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

export const count = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString());

const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const shownDates = new Map();   // a listing's times repeat to the minute: format each once
export function when(iso) {
  if (!iso) return "—";
  const minute = String(iso).slice(0, 16);
  let text = shownDates.get(minute);
  if (text === undefined) {
    const d = new Date(iso);
    text = Number.isNaN(d.getTime()) ? String(iso) : DATE.format(d);
    if (shownDates.size > 5000) shownDates.clear();
    shownDates.set(minute, text);
  }
  return text;
}

// -- page pieces ------------------------------------------------------------------------------

export function pageHeader(title, subtitle, ...actions) {
  return h("header", { class: "page-head" },
    h("div", {}, h("h1", { tabindex: "-1" }, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    h("div", { class: "actions" }, actions));
}

export function button(label, onclick, kind = "", attrs = {}) {
  return h("button", { type: "button", class: `btn ${kind}`.trim(), onclick, ...attrs }, label);
}

export function empty(text, ...actions) {
  return h("div", { class: "empty" }, h("p", {}, text), actions.length ? h("div", { class: "actions" }, actions) : null);
}

export function loading(text = "Loading…") {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

/**
 * What `work` (a promise) answers, or undefined when it failed (its message then shown in `box`)
 * or when the page was left meanwhile (`signal` aborted).
 */
export async function shown(box, work, signal) {
  try {
    const value = await work;
    return signal?.aborted ? undefined : value;
  } catch (err) {
    if (!signal?.aborted) box.replaceChildren(errorBox(err));
    return undefined;
  }
}

export function errorBox(err) {
  return h("div", { class: "alert error", role: "alert" }, messageOf(err));
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}`.trim() }, text);
}

/** A readable message for any error: the API's own message, never a dump. */
export function messageOf(err) {
  if (!err) return "Something went wrong.";
  if (typeof err === "string") return err;
  return err.message || "Something went wrong.";
}

/** A labelled form field around `input`; `hint` is tied to it with aria-describedby. */
export function field(label, input, hint) {
  const id = input.id || (input.id = nextId("f"));
  const wrap = h("div", { class: input.type === "checkbox" ? "field check" : "field" });
  const lab = h("label", { for: id }, label);
  if (input.type === "checkbox") wrap.append(input, lab);
  else wrap.append(lab, input);
  if (hint) {
    const hid = `${id}-hint`;
    input.setAttribute("aria-describedby", hid);
    wrap.append(h("p", { class: "hint", id: hid }, hint));
  }
  return wrap;
}

/** A bar for `value` of `max` (a meter: capacity used of allocated). */
export function meter(value, max, label) {
  const pct = max > 0 ? Math.min(100, (100 * value) / max) : value > 0 ? 100 : 0;
  const fill = h("span", { class: `fill${pct >= 90 ? " hot" : ""}` });
  fill.style.width = `${pct}%`;
  return h("span", {
    class: "meter", role: "meter", "aria-label": label, "aria-valuemin": "0",
    "aria-valuemax": String(max), "aria-valuenow": String(value),
  }, fill);
}

/** A progress bar whose value is set later: bar.set(done, total). */
export function progress(label) {
  const fill = h("span", { class: "fill" });
  const bar = h("span", {
    class: "meter progress", role: "progressbar", "aria-label": label,
    "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0",
  }, fill);
  bar.set = (done, total) => {
    const pct = total > 0 ? Math.min(100, (100 * done) / total) : 100;
    fill.style.width = `${pct}%`;
    bar.setAttribute("aria-valuenow", String(Math.round(pct)));
  };
  return bar;
}

/** A table: columns [{label, cell(row) -> Node|string, class}], rows built in one fragment. */
export function table(columns, rows, { caption, empty: emptyText } = {}) {
  const body = h("tbody");
  const t = h("table", { class: "table" },
    caption ? h("caption", { class: "sr-only" }, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
    body);
  fillRows(body, columns, rows);
  if (!rows.length && emptyText) return empty(emptyText);
  return h("div", { class: "table-wrap" }, t);
}

export function fillRows(body, columns, rows) {
  const frag = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const c of columns) {
      const td = document.createElement("td");
      if (c.class) td.className = c.class;
      const v = c.cell(row);
      if (v instanceof Node) td.append(v);
      else if (Array.isArray(v)) append(td, v);
      else if (v !== undefined && v !== null) td.textContent = v;
      tr.append(td);
    }
    frag.append(tr);
  }
  body.append(frag);
}

export function copyButton(text, label = "Copy") {
  const b = button(label, async () => {
    try {
      await navigator.clipboard.writeText(typeof text === "function" ? text() : text);
      b.textContent = "Copied";
    } catch {
      b.textContent = "Select and copy";
    }
    setTimeout(() => { b.textContent = label; }, 1500);
  }, "small");
  return b;
}

/** A read-only value with a copy button (a key, a secret, a link). */
export function secretField(label, value) {
  const input = h("input", { type: "text", readonly: true, value, class: "mono", spellcheck: "false" });
  input.addEventListener("focus", () => input.select());
  const wrap = field(label, input);
  wrap.classList.add("with-copy");
  wrap.append(copyButton(value));
  return wrap;
}

// -- dialogs ----------------------------------------------------------------------------------

const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

/** Tab and Shift+Tab wrap round inside `d` (a modal makes the page inert, but Tab would leave for the browser's own bar). */
function trapTab(d) {
  d.addEventListener("keydown", (ev) => {
    if (ev.key !== "Tab") return;
    const stops = [...d.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length);
    if (!stops.length) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    const at = document.activeElement;
    if (ev.shiftKey && (at === first || !d.contains(at))) { ev.preventDefault(); last.focus(); }
    else if (!ev.shiftKey && (at === last || !d.contains(at))) { ev.preventDefault(); first.focus(); }
  });
}

/** Focus goes back where it was before the dialog opened, or to the page's heading if that is gone. */
function returnFocus(opener) {
  if (opener?.isConnected && opener !== document.body) opener.focus();
  else document.querySelector("main h1")?.focus();
}

/**
 * A modal dialog (native <dialog>: focus moves in, Tab wraps round inside, Escape closes, and
 * focus returns to what had it before). `body` is a node or
 * nodes; `actions` [{label, kind, run(dialog) -> value|Promise}] where a run that throws shows
 * its message in the dialog and keeps it open, and one that answers undefined keeps it open too.
 * Resolves with the run's value, or null. `onOpen(d)` gets the element (d.close_(value) closes).
 */
export function dialog({ title, body, actions = [], wide = false, onClose, onOpen }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const error = h("div", { class: "alert error", role: "alert", hidden: true });
    const titleId = nextId("dlg");
    const form = h("form", { method: "dialog", class: "dialog-body", novalidate: true });
    const d = h("dialog", { class: wide ? "dialog wide" : "dialog", "aria-labelledby": titleId },
      h("div", { class: "dialog-head" }, h("h2", { id: titleId }, title),
        h("button", { type: "button", class: "icon-btn", "aria-label": "Close dialog", onclick: () => close(null) }, "×")),
      form);
    append(form, [body]);
    form.append(error);
    let done = false;
    const close = (value) => {
      if (done) return;
      done = true;
      d.close();
      d.remove();
      returnFocus(opener);
      onClose?.();
      resolve(value);
    };
    d.fail = (err) => { error.textContent = messageOf(err); error.hidden = false; };
    d.close_ = close;
    const bar = h("div", { class: "dialog-actions" });
    const primary = actions.find((a) => a.kind?.includes("primary"));
    for (const a of actions) {
      const b = h("button", { type: a === primary ? "submit" : "button", class: `btn ${a.kind || ""}`.trim() }, a.label);
      if (a !== primary) b.addEventListener("click", () => run(a, b));
      bar.append(b);
    }
    form.append(bar);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (primary) run(primary, bar.querySelector("button[type=submit]"));
    });
    async function run(a, b) {
      if (!a.run) return close(a.value ?? null);
      error.hidden = true;
      b.disabled = true;
      try {
        const value = await a.run(d);
        if (value !== undefined) close(value);
      } catch (err) {
        d.fail(err);
      } finally {
        b.disabled = false;
      }
    }
    d.addEventListener("cancel", (ev) => { ev.preventDefault(); close(null); });
    trapTab(d);
    document.body.append(d);
    d.showModal();
    onOpen?.(d);
    (form.querySelector("[autofocus]") || form.querySelector("input, select, textarea, button"))?.focus();
  });
}

/** Ask for confirmation; resolves true or false. `danger` styles the button red. */
export async function confirm(title, text, { label = "OK", danger = false, run } = {}) {
  const result = await dialog({
    title, body: typeof text === "string" ? h("p", {}, text) : text,
    actions: [
      { label: "Cancel", value: false },
      { label, kind: danger ? "primary danger" : "primary", run: async (d) => { if (run) await run(d); return true; } },
    ],
  });
  return result === true;
}

// -- toasts -----------------------------------------------------------------------------------

export function toast(text, kind = "ok") {
  const box = document.getElementById("toasts");
  const t = h("div", { class: `toast ${kind}` }, text);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// Usage: capacity and object counts per bucket, and the server's request rates from /metrics.

import { api } from "./api.js";
import { bytes, count, errorBox, h, loading, pageHeader, table } from "./ui.js";

const POLL_MS = 5000;
const KEEP = 60;               // samples on the rate chart (five minutes)
const CLASSES = ["2xx", "4xx", "5xx"];
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export async function render(main, { signal }) {
  const buckets = h("section", { class: "panel", "aria-labelledby": "cap-h" }, h("h2", { id: "cap-h" }, "Capacity by bucket"), loading());
  const rates = h("section", { class: "panel", "aria-labelledby": "rate-h" }, h("h2", { id: "rate-h" }, "Requests per second"), loading("Sampling the server's metrics…"));
  const stats = h("div", { class: "stats" });
  main.append(pageHeader("Usage", "Stored bytes and objects per bucket, and the server's request rates."), stats, buckets, rates);
  const stopRates = startRates(rates, signal);
  try {
    const all = (await api("GET", "/kos/v1/buckets")).items;
    if (signal.aborted) return stopRates;
    const used = all.reduce((a, b) => a + (b.usedCapacity || 0), 0);
    const objects = all.reduce((a, b) => a + (b.objectCount || 0), 0);
    stats.replaceChildren(stat("Buckets", count(all.length)), stat("Objects", count(objects)), stat("Stored", bytes(used)));
    buckets.replaceChildren(buckets.firstChild, all.length ? capacityChart(all) : h("p", { class: "muted" }, "No buckets yet."),
      all.length ? table([
        { label: "Bucket", cell: (b) => b.name },
        { label: "Objects", class: "num", cell: (b) => count(b.objectCount) },
        { label: "Used", class: "num", cell: (b) => bytes(b.usedCapacity) },
        { label: "Quota", class: "num", cell: (b) => (b.allocatedCapacity ?? null) === null ? "none" : bytes(b.allocatedCapacity) },
      ], all, { caption: "Capacity by bucket" }) : "");
  } catch (err) {
    buckets.replaceChildren(buckets.firstChild, errorBox(err));
  }
  return stopRates;
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

/** Horizontal bars: each bucket's used bytes (over its quota, when it has one). */
function capacityChart(list) {
  const top = [...list].sort((a, b) => (b.usedCapacity || 0) - (a.usedCapacity || 0)).slice(0, 12);
  const max = Math.max(1, ...top.map((b) => Math.max(b.usedCapacity || 0, b.allocatedCapacity || 0)));
  const row = 26;
  const width = 640;
  const labelW = 150;
  const valueW = 120;
  const barW = width - labelW - valueW;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${top.length * row + 4}`, role: "img",
    "aria-label": `Used capacity of the ${top.length} largest buckets` });
  top.forEach((b, i) => {
    const y = i * row + 4;
    const name = b.name.length > 22 ? `${b.name.slice(0, 21)}…` : b.name;
    chart.append(svg("text", { x: 0, y: y + 13 }, name));
    if (b.allocatedCapacity) chart.append(svg("rect", { class: "bar quota", x: labelW, y, height: 16, rx: 3, width: Math.max(2, (barW * b.allocatedCapacity) / max) }));
    chart.append(svg("rect", { class: "bar", x: labelW, y, height: 16, rx: 3, width: Math.max(2, (barW * (b.usedCapacity || 0)) / max) }));
    chart.append(svg("text", { x: labelW + barW + 8, y: y + 13 }, `${bytes(b.usedCapacity)} · ${count(b.objectCount)} obj`));
  });
  return chart;
}

// -- request rates --------------------------------------------------------------------------

/** Totals by status class from Prometheus text: {"2xx": n, ...}. */
export function parseRequests(text) {
  const totals = Object.fromEntries(CLASSES.map((c) => [c, 0]));
  for (const line of text.split("\n")) {
    const m = /^kosha_http_requests_total\{[^}]*status="(\d)\d\d"[^}]*\}\s+([0-9.e+]+)/.exec(line);
    if (m && `${m[1]}xx` in totals) totals[`${m[1]}xx`] += Number(m[2]);
  }
  return totals;
}

function startRates(panel, signal) {
  const samples = [];
  let last = null;
  const tick = async () => {
    let text;
    try {
      text = await api("GET", "/metrics");
    } catch (err) {
      panel.replaceChildren(panel.firstChild, errorBox(err));
      return;
    }
    if (signal.aborted) return;
    const now = Date.now();
    const totals = parseRequests(text);
    if (last) {
      const dt = (now - last.at) / 1000;
      samples.push({ at: now, rates: Object.fromEntries(CLASSES.map((c) => [c, Math.max(0, (totals[c] - last.totals[c]) / dt)])) });
      if (samples.length > KEEP) samples.shift();
    }
    last = { at: now, totals };
    panel.replaceChildren(panel.firstChild, samples.length ? rateChart(samples) : h("p", { class: "muted" }, "Measuring: the first rate appears in a few seconds."),
      h("ul", { class: "legend" }, CLASSES.map((c) => h("li", {}, h("span", { class: `dot s${c}` }), `${c}: ${(samples.at(-1)?.rates[c] ?? 0).toFixed(1)}/s`)),
        h("li", {}, `total since start: ${count(Object.values(totals).reduce((a, b) => a + b, 0))}`)));
  };
  tick();
  const first = setTimeout(tick, 1000);   // a first rate after a second, then every POLL_MS
  const every = setInterval(tick, POLL_MS);
  return () => { clearTimeout(first); clearInterval(every); };
}

function rateChart(samples) {
  const width = 640;
  const height = 180;
  const pad = { l: 40, r: 8, t: 8, b: 20 };
  const max = Math.max(1, ...samples.flatMap((s) => CLASSES.map((c) => s.rates[c])));
  const x = (i) => pad.l + ((width - pad.l - pad.r) * i) / Math.max(1, KEEP - 1);
  const y = (v) => height - pad.b - ((height - pad.t - pad.b) * v) / max;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Requests per second over the last ${Math.round((samples.length * POLL_MS) / 1000)} seconds; latest ${CLASSES.map((c) => `${c} ${samples.at(-1).rates[c].toFixed(1)}`).join(", ")}` });
  for (const f of [0, 0.5, 1]) {
    chart.append(svg("line", { class: "grid", x1: pad.l, x2: width - pad.r, y1: y(max * f), y2: y(max * f) }));
    chart.append(svg("text", { x: 4, y: y(max * f) + 4 }, (max * f).toFixed(max < 10 ? 1 : 0)));
  }
  chart.append(svg("line", { class: "axis", x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b }));
  chart.append(svg("text", { x: pad.l, y: height - 4 }, `${Math.round((KEEP * POLL_MS) / 60000)} min ago`));
  chart.append(svg("text", { x: width - pad.r - 24, y: height - 4 }, "now"));
  const offset = KEEP - samples.length;
  for (const c of CLASSES) {
    const points = samples.map((s, i) => `${x(offset + i).toFixed(1)},${y(s.rates[c]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { class: `s${c}`, points }));
    const last = samples.length - 1;
    chart.append(svg("circle", { class: `s${c} dot-end`, r: 3, cx: x(offset + last).toFixed(1), cy: y(samples[last].rates[c]).toFixed(1) }));
  }
  return chart;
}

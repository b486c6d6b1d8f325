// Lifecycle rules of a bucket: create, edit, delete, and a preview of what they will remove.

import { api, bucketPath } from "./api.js";
import { link, rerender } from "./router.js";
import {
  badge, button, bytes, confirm, count, dialog, empty, field, h, loading, pageHeader, shown, table, toast, when,
} from "./ui.js";

const WINDOWS = [7, 30, 90, 365];
const rulesPath = (bucket) => `${bucketPath(bucket)}/lifecycle-rules`;

export async function render(main, { query, signal }) {
  const picker = h("select", { "aria-label": "Bucket" });
  const body = h("div", {}, loading());
  main.append(pageHeader("Lifecycle rules", "Expire objects and old versions, and abort forgotten uploads, automatically."), body);
  const buckets = (await shown(body, api("GET", "/kos/v1/buckets"), signal))?.items;
  if (!buckets) return;
  if (!buckets.length) {
    body.replaceChildren(empty("Create a bucket first: rules belong to a bucket.", h("a", { class: "btn primary", href: "#/buckets" }, "Go to buckets")));
    return;
  }
  const bucket = buckets.some((b) => b.name === query.bucket) ? query.bucket : buckets[0].name;
  for (const b of buckets) picker.append(h("option", { value: b.name, selected: b.name === bucket }, b.name));
  picker.addEventListener("change", () => { location.hash = link("/lifecycle", {}, { bucket: picker.value }); });
  const rules = h("div", {}, loading());
  const preview = h("section", { class: "panel", "aria-labelledby": "preview-h" });
  body.replaceChildren(
    h("div", { class: "toolbar" }, field("Bucket", picker), h("div", { class: "grow" }),
      button("Add rule", () => edit(bucket, null), "primary")),
    rules, preview);
  await Promise.all([showRules(bucket, rules), showPreview(bucket, preview, Number(query.days) || 30)]);
}

async function showRules(bucket, box) {
  const list = await shown(box, api("GET", rulesPath(bucket)));
  if (!list) return;
  box.replaceChildren(list.length ? table([
    { label: "Rule", cell: (r) => h("span", {}, h("strong", {}, r.name), r.prefix ? h("div", { class: "muted small mono" }, `prefix ${r.prefix}`) : h("div", { class: "muted small" }, "whole bucket")) },
    { label: "Status", cell: (r) => badge(r.enabled ? "enabled" : "disabled", r.enabled ? "ok" : "") },
    { label: "Does", cell: (r) => describe(r) },
    { label: "Actions", class: "row-actions", cell: (r) => h("span", {},
      button("Edit", () => edit(bucket, r), "small", { "aria-label": `Edit rule ${r.name}` }),
      button("Delete", () => remove(bucket, r), "small danger", { "aria-label": `Delete rule ${r.name}` })) },
  ], list, { caption: `Lifecycle rules of ${bucket}` }) : empty("No rules: objects stay until deleted.", button("Add a rule", () => edit(bucket, null), "primary")));
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function describe(r) {
  const parts = [];
  if (r.expiration_days !== null && r.expiration_days !== undefined) parts.push(`Expires current objects after ${plural(r.expiration_days, "day")}.`);
  if (r.noncurrent_days !== null && r.noncurrent_days !== undefined) {
    parts.push(`Removes noncurrent versions after ${plural(r.noncurrent_days, "day")}${r.newer_noncurrent_versions ? `, keeping the newest ${r.newer_noncurrent_versions}` : ""}.`);
  }
  if (r.expired_obj_delete_marker) parts.push("Removes expired delete markers.");
  if (r.delete_incomplete_mpu !== null && r.delete_incomplete_mpu !== undefined) parts.push(`Aborts incomplete uploads after ${plural(r.delete_incomplete_mpu, "day")}.`);
  return h("span", { class: "small" }, parts.join(" ") || "Nothing.");
}

function dayInput(value) {
  return h("input", { type: "number", min: "0", step: "1", inputmode: "numeric", value: value ?? "" });
}

async function edit(bucket, rule) {
  const name = h("input", { type: "text", value: rule?.name || "", autofocus: true });
  const prefix = h("input", { type: "text", value: rule?.prefix || "", class: "mono", placeholder: "logs/" });
  const enabled = h("input", { type: "checkbox", checked: rule ? rule.enabled : true });
  const expiration = dayInput(rule?.expiration_days);
  const noncurrent = dayInput(rule?.noncurrent_days);
  const keep = dayInput(rule?.newer_noncurrent_versions);
  const mpu = dayInput(rule?.delete_incomplete_mpu);
  const markers = h("input", { type: "checkbox", checked: Boolean(rule?.expired_obj_delete_marker) });
  const days = (input, label) => {
    if (input.value === "") return null;
    const n = Number(input.value);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${label} must be a whole number of days, 0 or more.`);
    return n;
  };
  const saved = await dialog({
    title: rule ? `Edit rule ${rule.name}` : "Add lifecycle rule",
    body: [
      h("div", { class: "row" }, field("Name", name), field("Prefix (optional)", prefix, "Only keys starting with it.")),
      field("Enabled", enabled),
      h("div", { class: "row" },
        field("Expire current objects after (days)", expiration),
        field("Abort incomplete uploads after (days)", mpu)),
      h("div", { class: "row" },
        field("Remove noncurrent versions after (days)", noncurrent),
        field("…but keep this many newest", keep)),
      field("Remove delete markers left with no versions behind them", markers),
      h("p", { class: "muted small" }, "Leave a field empty for no such action. A rule needs at least one action."),
    ],
    actions: [{ label: "Cancel" }, { label: rule ? "Save rule" : "Add rule", kind: "primary", run: () => {
      const json = {
        name: name.value.trim(), prefix: prefix.value, enabled: enabled.checked,
        expiration_days: days(expiration, "Expiry"), noncurrent_days: days(noncurrent, "Noncurrent days"),
        newer_noncurrent_versions: days(keep, "Versions kept"), delete_incomplete_mpu: days(mpu, "Upload abort"),
        expired_obj_delete_marker: markers.checked,
      };
      if (!json.name) throw new Error("Give the rule a name.");
      return rule ? api("PUT", `${rulesPath(bucket)}/${encodeURIComponent(rule.id)}`, { json }) : api("POST", rulesPath(bucket), { json });
    } }],
  });
  if (saved) {
    toast(rule ? "Rule saved." : "Rule added.");
    rerender();
  }
}

async function remove(bucket, rule) {
  if (await confirm(`Delete rule ${rule.name}?`, "Objects it would have expired will stay.", {
    label: "Delete rule", danger: true, run: () => api("DELETE", `${rulesPath(bucket)}/${encodeURIComponent(rule.id)}`),
  })) {
    toast("Rule deleted.");
    rerender();
  }
}

// -- preview --------------------------------------------------------------------------------

async function showPreview(bucket, box, days) {
  const windowPick = h("select", { "aria-label": "Preview window" }, WINDOWS.map((d) => h("option", { value: d, selected: d === days }, `next ${d} days`)));
  windowPick.addEventListener("change", () => { location.hash = link("/lifecycle", {}, { bucket, days: windowPick.value }); });
  const content = h("div", {}, loading("Computing the preview…"));
  box.replaceChildren(h("h2", { id: "preview-h" }, "Preview", windowPick), content);
  const answer = await shown(content, api("GET", `${rulesPath(bucket)}/preview`, { query: { days } }));
  if (!answer) return;
  if (!answer.rules.length) {
    content.replaceChildren(h("p", { class: "muted" }, "Add a rule to see what it would remove."));
    return;
  }
  content.replaceChildren(h("p", { class: "muted small" }, `As of ${when(answer.asOf)}: what one run of the expiry worker at the end of each day would remove, rule by rule (an object two rules cover counts under both).`),
    ...answer.rules.map(ruleForecast));
}

function totalsLine(t) {
  const parts = [];
  if (t.objects) parts.push(`${count(t.objects)} objects (${bytes(t.bytes)})`);
  if (t.noncurrentVersions) parts.push(`${count(t.noncurrentVersions)} noncurrent versions (${bytes(t.noncurrentBytes)})`);
  if (t.deleteMarkers) parts.push(`${count(t.deleteMarkers)} delete markers`);
  if (t.uploads) parts.push(`${count(t.uploads)} incomplete uploads (${bytes(t.uploadBytes)})`);
  return parts.join(", ");
}

const KIND = { object: "object", noncurrentVersion: "noncurrent version", deleteMarker: "delete marker", upload: "incomplete upload" };

function ruleForecast(r) {
  const total = totalsLine(r.totals || {});
  return h("section", { class: "preview-rule", "aria-label": `Preview of rule ${r.name}` },
    h("h3", {}, r.name, " ", r.enabled ? null : badge("disabled")),
    h("p", {}, r.enabled ? (total ? `Will remove ${total}.` : "Nothing due in this window.") : "Disabled: removes nothing."),
    r.timeline?.length ? table([
      { label: "Day", class: "nowrap", cell: (d) => d.date },
      { label: "Removes", cell: (d) => totalsLine(d) },
    ], r.timeline, { caption: `Days of rule ${r.name}` }) : null,
    r.sample?.length ? h("details", { class: "help" }, h("summary", {}, `The ${r.sample.length} soonest items`),
      table([
        { label: "Key", cell: (s) => h("span", { class: "mono small" }, s.key) },
        { label: "What", cell: (s) => KIND[s.kind] || s.kind },
        { label: "Size", class: "num", cell: (s) => bytes(s.size) },
        { label: "Due", class: "nowrap", cell: (s) => when(s.dueAt) },
      ], r.sample)) : null);
}

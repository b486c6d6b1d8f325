// Buckets: the list with capacity bars and object counts, create, and delete.

import { api, bucketPath, me } from "./api.js";
import { link, rerender } from "./router.js";
import {
  badge, button, bytes, count, dialog, empty, field, h, loading, meter, pageHeader, shown, table, toast, when,
} from "./ui.js";

const PAGE_SIZE = 50;
export const REGIONS = ["In-Bangalore-1", "In-Hyderabad-1"];
export const TIERS = ["tier-1", "tier-2"];
const QUOTA_UNITS = { MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

export async function render(main, { query, signal }) {
  const page = Math.max(1, Number(query.page) || 1);
  const filter = h("input", { type: "search", placeholder: "Filter by name", "aria-label": "Filter buckets by name", value: query.q || "" });
  filter.addEventListener("change", () => { location.hash = link("/buckets", {}, { q: filter.value.trim() }); });
  const body = h("div", {}, loading());
  main.append(
    pageHeader("Buckets", "Containers for your objects, each in one region.", button("Create bucket", () => createBucket(), "primary")),
    h("div", { class: "toolbar" }, h("div", { class: "grow" }, filter)),
    body);
  const answer = await shown(body, api("GET", "/kos/v1/buckets", { query: { page, page_size: PAGE_SIZE, name_filter: query.q } }), signal);
  if (!answer) return;
  if (!answer.items.length) {
    body.replaceChildren(query.q ? empty(`No bucket matches “${query.q}”.`)
      : empty("You have no buckets yet.", button("Create your first bucket", () => createBucket(), "primary")));
    return;
  }
  body.replaceChildren(bucketTable(answer.items), pager(answer, query) || "");
}

function bucketTable(items) {
  return table([
    { label: "Name", cell: (b) => h("div", {}, h("a", { href: link("/buckets/:bucket", { bucket: b.name }), class: "strong" }, b.name),
      b.description ? h("div", { class: "muted small" }, b.description) : null) },
    { label: "Region", class: "hide-phone", cell: (b) => h("span", {}, b.region, h("div", { class: "muted small" }, b.tier)) },
    { label: "Objects", class: "num", cell: (b) => count(b.objectCount) },
    { label: "Capacity", cell: capacity },
    { label: "Features", class: "hide-phone", cell: features },
    { label: "Created", class: "nowrap hide-phone", cell: (b) => when(b.createdAt) },
    { label: "Actions", class: "row-actions hide-phone", cell: (b) => h("span", {},
      h("a", { class: "btn small", href: link("/buckets/:bucket/settings", { bucket: b.name }), "aria-label": `Settings of ${b.name}` }, "Settings"),
      button("Delete", () => deleteBucket(b.name), "small danger", { "aria-label": `Delete ${b.name}` })) },
  ], items, { caption: "Buckets" });
}

export function capacity(b) {
  const used = b.usedCapacity || 0;
  const quota = b.allocatedCapacity;
  if (quota === null || quota === undefined) return h("div", { class: "capacity" }, h("span", {}, bytes(used)), h("span", { class: "muted small" }, "no quota"));
  return h("div", { class: "capacity" },
    meter(used, quota, `${b.name}: ${bytes(used)} used of ${bytes(quota)}`),
    h("span", { class: "muted small" }, `${bytes(used)} of ${bytes(quota)}`));
}

function features(b) {
  return h("span", { class: "actions" },
    b.versioning ? badge("versioned", "accent") : null,
    b.anonymous_access ? badge("public read", "warn") : null,
    !b.versioning && !b.anonymous_access ? h("span", { class: "muted" }, "—") : null);
}

function pager(answer, query) {
  if (answer.totalPages <= 1) return null;
  const at = answer.currentPage;
  const to = (p) => link("/buckets", {}, { q: query.q, page: p });
  return h("nav", { class: "more", "aria-label": "Pages" }, h("div", { class: "actions" },
    at > 1 ? h("a", { class: "btn small", href: to(at - 1) }, "Previous") : null,
    h("span", { class: "muted" }, `Page ${at} of ${answer.totalPages}`),
    answer.nextPage ? h("a", { class: "btn small", href: to(answer.nextPage) }, "Next") : null));
}

/** Tags typed as "key=value" lines; throws a readable message on a bad line. */
export function parseTags(text) {
  const tags = {};
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at <= 0) throw new Error(`Tag line ${i + 1} must look like key=value.`);
    tags[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return tags;
}

export const formatTags = (tags) => Object.entries(tags || {}).map(([k, v]) => `${k}=${v}`).join("\n");

/** The unit a quota of `n` bytes reads best in: the largest it is a whole number of, else GiB. */
function unitOf(n) {
  for (const u of ["TiB", "GiB", "MiB"]) if (n >= QUOTA_UNITS[u] && n % QUOTA_UNITS[u] === 0) return u;
  return n >= QUOTA_UNITS.TiB ? "TiB" : n >= QUOTA_UNITS.GiB || !n ? "GiB" : "MiB";
}

/**
 * A quota: a number and its unit (MiB, GiB, TiB). `.bytes()` answers the bytes, null when left
 * empty, and throws a readable message for a negative number; `.changed()` says whether it differs
 * from `current` (so an unchanged quota is not rounded through its unit).
 */
export function quotaInput(label, current, hint) {
  const start = current ?? null;
  const u0 = unitOf(start || 0);
  const shown = start === null ? "" : String(+(start / QUOTA_UNITS[u0]).toFixed(3));
  const input = h("input", { type: "number", min: "0", step: "any", inputmode: "decimal", value: shown });
  const unit = h("select", { "aria-label": "Quota unit" }, Object.keys(QUOTA_UNITS).map((u) => h("option", { value: u, selected: u === u0 }, u)));
  const wrap = field(label, input, hint);
  input.after(unit);
  wrap.classList.add("quota");
  const bytes = () => {
    if (input.value.trim() === "") return null;
    const n = Number(input.value);
    if (!Number.isFinite(n) || n < 0) throw new Error("The quota must be a number, 0 or more.");
    return Math.round(n * QUOTA_UNITS[unit.value]);
  };
  return { field: wrap, input, unit, bytes, changed: () => input.value !== shown || unit.value !== u0 };
}

function options(values, blank) {
  return [blank ? h("option", { value: "" }, blank) : null, ...values.map((v) => h("option", { value: v }, v))];
}

async function createBucket() {
  const name = h("input", { type: "text", required: true, autofocus: true, spellcheck: "false", autocapitalize: "off", pattern: "[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]" });
  const region = h("select", {}, options(REGIONS, "Server default"));
  const tier = h("select", {}, options(TIERS, "Region default"));
  const description = h("input", { type: "text" });
  const versioning = h("input", { type: "checkbox" });
  const anonymous = h("input", { type: "checkbox" });
  const quota = quotaInput("Quota (optional)", null, "Writes past the quota are refused. Leave empty for none.");
  const tags = h("textarea", { rows: 3, placeholder: "team=data\nenv=prod" });
  const created = await dialog({
    title: "Create bucket",
    body: [
      field("Name", name, "3–63 lowercase letters, digits, dots and hyphens; unique on this server."),
      h("div", { class: "row" }, field("Region", region), field("Tier", tier)),
      field("Description", description),
      quota.field,
      field("Versioning: keep earlier versions of overwritten and deleted objects", versioning),
      field("Anonymous access: anyone may read and list this bucket without signing in", anonymous),
      field("Tags", tags, "One key=value per line."),
    ],
    actions: [
      { label: "Cancel" },
      { label: "Create bucket", kind: "primary", run: async () => {
        const body = { name: name.value.trim(), versioning: versioning.checked, anonymous_access: anonymous.checked, tags: parseTags(tags.value) };
        if (!body.name) throw new Error("Enter a bucket name.");
        if (region.value) body.region = region.value;
        if (tier.value) body.tier = tier.value;
        if (description.value.trim()) body.description = description.value.trim();
        const allocated = quota.bytes();
        if (allocated !== null) body.allocatedCapacity = allocated;
        return api("POST", "/kos/v1/buckets", { json: body });
      } },
    ],
  });
  if (created) {
    toast(`Bucket ${created.name} created.`);
    location.hash = link("/buckets/:bucket", { bucket: created.name });
  }
}

/** Ask, then delete; the API's refusal (not empty, wrong code) is shown in the dialog. */
export async function deleteBucket(name, after = rerender) {
  const otp = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "8", class: "mono" });
  const typed = h("input", { type: "text", spellcheck: "false", autocapitalize: "off", autofocus: true });
  const done = await dialog({
    title: `Delete bucket ${name}?`,
    body: [
      h("p", {}, "A bucket can be deleted only when it holds no objects (and no earlier versions of them). This cannot be undone."),
      field(`Type ${name} to confirm`, typed),
      me.mfa_enabled ? field("One-time code from your authenticator", otp, "This account has multi-factor authentication.") : null,
    ],
    actions: [
      { label: "Cancel" },
      { label: "Delete bucket", kind: "primary danger", run: async () => {
        if (typed.value.trim() !== name) throw new Error(`Type the bucket's name, ${name}, to confirm.`);
        await api("DELETE", bucketPath(name), { json: me.mfa_enabled ? { otp: otp.value.trim() } : {} });
        return true;
      } },
    ],
  });
  if (done) {
    toast(`Bucket ${name} deleted.`);
    after();
  }
}

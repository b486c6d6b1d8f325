// A bucket's settings: quota, versioning, anonymous access, tags, the S3 address allow-list, deletion.

import { ApiError, api, bucketPath } from "./api.js";
import { capacity, deleteBucket, formatTags, parseTags, quotaInput } from "./buckets.js";
import { link } from "./router.js";
import { badge, button, bytes, count, errorBox, field, h, loading, pageHeader, shown, toast, when } from "./ui.js";

const POLICY = (name) => `/kos/v1/buckets/policy/${encodeURIComponent(name)}`;

export async function render(main, { params, signal }) {
  const name = params.bucket;
  const body = h("div", {}, loading());
  main.append(
    h("ol", { class: "crumbs" }, h("li", {}, h("a", { href: "#/buckets" }, "Buckets")),
      h("li", {}, h("a", { href: link("/buckets/:bucket", { bucket: name }) }, name)), h("li", { "aria-current": "page" }, "Settings")),
    pageHeader(`Settings of ${name}`, null,
      h("a", { class: "btn", href: link("/buckets/:bucket", { bucket: name }) }, "Browse objects"),
      h("a", { class: "btn", href: link("/lifecycle", {}, { bucket: name }) }, "Lifecycle rules")),
    body);
  const found = await shown(body, Promise.all([api("GET", bucketPath(name)), api("GET", POLICY(name)).catch((err) => {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  })]), signal);
  if (!found) return;
  const [bucket, policy] = found;
  let top = summary(bucket);
  const saved = (b) => { const next = summary(b); top.replaceWith(next); top = next; };
  body.replaceChildren(top, h("div", { class: "grid-2" }, general(bucket, saved), allowList(name, policy)), danger(name));
}

function summary(b) {
  const stat = (label, value, size = "") => h("div", { class: "stat" }, h("div", { class: "label" }, label), h("div", { class: `value ${size}` }, value));
  return h("div", {},
    h("div", { class: "stats" },
      stat("Objects", count(b.objectCount)),
      h("div", { class: "stat" }, h("div", { class: "label" }, "Capacity"), capacity(b)),
      stat("Region", b.region, "smaller"), stat("Created", when(b.createdAt), "smaller")),
    h("div", { class: "panel" }, h("dl", { class: "meta" },
      h("dt", {}, "KRN"), h("dd", { class: "mono" }, b.krnid),
      h("dt", {}, "S3 endpoint"), h("dd", { class: "mono" }, b.url),
      h("dt", {}, "Tier"), h("dd", {}, b.tier || "—"),
      h("dt", {}, "Description"), h("dd", {}, b.description || "—"))));
}

/** A quota below what is stored is allowed (it refuses new writes, removes nothing): say so. */
function quotaWarning(quota, used) {
  const note = h("div", { class: "alert warn", role: "status", hidden: true });
  const check = () => {
    let n = null;
    try { n = quota.bytes(); } catch { n = null; }
    note.hidden = n === null || n >= used;
    note.textContent = note.hidden ? "" : `This is below the ${bytes(used)} already stored: new writes will be refused until objects are deleted or the quota is raised. Nothing is removed.`;
  };
  quota.input.addEventListener("input", check);
  quota.unit.addEventListener("change", check);
  check();
  return note;
}

function general(b, saved) {
  const quota = quotaInput("Quota", b.allocatedCapacity, "Writes past the quota are refused. Leave empty for none.");
  const warning = quotaWarning(quota, b.usedCapacity || 0);
  const versioning = h("input", { type: "checkbox", checked: b.versioning });
  const anonymous = h("input", { type: "checkbox", checked: b.anonymous_access });
  const tags = h("textarea", { rows: 4, value: formatTags(b.tags), placeholder: "team=data" });
  const error = h("div", {});
  const save = button("Save settings", async () => {
    error.replaceChildren();
    save.disabled = true;
    try {
      const json = { versioning: versioning.checked, anonymous_access: anonymous.checked, tags: parseTags(tags.value) };
      if (quota.changed()) json.allocatedCapacity = quota.bytes();
      saved(await api("PUT", bucketPath(b.name), { json }));
      toast("Settings saved.");
    } catch (err) {
      error.replaceChildren(errorBox(err));
    } finally {
      save.disabled = false;
    }
  }, "primary");
  return h("section", { class: "panel", "aria-labelledby": "general-h" },
    h("h2", { id: "general-h" }, "General"),
    quota.field, warning,
    field("Versioning: keep earlier versions of overwritten and deleted objects", versioning),
    field("Anonymous access: anyone may read and list without signing in", anonymous),
    field("Tags", tags, "One key=value per line."),
    error, h("div", { class: "actions" }, save));
}

function allowList(name, policy) {
  const rw = h("textarea", { rows: 3, placeholder: "10.0.0.0/8\n2001:db8::/32", value: (policy?.s3_read_write_ips || []).join("\n") });
  const ro = h("textarea", { rows: 3, placeholder: "203.0.113.7", value: (policy?.s3_read_only_ips || []).join("\n") });
  const state = h("p", {});
  const error = h("div", {});
  let exists = Boolean(policy);
  const remove = button("Remove allow-list", () => act("DELETE"), "danger");
  const showState = () => {
    state.replaceChildren(exists ? badge("active", "ok") : badge("none"), " ",
      exists ? "S3 traffic to this bucket comes only from the addresses below." : "S3 traffic may come from any address.");
    remove.hidden = !exists;
  };
  const lines = (t) => t.value.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
  async function act(method) {
    error.replaceChildren();
    try {
      if (method === "DELETE") await api("DELETE", POLICY(name));
      else await api(exists ? "PUT" : "POST", POLICY(name), { json: { s3_read_write_ips: lines(rw), s3_read_only_ips: lines(ro) } });
      exists = method !== "DELETE";
      if (!exists) { rw.value = ""; ro.value = ""; }
      toast(exists ? "Allow-list saved." : "Allow-list removed.");
      showState();
    } catch (err) {
      error.replaceChildren(errorBox(err));
    }
  }
  showState();
  return h("section", { class: "panel", "aria-labelledby": "allow-h" },
    h("h2", { id: "allow-h" }, "S3 address allow-list"), state,
    field("Read and write from", rw, "Addresses or CIDR ranges (IPv4 or IPv6), one per line."),
    field("Read only from", ro),
    error, h("div", { class: "actions" }, button("Save allow-list", () => act("SAVE"), "primary"), remove));
}

function danger(name) {
  return h("section", { class: "panel", "aria-labelledby": "danger-h" },
    h("h2", { id: "danger-h" }, "Delete this bucket"),
    h("p", { class: "muted" }, "Only an empty bucket can be deleted."),
    button("Delete bucket…", () => deleteBucket(name, () => { location.hash = "#/buckets"; }), "danger"));
}

// The object browser: folders and breadcrumbs, one page of a listing at a time, uploads by
// picker or drag and drop, deleting objects and whole folders, and each object's details,
// versions, share link, rename and delete.

import { ApiError, api, bucketPath } from "./api.js";
import { link } from "./router.js";
import {
  badge, button, bytes, confirm, dialog, empty, errorBox, field, h, loading, pageHeader, secretField, shown, table, toast, when,
} from "./ui.js";
import { deleteEntries } from "./deletes.js";
import { droppedEntries, onSettled, pickedEntries, upload } from "./uploads.js";

const PAGE = 1000;
const SHARE_EXPIRY = [["15 minutes", 900], ["1 hour", 3600], ["1 day", 86400], ["7 days", 604800]];

export async function render(main, { params, query, signal }) {
  const bucket = params.bucket;
  const prefix = query.prefix || "";
  const filterText = query.q || "";
  const view = { bucket, prefix, items: [], selected: new Set(), folders: new Set(), token: null, signal };
  const here = (extra = {}) => link("/buckets/:bucket", { bucket }, { prefix, ...extra });

  const files = h("input", { type: "file", multiple: true, class: "sr-only", tabindex: "-1", "aria-hidden": "true", id: "pick-files" });
  const folder = h("input", { type: "file", multiple: true, class: "sr-only", tabindex: "-1", "aria-hidden": "true", webkitdirectory: true, id: "pick-folder", "data-upload-folder": "" });
  for (const input of [files, folder]) {
    input.addEventListener("change", () => {
      if (input.files.length) upload(bucket, prefix, pickedEntries(input));
      input.value = "";
    });
  }
  const filter = h("input", { type: "search", value: filterText, placeholder: "Filter by name prefix", "aria-label": "Filter this folder by name prefix" });
  filter.addEventListener("change", () => { location.hash = here({ q: filter.value }); });
  const deleteSelected = button("Delete selected", () => removeMany(view, [...view.selected]), "danger", { disabled: true });
  view.onSelect = () => {
    deleteSelected.disabled = !view.selected.size;
    deleteSelected.textContent = view.selected.size ? `Delete selected (${view.selected.size})` : "Delete selected";
  };
  view.status = h("p", { class: "muted small", "aria-live": "polite" });
  view.body = h("div", { role: "rowgroup", class: "grid-body" });
  view.more = h("div", { class: "more" });
  const all = h("input", { type: "checkbox", "aria-label": "Select everything shown" });
  all.addEventListener("change", () => {
    for (const box of view.body.querySelectorAll("input[type=checkbox]")) box.checked = all.checked;
    view.selected = all.checked ? new Set(view.items.map((i) => i.key)) : new Set();
    view.onSelect();
  });
  // A grid of divs with table roles, not a <table>: rows off screen skip style and layout
  // (content-visibility), so a page of 1,000 keys renders as fast as the rows that show.
  const tableEl = h("div", { class: "table-wrap" }, h("div", { class: "grid-table", role: "table", "aria-label": `Objects in ${bucket}/${prefix}` },
    h("div", { role: "rowgroup" }, h("div", { role: "row", class: "grid-row head" },
      h("span", { role: "columnheader", class: "check" }, all), h("span", { role: "columnheader" }, "Name"),
      h("span", { role: "columnheader", class: "num" }, "Size"), h("span", { role: "columnheader", class: "hide-phone" }, "Last modified"),
      h("span", { role: "columnheader", class: "row-actions" }, h("span", { class: "sr-only" }, "Actions")))),
    view.body));
  view.body.addEventListener("click", (ev) => onRowClick(view, ev));
  view.body.addEventListener("change", (ev) => {
    const box = ev.target.closest("input[type=checkbox]");
    if (!box) return;
    if (box.checked) view.selected.add(box.dataset.key); else view.selected.delete(box.dataset.key);
    view.onSelect();
  });
  const zone = h("div", { class: "dropzone" }, tableEl, view.more);
  view.list = h("div", {}, loading());
  main.append(
    crumbs(bucket, prefix),
    pageHeader(prefix ? prefix.slice(0, -1).split("/").pop() || bucket : bucket, null,
      button("Upload files", () => files.click(), "primary"),
      button("Upload folder", () => folder.click()),
      button("New folder", () => newFolder(view)),
      h("a", { class: "btn", href: link("/buckets/:bucket/settings", { bucket }) }, "Settings")),
    files, folder,
    h("div", { class: "toolbar" }, h("div", { class: "grow" }, filter), deleteSelected,
      button("Refresh", () => reload(view))),
    view.status, view.list);
  view.zone = zone;
  view.reload = () => reload(view);
  dragAndDrop(main, zone, bucket, prefix);
  api("GET", bucketPath(bucket)).then((b) => { view.versioned = b.versioning; }, () => {});   // for the delete dialog's wording
  const unsubscribe = onSettled((b) => { if (b === bucket) reload(view); });
  await loadPage(view, filterText);
  return unsubscribe;
}

function crumbs(bucket, prefix) {
  const parts = prefix.split("/").filter(Boolean);
  const items = [h("li", {}, h("a", { href: "#/buckets" }, "Buckets")),
    h("li", {}, parts.length ? h("a", { href: link("/buckets/:bucket", { bucket }) }, bucket) : h("span", { "aria-current": "page" }, bucket))];
  parts.forEach((part, i) => {
    const p = `${parts.slice(0, i + 1).join("/")}/`;
    items.push(h("li", {}, i === parts.length - 1 ? h("span", { "aria-current": "page" }, part)
      : h("a", { href: link("/buckets/:bucket", { bucket }, { prefix: p }) }, part)));
  });
  return h("nav", { "aria-label": "Breadcrumbs" }, h("ol", { class: "crumbs" }, items));
}

function dragAndDrop(main, zone, bucket, prefix) {
  let depth = 0;
  main.addEventListener("dragenter", (ev) => { if (ev.dataTransfer?.types.includes("Files")) { depth++; zone.classList.add("dragging"); } });
  main.addEventListener("dragleave", () => { if (--depth <= 0) { depth = 0; zone.classList.remove("dragging"); } });
  main.addEventListener("dragover", (ev) => { if (ev.dataTransfer?.types.includes("Files")) ev.preventDefault(); });
  main.addEventListener("drop", async (ev) => {
    ev.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    const entries = await droppedEntries(ev.dataTransfer);
    if (entries.length) upload(bucket, prefix, entries);
  });
}

// -- listing, one page at a time ----------------------------------------------------------------

async function loadPage(view, filterText = view.filterText || "") {
  view.filterText = filterText;
  const generation = view.generation;
  const answer = await shown(view.list, api("GET", `${bucketPath(view.bucket)}/objects`, {
    query: { prefix: view.prefix + filterText, max_keys: PAGE, continuation_token: view.token },
  }), view.signal);
  if (!answer || generation !== view.generation) return;   // a reload began meanwhile: its answer draws
  const first = view.items.length === 0;
  const start = view.items.length;
  view.items.push(...answer.objects);
  view.token = answer.isTruncated ? answer.nextContinuationToken : null;
  if (first && !answer.objects.length) {
    view.list.replaceChildren(empty(filterText ? `Nothing here starts with “${filterText}”.` : "This folder is empty. Drop files or folders here, or use Upload."));
    view.list.append(view.zone);
    view.zone.hidden = true;
    view.status.textContent = "";
    return;
  }
  view.zone.hidden = false;
  if (first) view.list.replaceChildren(view.zone);
  appendRows(view, answer.objects, start);
  view.status.textContent = `${view.items.length.toLocaleString()} ${view.items.length === 1 ? "item" : "items"} shown${view.token ? ", more in this folder" : ""}.`;
  view.more.replaceChildren(view.token ? button("Load more", async (ev) => {
    ev.target.disabled = true;
    ev.target.textContent = "Loading…";
    await loadPage(view);
  }) : "");
}

function reload(view) {
  view.generation = (view.generation || 0) + 1;
  view.items = [];
  view.token = null;
  view.selected.clear();
  view.folders.clear();
  view.onSelect();
  view.body.replaceChildren();
  return loadPage(view);
}

/** Rows for 1,000 entries in one fragment, one listener for all of them (see onRowClick). */
function appendRows(view, entries, start) {
  const frag = document.createDocumentFragment();
  const cut = view.prefix.length;
  entries.forEach((item, n) => {
    const i = start + n;
    const tr = cell("div", "grid-row", "row");
    tr.dataset.objectRow = "";
    const check = cell("span", "check");
    const name = item.key.slice(cut) || item.key;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.dataset.key = item.key;
    box.setAttribute("aria-label", item.isFolder ? `Select folder ${name}` : `Select ${name}`);
    check.append(box);
    const wrap = cell("span", "name-cell");
    const kind = document.createElement("span");
    kind.className = item.isFolder ? "kind folder" : "kind";
    kind.setAttribute("aria-hidden", "true");
    wrap.append(kind);
    if (item.isFolder) {
      view.folders.add(item.key);
      const a = document.createElement("a");
      a.href = link("/buckets/:bucket", { bucket: view.bucket }, { prefix: item.key });
      a.textContent = name;
      wrap.append(a);
    } else {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "btn link";
      b.dataset.act = "open";
      b.dataset.i = i;
      b.textContent = name;
      wrap.append(b);
    }
    const size = cell("span", "num");
    size.textContent = item.isFolder ? "—" : bytes(item.size);
    const modified = cell("span", "nowrap hide-phone");
    modified.textContent = item.isFolder ? "" : when(item.lastModified);
    const actions = cell("span", "row-actions");
    const acts = item.isFolder ? [["delete", "Delete", "btn small danger", `Delete folder ${name}`]]
      : [["download", "Download", "btn small", `Download ${name}`], ["delete", "Delete", "btn small danger", `Delete ${name}`]];
    for (const [act, label, cls, aria] of acts) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = cls;
      b.dataset.act = act;
      b.dataset.i = i;
      b.textContent = label;
      b.setAttribute("aria-label", aria);
      actions.append(b);
    }
    tr.append(check, wrap, size, modified, actions);
    frag.append(tr);
  });
  view.body.append(frag);
}

function cell(tag, className, role = "cell") {
  const el = document.createElement(tag);
  el.className = className;
  el.setAttribute("role", role);
  return el;
}

function onRowClick(view, ev) {
  const b = ev.target.closest("button[data-act]");
  if (!b) return;
  const item = view.items[Number(b.dataset.i)];
  if (b.dataset.act === "open") details(view, item.key);
  else if (b.dataset.act === "download") download(view.bucket, item.key);
  else if (b.dataset.act === "delete") removeMany(view, [item.key]);
}

// -- actions --------------------------------------------------------------------------------------

const objectsPath = (bucket, op) => `${bucketPath(bucket)}/objects/${op}`;

export async function download(bucket, key, versionId) {
  try {
    const answer = await api("POST", objectsPath(bucket, "download"), { json: { objectkey: key, versionId } });
    const a = h("a", { href: answer.preSignedUrl, target: "_blank", rel: "noopener noreferrer", download: key.split("/").pop() });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (err) {
    toast(err.message, "error");
  }
}

/** Delete the entries `keys` (objects, and folders with everything under them), then redraw. */
async function removeMany(view, keys) {
  if (!keys.length) return;
  const folders = keys.filter((k) => view.folders.has(k));
  const objects = keys.filter((k) => !view.folders.has(k));
  const { deleted, total, stopped } = await deleteEntries(view.bucket, objects, folders, view.versioned);
  if (stopped && deleted) toast(`Stopped: ${deleted.toLocaleString()} of ${total.toLocaleString()} objects deleted.`);
  else if (!stopped) toast(total === 1 ? "Object deleted." : `${total.toLocaleString()} objects deleted.`);
  if (deleted) reload(view);
}

async function newFolder(view) {
  const name = h("input", { type: "text", autofocus: true, spellcheck: "false" });
  const made = await dialog({
    title: "New folder",
    body: [field("Folder name", name, "A folder is a shared key prefix: it appears once something is uploaded into it.")],
    actions: [{ label: "Cancel" }, { label: "Open folder", kind: "primary", run: () => {
      const n = name.value.trim().replace(/^\/+|\/+$/g, "");
      if (!n) throw new Error("Enter a folder name.");
      return n;
    } }],
  });
  if (made) location.hash = link("/buckets/:bucket", { bucket: view.bucket }, { prefix: `${view.prefix}${made}/` });
}

/** An object's metadata and versions, with every action on it. */
async function details(view, key) {
  const meta = h("div", {}, loading());
  const versions = h("div", {}, loading());
  const closeWith = async (fn) => { d?.close_(null); await fn(); };
  let d = null;
  const body = [meta,
    h("div", { class: "actions" },
      button("Download", () => download(view.bucket, key), "primary"),
      button("Share link…", () => closeWith(() => share(view.bucket, key))),
      button("Rename or move…", () => closeWith(() => moveOrCopy(view, key, "move"))),
      button("Copy…", () => closeWith(() => moveOrCopy(view, key, "copy"))),
      button("Delete", () => closeWith(() => removeMany(view, [key])), "danger")),
    h("h3", { class: "versions-title" }, "Versions"), versions];
  fillMeta(view.bucket, key, meta);
  fillVersions(view, key, versions);
  await dialog({ title: key.split("/").pop() || key, body, wide: true, actions: [{ label: "Close", kind: "primary" }], onOpen: (el) => { d = el; } });
}

async function fillMeta(bucket, key, box) {
  try {
    const m = await api("POST", objectsPath(bucket, "metadata"), { json: { objectkey: key } });
    box.replaceChildren(h("dl", { class: "meta" },
      h("dt", {}, "Key"), h("dd", { class: "mono" }, m.key),
      h("dt", {}, "Size"), h("dd", {}, `${bytes(m.size_bytes)} (${Number(m.size_bytes).toLocaleString()} bytes)`),
      h("dt", {}, "Type"), h("dd", {}, m.contentType),
      h("dt", {}, "Last modified"), h("dd", {}, when(m.lastModified)),
      h("dt", {}, "ETag"), h("dd", { class: "mono" }, m.etag),
      h("dt", {}, "Storage class"), h("dd", {}, m.storage_class || "STANDARD"),
      h("dt", {}, "Version"), h("dd", { class: "mono" }, m.versionId || "—")));
  } catch (err) {
    box.replaceChildren(errorBox(err));
  }
}

async function fillVersions(view, key, box) {
  let answer;
  try {
    answer = await api("GET", `${bucketPath(view.bucket)}/objects/versions`, { query: { key, max_keys: 100 } });
  } catch (err) {
    box.replaceChildren(err instanceof ApiError && err.status === 404 ? h("p", { class: "muted" }, "No version history.") : errorBox(err));
    return;
  }
  const refill = () => { box.replaceChildren(loading()); fillVersions(view, key, box); };
  const act = async (label, run) => {
    try { await run(); toast(label); refill(); view.reload(); } catch (err) { toast(err.message, "error"); }
  };
  box.replaceChildren(table([
    { label: "Version", cell: (v) => h("span", { class: "mono small" }, v.versionId) },
    { label: "State", cell: (v) => v.isDeleteMarker ? badge("delete marker", "warn") : v.isLatest ? badge("current", "ok") : badge("noncurrent") },
    { label: "Size", class: "num", cell: (v) => (v.isDeleteMarker ? "—" : bytes(v.size_bytes)) },
    { label: "Modified", class: "nowrap", cell: (v) => when(v.lastModified) },
    { label: "Actions", class: "row-actions", cell: (v) => h("span", {},
      !v.isLatest && !v.isDeleteMarker ? button("Restore", () => act("Version restored.", () =>
        api("POST", objectsPath(view.bucket, "restore"), { json: { objectkey: key, versionId: v.versionId } })), "small") : null,
      !v.isDeleteMarker ? button("Download", () => download(view.bucket, key, v.versionId), "small") : null,
      button("Delete", async () => {
        if (await confirm("Delete this version permanently?", `Version ${v.versionId} of ${key} will be gone for good.`, { label: "Delete version", danger: true })) {
          act("Version deleted.", () => api("POST", objectsPath(view.bucket, "delete"), { json: { objectkey: key, versionId: v.versionId } }));
        }
      }, "small danger")) },
  ], answer.versions, { caption: `Versions of ${key}`, empty: "No versions." }),
  answer.isTruncated ? h("p", { class: "muted small" }, "Only the 100 newest versions are shown.") : "");
}

async function share(bucket, key) {
  const expiry = h("select", {}, SHARE_EXPIRY.map(([label, s]) => h("option", { value: s, selected: s === 86400 }, label)));
  const result = h("div", {});
  await dialog({
    title: `Share ${key.split("/").pop()}`,
    body: [h("p", { class: "muted" }, "Anyone with the link can download this object until it expires. The link is signed with your access key and stops working if the key is deleted."),
      field("Link valid for", expiry), result],
    actions: [{ label: "Close" }, { label: "Create link", kind: "primary", run: async () => {
      const expiresIn = Number(expiry.value);
      const answer = await api("POST", objectsPath(bucket, "download"), { json: { objectkey: key, expiresIn } });
      result.replaceChildren(secretField("Share link", answer.preSignedUrl),
        h("p", { class: "muted small" }, `Expires ${when(new Date(Date.now() + expiresIn * 1000).toISOString())}.`));
      return undefined;
    } }],
  });
}

async function moveOrCopy(view, key, mode) {
  const target = h("input", { type: "text", value: key, autofocus: true, spellcheck: "false", class: "mono" });
  const done = await dialog({
    title: mode === "copy" ? "Copy object" : "Rename or move object",
    body: [field(mode === "copy" ? "Copy to key" : "New key", target, "The full key: change the part before a “/” to move it to another folder.")],
    actions: [{ label: "Cancel" }, { label: mode === "copy" ? "Copy" : "Rename", kind: "primary", run: async () => {
      const to = target.value.trim();
      if (!to || to === key) throw new Error("Enter a different key.");
      if (mode === "copy") await api("POST", objectsPath(view.bucket, "move"), { json: { sourceKey: key, destinationKey: to, action: "copy" } });
      else await api("POST", objectsPath(view.bucket, "rename"), { json: { oldKey: key, newKey: to } });
      return to;
    } }],
  });
  if (done) {
    toast(mode === "copy" ? `Copied to ${done}.` : `Renamed to ${done}.`);
    reload(view);
  }
}

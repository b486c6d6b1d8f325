// Uploads from the browser, with a progress bar per file and overall, and cancel.
//
// Files under 16 MiB go by the form upload (PUT .../objects, multipart/form-data; key = prefix +
// file name), several requests in flight and small files batched several to a request: a file
// name may hold "/", so a folder's files share one request whatever their sub-folder. Larger
// files (and names a browser would escape in a form) go by the REST multipart extension: parts of
// 8 MiB or more, three in flight, each retried, and cancel aborts the upload on the server.

import { api, bucketPath, send } from "./api.js";
import { bytes, button, h, progress } from "./ui.js";

const MiB = 2 ** 20;
const FORM_LIMIT = 16 * MiB;
const BATCH_BYTES = 8 * MiB;
const BATCH_FILES = 64;
const SLOTS = 5;              // requests in flight: a browser opens 6 per host; one stays for the page
const PART_SIZE = 8 * MiB;
const MAX_PARTS = 10000;
const PARTS_IN_FLIGHT = 3;
const PART_TRIES = 4;

const queue = [];
const listeners = new Set();
let active = 0;
let panel = null;
let dirty = new Set();
let frame = 0;
let shown = 0;               // items whose row is in the list
let building = false;
const ROWS_PER_FRAME = 250;

/** Notify `fn(bucket)` whenever a bucket's uploads have all finished; returns an unsubscribe. */
export function onSettled(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Upload `entries` ([{file, path}], path relative to `prefix`) into `bucket` under `prefix`. */
export function upload(bucket, prefix, entries) {
  ensurePanel();
  for (const { file, path } of entries) {
    const size = file.size;
    queue.push({
      bucket, prefix, file, path, key: prefix + path, size, loaded: 0, state: "queued", message: "",
      direct: size >= FORM_LIMIT || /["\r\n\\]/.test(path), abort: null, el: null,
    });
  }
  panel.root.hidden = false;
  pump();
  buildRows();
}

/** The files' rows, a few hundred a frame: the first requests go out before the list is built. */
function buildRows() {
  if (building) return;
  building = true;
  requestAnimationFrame(function more() {
    const frag = document.createDocumentFragment();
    for (let n = 0; n < ROWS_PER_FRAME && shown < queue.length; n++, shown++) {
      const item = queue[shown];
      item.el = itemRow(item);
      frag.append(item.el.row);
      dirty.add(item);
    }
    panel.list.append(frag);
    draw();
    if (shown < queue.length) requestAnimationFrame(more);
    else building = false;
  });
}

// -- scheduling -------------------------------------------------------------------------------

function pump() {
  while (active < SLOTS) {
    const job = nextJob();
    if (!job) break;
    active++;
    job().finally(() => {
      active--;
      pump();
      settle();
    });
  }
  refresh();
}

function nextJob() {
  const first = queue.find((i) => i.state === "queued");
  if (!first) return null;
  if (first.direct) {
    mark(first, "uploading");
    return () => uploadParts(first);
  }
  const batch = [];
  let size = 0;
  for (const item of queue) {
    if (item.state !== "queued" || item.direct || item.bucket !== first.bucket || item.prefix !== first.prefix) continue;
    if (batch.length && (size + item.size > BATCH_BYTES || batch.length >= BATCH_FILES)) break;
    batch.push(item);
    size += item.size;
  }
  for (const item of batch) mark(item, "uploading");
  return () => uploadForm(batch);
}

function settle() {
  const buckets = new Set(queue.filter((i) => i.state === "done").map((i) => i.bucket));
  if (queue.some((i) => i.state === "queued" || i.state === "uploading")) return;
  for (const b of buckets) for (const fn of listeners) fn(b);
}

// -- the two ways up --------------------------------------------------------------------------

async function uploadForm(batch) {
  const form = new FormData();
  form.append("prefix", batch[0].prefix);
  for (const item of batch) form.append("file", item.file, item.path);
  const controller = new AbortController();
  for (const item of batch) item.abort = () => controller.abort();
  const offsets = [];
  let total = 0;
  for (const item of batch) { offsets.push(total); total += item.size; }
  try {
    await send("PUT", `${bucketPath(batch[0].bucket)}/objects`, form, {
      signal: controller.signal,
      onProgress: (loaded) => batch.forEach((item, i) => setLoaded(item, Math.max(0, Math.min(item.size, loaded - offsets[i])))),
    });
    for (const item of batch) finish(item);
  } catch (err) {
    for (const item of batch) {
      if (item.state === "cancelled") continue;
      if (controller.signal.aborted) { setLoaded(item, 0); mark(item, "queued"); } // a sibling was cancelled: go again
      else fail(item, err);
    }
  }
}

function partSize(size) {
  return Math.max(PART_SIZE, Math.ceil(size / MAX_PARTS / MiB) * MiB);
}

async function uploadParts(item) {
  const base = `${bucketPath(item.bucket)}/uploads`;
  const controller = new AbortController();
  item.abort = () => controller.abort();
  let uploadId = null;
  try {
    const created = await api("POST", base, { json: { objectkey: item.key, contentType: item.file.type || undefined } });
    uploadId = created.uploadId;
    if (controller.signal.aborted) throw new Error("Cancelled.");
    const size = partSize(item.size);
    const count = Math.max(1, Math.ceil(item.size / size));
    const parts = new Array(count);
    const loaded = new Array(count).fill(0);
    const path = `${base}/${encodeURIComponent(uploadId)}/parts/`;
    let next = 0;
    const worker = async () => {
      while (next < count && !controller.signal.aborted) {
        const i = next++;
        const blob = item.file.slice(i * size, Math.min(item.size, (i + 1) * size));
        const onProgress = (n) => { loaded[i] = n; setLoaded(item, loaded.reduce((a, b) => a + b, 0)); };
        const answer = await withRetries(() => send("PUT", path + (i + 1), blob, {
          signal: controller.signal, onProgress, headers: { "Content-Type": "application/octet-stream" },
        }), controller.signal, () => onProgress(0));
        parts[i] = { partNumber: i + 1, etag: answer.etag };
        onProgress(blob.size);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, count) }, worker));
    if (controller.signal.aborted) throw new Error("Cancelled.");
    await api("POST", `${base}/${encodeURIComponent(uploadId)}/complete`, { json: { parts } });
    finish(item);
  } catch (err) {
    if (uploadId) api("DELETE", `${base}/${encodeURIComponent(uploadId)}`).catch(() => {});
    if (item.state !== "cancelled") fail(item, err);
  }
}

async function withRetries(attempt, signal, reset) {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      const lasting = err.status >= 400 && err.status < 500 && ![408, 429].includes(err.status);
      if (signal.aborted || lasting || err.status === -1 || tries >= PART_TRIES) throw err;
      reset();
      await new Promise((r) => setTimeout(r, 400 * 2 ** tries));
    }
  }
}

// -- state and display ------------------------------------------------------------------------

function mark(item, state, message = "") {
  item.state = state;
  item.message = message;
  touch(item);
}

function setLoaded(item, n) {
  item.loaded = n;
  touch(item);
}

function finish(item) {
  item.loaded = item.size;
  mark(item, "done");
}

function fail(item, err) {
  mark(item, "failed", err?.message || "Failed.");
}

function cancel(item) {
  if (item.state !== "queued" && item.state !== "uploading") return;
  const running = item.state === "uploading";
  mark(item, "cancelled", "Cancelled.");
  if (running) item.abort?.();
  refresh();
  settle();
}

function touch(item) {
  dirty.add(item);
  if (!frame) frame = requestAnimationFrame(draw);
}

function draw() {
  frame = 0;
  for (const item of dirty) {
    if (!item.el) continue;
    const { row, bar, state, stop } = item.el;
    bar.set(item.loaded, item.size);
    row.className = `upload-item ${item.state}`;
    state.textContent = item.state === "uploading" ? `${bytes(item.loaded)} of ${bytes(item.size)}`
      : item.state === "queued" ? "Waiting" : item.state === "done" ? "Uploaded" : item.message;
    stop.hidden = item.state !== "queued" && item.state !== "uploading";
  }
  dirty = new Set();
  refresh();
}

function itemRow(item) {
  const bar = progress(`Upload of ${item.path}`);
  const state = h("span", { class: "state" }, "Waiting");
  const stop = h("button", { type: "button", class: "icon-btn", "aria-label": `Cancel ${item.path}`, onclick: () => cancel(item) }, "×");
  const row = h("li", { class: "upload-item queued" }, h("span", { class: "name" }, item.key), stop, bar, state);
  return { row, bar, state, stop };
}

function refresh() {
  if (!panel) return;
  let size = 0;
  let loaded = 0;
  const counts = { queued: 0, uploading: 0, done: 0, failed: 0, cancelled: 0 };
  for (const item of queue) {
    counts[item.state]++;
    if (item.state === "cancelled") continue;
    size += item.size;
    loaded += item.state === "done" ? item.size : item.loaded;
  }
  const running = counts.queued + counts.uploading;
  panel.bar.set(loaded, size);
  panel.root.dataset.uploadsDone = counts.done;
  panel.title.textContent = running ? `Uploading ${running} of ${queue.length} files` : `Uploads finished`;
  panel.summary.textContent = [`${bytes(loaded)} of ${bytes(size)}`, `${counts.done} uploaded`,
    counts.failed ? `${counts.failed} failed` : "", counts.cancelled ? `${counts.cancelled} cancelled` : ""].filter(Boolean).join(" · ");
  panel.cancelAll.hidden = !running;
  panel.close.hidden = Boolean(running);
}

function ensurePanel() {
  if (panel) return;
  const title = h("span", { id: "uploads-title" }, "Uploads");
  const summary = h("span", { class: "muted small", "aria-live": "polite" });
  const bar = progress("All uploads");
  const list = h("ul", { class: "uploads-list", "aria-label": "Files" });
  const cancelAll = button("Cancel all", () => queue.slice().forEach(cancel), "small danger");
  const close = button("Close", () => {
    root.hidden = true;
    queue.length = 0;
    shown = 0;
    list.replaceChildren();
  }, "small");
  const root = h("section", { class: "uploads", "aria-labelledby": "uploads-title", hidden: true },
    h("div", { class: "uploads-head" }, h("div", { class: "title" }, title, h("span", { class: "actions" }, cancelAll, close)), bar, summary),
    list);
  document.body.append(root);
  panel = { root, title, summary, bar, list, cancelAll, close };
}

// -- reading what was dropped or picked --------------------------------------------------------

/** Files from a drop, folders walked recursively: [{file, path}]. */
export async function droppedEntries(dataTransfer) {
  const roots = [...dataTransfer.items].filter((i) => i.kind === "file").map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  if (!roots.length) return [...dataTransfer.files].map((file) => ({ file, path: file.name }));
  const out = [];
  const walk = async (entry, base) => {
    if (entry.isFile) {
      const file = await new Promise((ok, no) => entry.file(ok, no));
      out.push({ file, path: base + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((ok, no) => reader.readEntries(ok, no));
        if (!batch.length) break;
        for (const child of batch) await walk(child, `${base}${entry.name}/`);
      }
    }
  };
  for (const entry of roots) await walk(entry, "");
  return out;
}

/** Files from an <input type=file> (with webkitdirectory, each keeps its folder path). */
export function pickedEntries(input) {
  return [...input.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

// Uploads from the browser, with progress overall and per file, and cancel.
//
// Files under 16 MiB go by the form upload (PUT .../objects, multipart/form-data; key = prefix +
// file name), SLOTS requests in flight and small files batched several to a request: a file
// name may hold "/", so a folder's files share one request whatever their sub-folder. Towards the
// end of a set the batches shrink, so that every slot stays busy until the last file. Larger
// files (and names a browser would escape in a form) go by the REST multipart extension: parts
// of 8 MiB or more, three in flight, each retried, and cancel aborts the upload on the server.
//
// A picked file's size is read when it is first needed (reading it asks the browser's own
// process, a fraction of a millisecond each): the first requests go out at once, and the rest
// of a large set is sized in the background. Nothing here walks the whole queue per request.

import { api, bucketPath, send } from "./api.js";
import { uploadPanel } from "./upload-panel.js";

const MiB = 2 ** 20;
const FORM_LIMIT = 16 * MiB;
const BATCH_BYTES = 8 * MiB;
const BATCH_FILES = 64;
const MIN_BATCH_FILES = 4;
const SLOTS = 6;              // requests in flight: what a browser opens to one host
const PART_SIZE = 8 * MiB;
const MAX_PARTS = 10000;
const PARTS_IN_FLIGHT = 3;
const PART_TRIES = 4;
const SIZES_PER_TASK = 25;        // a task blocks ~0.4 ms per size: keep each short
const NEEDS_PARTS = /["\r\n\\]/;   // names a browser would escape in a form field

const queue = [];
const listeners = new Set();
const counts = { queued: 0, uploading: 0, done: 0, failed: 0, cancelled: 0 };
const bytesOf = { size: 0, loaded: 0 };   // of the items not cancelled whose size is known
const settledBuckets = new Set();
let head = 0;                // no item before this index is queued
let sizedUpTo = 0;           // every item before this index has its size read
let sizing = false;
let active = 0;
let panel = null;

/** Notify `fn(bucket)` whenever a bucket's uploads have all finished; returns an unsubscribe. */
export function onSettled(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Upload `entries` ([{file, path}], path relative to `prefix`) into `bucket` under `prefix`. */
export function upload(bucket, prefix, entries) {
  performance.mark("upload:start");
  panel ??= uploadPanel(queue, { stats, cancel, clear });
  for (const { file, path } of entries) {
    queue.push({
      index: queue.length, bucket, prefix, file, path, key: prefix + path, size: undefined, loaded: 0,
      state: "queued", message: "", direct: undefined, abort: null, el: null,
    });
  }
  counts.queued += entries.length;
  pump();
  panel.grown();
  sizeInBackground();
}

function stats() {
  return { counts, size: bytesOf.size, loaded: bytesOf.loaded, sizing: sizedUpTo < queue.length };
}

/** The item, with its size (and so its way up) known. */
function sized(item) {
  if (item.size === undefined) {
    item.size = item.file.size;
    item.direct = item.size >= FORM_LIMIT || NEEDS_PARTS.test(item.path);
    if (item.state !== "cancelled") bytesOf.size += item.size;
  }
  return item;
}

function sizeInBackground() {
  if (sizing) return;
  sizing = true;
  setTimeout(function some() {
    const end = Math.min(queue.length, sizedUpTo + SIZES_PER_TASK);
    for (; sizedUpTo < end; sizedUpTo++) sized(queue[sizedUpTo]);
    panel.changed();
    if (sizedUpTo < queue.length) setTimeout(some, 0);
    else sizing = false;
  }, 0);
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
  panel?.changed();
}

function nextJob() {
  while (head < queue.length && queue[head].state !== "queued") head++;
  if (head >= queue.length) return null;
  const first = sized(queue[head]);
  if (first.direct) {
    mark(first, "uploading");
    return () => uploadParts(first);
  }
  // Whole batches while many wait; smaller ones at the end, so that no slot idles meanwhile.
  const files = Math.max(MIN_BATCH_FILES, Math.min(BATCH_FILES, Math.ceil(counts.queued / SLOTS)));
  const batch = [];
  let size = 0;
  for (let i = head; i < queue.length && batch.length < files; i++) {
    const item = queue[i];
    if (item.state !== "queued" || item.bucket !== first.bucket || item.prefix !== first.prefix) continue;
    if (sized(item).direct) continue;
    if (batch.length && size + item.size > BATCH_BYTES) break;
    batch.push(item);
    size += item.size;
  }
  for (const item of batch) mark(item, "uploading");
  return () => uploadForm(batch);
}

function settle() {
  if (counts.queued || counts.uploading) return;
  performance.mark("upload:settled");
  const buckets = [...settledBuckets];
  settledBuckets.clear();
  for (const b of buckets) for (const fn of listeners) fn(b);
}

function clear() {
  queue.length = 0;
  for (const k of Object.keys(counts)) counts[k] = 0;
  bytesOf.size = 0;
  bytesOf.loaded = 0;
  head = 0;
  sizedUpTo = 0;
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

// -- state ------------------------------------------------------------------------------------

function mark(item, state, message = "") {
  counts[item.state]--;
  counts[state]++;
  if (state === "queued") head = Math.min(head, item.index);
  if (state === "cancelled") {
    bytesOf.loaded -= item.loaded;
    if (item.size !== undefined) bytesOf.size -= item.size;
  }
  item.state = state;
  item.message = message;
  panel.touch(item);
}

function setLoaded(item, n) {
  if (item.state !== "cancelled") bytesOf.loaded += n - item.loaded;
  item.loaded = n;
  panel.touch(item);
}

function finish(item) {
  setLoaded(item, item.size);
  settledBuckets.add(item.bucket);
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
  settle();
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

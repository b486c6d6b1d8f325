// Deleting objects and whole folders from the object browser. A folder is a key prefix: its keys
// are listed page by page (sub-folders walked), counted for the confirmation, then deleted a few
// requests at a time with a progress bar. Closing the dialog stops the listing or the deleting.

import { api, bucketPath } from "./api.js";
import { count, dialog, h, progress } from "./ui.js";

const PAGE = 1000;
const IN_FLIGHT = 4;

/** Every key under the folders `prefixes` (sub-folders included), listed a page at a time. */
async function keysUnder(bucket, prefixes, signal, onCount) {
  const keys = [];
  const pending = [...prefixes];
  while (pending.length) {
    const prefix = pending.pop();
    let token = null;
    do {
      const page = await api("GET", `${bucketPath(bucket)}/objects`, {
        query: { prefix, max_keys: PAGE, continuation_token: token }, signal,
      });
      for (const entry of page.objects) {
        if (entry.isFolder) pending.push(entry.key);
        else keys.push(entry.key);
      }
      token = page.isTruncated ? page.nextContinuationToken : null;
      onCount(keys.length);
    } while (token);
  }
  return keys;
}

/** Delete `keys`, IN_FLIGHT at a time; a key already gone counts as deleted. */
async function deleteKeys(bucket, keys, signal, onDeleted) {
  const failed = [];
  let next = 0;
  let deleted = 0;
  const worker = async () => {
    while (next < keys.length && !signal.aborted) {
      const key = keys[next++];
      try {
        await api("POST", `${bucketPath(bucket)}/objects/delete`, { json: { objectkey: key }, signal });
        deleted++;
      } catch (err) {
        if (err.status === 404) deleted++;
        else if (!signal.aborted) failed.push({ key, message: err.message });
      }
      onDeleted(deleted);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, keys.length) }, worker));
  return { deleted, failed };
}

/** Calls `fn` at most once a frame with the latest value. */
function throttled(fn) {
  let pending = null;
  return (value) => {
    if (pending === null) requestAnimationFrame(() => { fn(pending); pending = null; });
    pending = value;
  };
}

function title(objects, folders) {
  if (!folders.length) return objects.length === 1 ? `Delete “${objects[0]}”?` : `Delete ${count(objects.length)} objects?`;
  if (!objects.length && folders.length === 1) return `Delete folder “${folders[0]}”?`;
  const parts = [folders.length === 1 ? "1 folder" : `${count(folders.length)} folders`];
  if (objects.length) parts.push(objects.length === 1 ? "1 object" : `${count(objects.length)} objects`);
  return `Delete ${parts.join(" and ")}?`;
}

const plural = (n) => (n === 1 ? "1 object" : `${count(n)} objects`);

/**
 * Ask, then delete the objects `objects` and everything under the folders `folders` of `bucket`.
 * Resolves with {deleted, total, stopped}: `stopped` when the dialog was closed part-way.
 */
export async function deleteEntries(bucket, objects, folders, versioned) {
  const controller = new AbortController();
  const status = h("p", { "aria-live": "polite" });
  const bar = progress("Objects deleted");
  bar.hidden = true;
  let keys = folders.length ? null : objects;
  let total = keys ? keys.length : 0;
  let deleted = 0;
  let submit = null;
  const counted = (n) => { if (!keys) status.textContent = `Counting the objects in ${folders.length === 1 ? folders[0] : `${count(folders.length)} folders`}… ${count(n)} so far.`; };
  const drawDeleted = throttled((n) => {
    bar.set(n, total);
    status.textContent = `Deleted ${count(n)} of ${plural(total)}.`;
  });
  const note = versioned === false ? "This cannot be undone."
    : "In a versioned bucket the current version becomes noncurrent and can be restored from the object's versions; otherwise this cannot be undone.";
  const done = await dialog({
    title: title(objects, folders),
    body: [status, bar, h("p", { class: "muted" }, note)],
    onClose: () => controller.abort(),
    onOpen: (d) => {
      submit = d.querySelector("button[type=submit]");
      if (keys) return;
      submit.disabled = true;
      counted(0);
      keysUnder(bucket, folders, controller.signal, throttled(counted)).then((found) => {
        keys = [...objects, ...found];
        total = keys.length;
        status.textContent = total ? `${plural(total)} will be deleted${folders.length ? ", sub-folders included" : ""}.` : "There is nothing left to delete here.";
        submit.textContent = total ? `Delete ${plural(total)}` : "Done";
        submit.disabled = false;
      }, (err) => { if (!controller.signal.aborted) d.fail(err); });
    },
    actions: [
      { label: "Cancel" },
      { label: "Delete", kind: "primary danger", run: async () => {
        if (!keys.length) return true;
        bar.hidden = false;
        const result = await deleteKeys(bucket, keys, controller.signal, (n) => { deleted = total - keys.length + n; drawDeleted(deleted); });
        if (result.failed.length) {
          keys = result.failed.map((f) => f.key);   // a second click retries only these
          throw new Error(`${plural(result.failed.length)} could not be deleted. ${result.failed.slice(0, 3).map((f) => `${f.key}: ${f.message}`).join(" ")}`);
        }
        return true;
      } },
    ],
  });
  return { deleted, total, stopped: done !== true };
}

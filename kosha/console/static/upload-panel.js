// The uploads panel: an overall bar and summary, and a list of the files with a bar and a cancel
// button each. The list is built only while it is open (a set of more than LIST_OPEN_UP_TO files
// starts closed: building a thousand rows would take the CPU the upload needs), a few hundred
// rows a frame; every change is drawn at most once a frame.

import { bytes, button, h, progress } from "./ui.js";

const LIST_OPEN_UP_TO = 100;
const ROWS_PER_FRAME = 250;

/**
 * The panel for `queue` (the uploads' items, in order). `stats()` answers {counts, size, loaded};
 * `cancel(item)` and `clear()` act on the queue. Answers {touch(item), changed(), grown()}.
 */
export function uploadPanel(queue, { stats, cancel, clear }) {
  let dirty = new Set();
  let frame = 0;
  let shown = 0;           // items whose row is in the list
  let building = false;
  let chosen = false;      // the person opened or closed the list: leave it so
  const title = h("span", { id: "uploads-title" }, "Uploads");
  const summary = h("span", { class: "muted small", "aria-live": "polite" });
  const bar = progress("All uploads");
  const list = h("ul", { class: "uploads-list", id: "uploads-list", "aria-label": "Files", hidden: true });
  const toggle = button("Show files", () => { chosen = true; setOpen(list.hidden); }, "small", {
    "aria-expanded": "false", "aria-controls": "uploads-list",
  });
  const cancelAll = button("Cancel all", () => queue.slice().forEach(cancel), "small danger");
  const close = button("Close", () => {
    root.hidden = true;
    clear();
    shown = 0;
    chosen = false;
    dirty = new Set();
    list.replaceChildren();
  }, "small");
  const root = h("section", { class: "uploads", "aria-labelledby": "uploads-title", hidden: true },
    h("div", { class: "uploads-head" },
      h("div", { class: "title" }, title, h("span", { class: "actions" }, toggle, cancelAll, close)), bar, summary),
    list);
  document.body.append(root);

  function setOpen(open) {
    list.hidden = !open;
    toggle.textContent = open ? "Hide files" : "Show files";
    toggle.setAttribute("aria-expanded", String(open));
    if (open) buildRows();
  }

  function buildRows() {
    if (building || list.hidden) return;
    building = true;
    requestAnimationFrame(function more() {
      const frag = document.createDocumentFragment();
      for (let n = 0; n < ROWS_PER_FRAME && shown < queue.length; n++, shown++) {
        const item = queue[shown];
        item.el = itemRow(item);
        frag.append(item.el.row);
        dirty.add(item);
      }
      list.append(frag);
      draw();
      if (shown < queue.length && !list.hidden) requestAnimationFrame(more);
      else building = false;
    });
  }

  function itemRow(item) {
    const itemBar = progress(`Upload of ${item.path}`);
    const state = h("span", { class: "state" }, "Waiting");
    const stop = h("button", { type: "button", class: "icon-btn", "aria-label": `Cancel ${item.path}`, onclick: () => cancel(item) }, "×");
    const row = h("li", { class: "upload-item queued" }, h("span", { class: "name" }, item.key), stop, itemBar, state);
    return { row, bar: itemBar, state, stop };
  }

  function draw() {
    frame = 0;
    for (const item of dirty) {
      if (!item.el) continue;
      const { row, bar: itemBar, state, stop } = item.el;
      const size = item.size ?? 0;
      itemBar.set(item.loaded, size);
      row.className = `upload-item ${item.state}`;
      state.textContent = item.state === "uploading" ? `${bytes(item.loaded)} of ${bytes(size)}`
        : item.state === "queued" ? "Waiting" : item.state === "done" ? "Uploaded" : item.message;
      stop.hidden = item.state !== "queued" && item.state !== "uploading";
    }
    dirty = new Set();
    drawSummary();
  }

  function drawSummary() {
    const { counts, size, loaded, sizing } = stats();
    const running = counts.queued + counts.uploading;
    bar.set(loaded, size);
    root.dataset.uploadsDone = counts.done;
    title.textContent = running ? `Uploading ${running} of ${queue.length} files` : "Uploads finished";
    summary.textContent = [`${bytes(loaded)} of ${bytes(size)}${sizing ? " so far" : ""}`, `${counts.done} uploaded`,
      counts.failed ? `${counts.failed} failed` : "", counts.cancelled ? `${counts.cancelled} cancelled` : ""].filter(Boolean).join(" · ");
    cancelAll.hidden = !running;
    close.hidden = Boolean(running);
  }

  const schedule = () => { if (!frame) frame = requestAnimationFrame(draw); };
  return {
    /** An item changed: its row (if built) and the summary are drawn at the next frame. */
    touch(item) { if (item.el) dirty.add(item); schedule(); },
    /** Counts changed without a row to redraw. */
    changed: schedule,
    /** Items were added to the queue. */
    grown() {
      root.hidden = false;
      if (!chosen) setOpen(queue.length <= LIST_OPEN_UP_TO);
      buildRows();
      schedule();
    },
  };
}

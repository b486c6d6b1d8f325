// The console's shell: session check, sidebar navigation, and the page the hash names.

import { api, currentSession, me, onSessionEnd, signOut } from "./api.js";
import { go, resolve, route } from "./router.js";
import { renderSignIn } from "./signin.js";
import { errorBox, h, when } from "./ui.js";

route("/buckets", () => import("./buckets.js"));
route("/buckets/:bucket/settings", () => import("./settings.js"));
route("/buckets/:bucket", () => import("./objects.js"));
route("/keys", () => import("./keys.js"));
route("/lifecycle", () => import("./lifecycle.js"));
route("/access", () => import("./access.js"));
route("/usage", () => import("./usage.js"));

const NAV = [
  { label: "Buckets", path: "/buckets", match: /^\/buckets/, icon: "M4 7h16l-1.5 12h-13zM7 7V5h10v2" },
  { label: "Access keys", path: "/keys", icon: "M14 10a4 4 0 1 0-3.9 4H12v2h2v2h3v-3l-3.1-3.1A4 4 0 0 0 14 10z" },
  { label: "Lifecycle", path: "/lifecycle", icon: "M12 4a8 8 0 1 0 8 8M12 8v4l3 2M20 4v5h-5" },
  { label: "Users & policies", path: "/access", admin: true, icon: "M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM3 19a6 6 0 0 1 12 0M16 11a3 3 0 0 0 0-6M18 19a6 6 0 0 0-2.5-4.9" },
  { label: "Usage", path: "/usage", icon: "M4 20V10M10 20V4M16 20v-7M22 20H2" },
];
const RETURN_KEY = "kosha.return";
const root = document.getElementById("app");
let shell = null;
let current = { cleanup: null, controller: null };
let expiryTimer = null;

function icon(d) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

function buildShell(session) {
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const links = NAV.filter((n) => !n.admin || me.admin || me.operator || me.admin === undefined).map((n) =>
    h("li", {}, h("a", { href: `#${n.path}`, class: "nav-link", dataset: { path: n.path } }, icon(n.icon), h("span", {}, n.label))));
  const menu = h("button", {
    type: "button", class: "icon-btn menu-btn", "aria-expanded": "false", "aria-controls": "sidebar", "aria-label": "Menu",
    onclick: () => setMenu(menu.getAttribute("aria-expanded") !== "true"),
  }, icon("M4 6h16M4 12h16M4 18h16"));
  const who = me.user_name ? `${me.user_name}` : "Signed in";
  const sidebar = h("nav", { id: "sidebar", class: "sidebar", "aria-label": "Main" },
    h("a", { class: "brand", href: "#/buckets" }, h("img", { src: "/console/static/favicon.svg", alt: "", width: 28, height: 28 }), "Kosha"),
    h("ul", { class: "nav" }, links),
    h("div", { class: "whoami" },
      h("p", { class: "who" }, who, me.operator ? h("span", { class: "badge" }, "operator") : me.admin ? h("span", { class: "badge" }, "admin") : null),
      me.account_name ? h("p", { class: "muted small" }, `Account ${me.account_name}`) : null,
      h("p", { class: "muted small", id: "session-ends" }, `Session ends ${when(session.expiresAt)}`),
      h("button", { type: "button", class: "btn small", id: "sign-out", onclick: leave }, "Sign out")));
  sidebar.addEventListener("click", (ev) => { if (ev.target.closest("a")) setMenu(false); });  // also the page shown
  const scrim = h("div", { class: "scrim", onclick: () => setMenu(false) });
  shell = { main, sidebar, menu };
  root.replaceChildren(h("div", { class: "shell" },
    h("header", { class: "topbar" }, menu, h("span", { class: "brand-small" }, "Kosha")), sidebar, scrim, main));
}

function setMenu(open) {
  const was = shell.menu.getAttribute("aria-expanded") === "true";
  shell.menu.setAttribute("aria-expanded", String(open));
  shell.sidebar.classList.toggle("open", open);
  document.body.classList.toggle("menu-open", open);
  if (open && !was) shell.sidebar.querySelector(".nav-link")?.focus();
}

async function show() {
  if (!shell) return;
  const found = resolve();
  if (!found) return go("#/buckets");
  current.controller?.abort();
  current.cleanup?.();
  const controller = new AbortController();
  current = { cleanup: null, controller };
  for (const a of shell.sidebar.querySelectorAll(".nav-link")) {
    const n = NAV.find((x) => x.path === a.dataset.path);
    const on = n.match ? n.match.test(found.path) : found.path.startsWith(n.path);
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  setMenu(false);
  const main = shell.main;
  try {
    const page = await found.route.load();
    if (controller.signal.aborted) return;
    main.replaceChildren();
    current.cleanup = (await page.render(main, { ...found, signal: controller.signal })) || null;
  } catch (err) {
    if (!controller.signal.aborted) main.replaceChildren(errorBox(err));
    return;
  }
  if (!controller.signal.aborted) (main.querySelector("h1") || main).focus({ preventScroll: true });
}

async function enter(session) {
  try {
    Object.assign(me, await api("GET", "/kos/v1/account"));
  } catch {
    /* who-am-I is best effort: the pages still work without it */
  }
  buildShell(session);
  clearTimeout(expiryTimer);
  const left = new Date(session.expiresAt).getTime() - Date.now();
  if (left > 0 && left < 2 ** 31) expiryTimer = setTimeout(() => ended("Your session expired. Sign in again to continue."), left + 1000);
  const back = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  if (back && back !== location.hash) go(back);
  else show();
}

function ended(message) {
  if (!shell) return;
  sessionStorage.setItem(RETURN_KEY, location.hash || "#/buckets");
  signOutLocally(message);
}

function signOutLocally(message) {
  current.controller?.abort();
  current.cleanup?.();
  current = { cleanup: null, controller: null };
  shell = null;
  clearTimeout(expiryTimer);
  for (const k of Object.keys(me)) delete me[k];
  for (const d of document.querySelectorAll("dialog")) d.remove();
  renderSignIn(root, { message, onSignedIn: enter });
}

async function leave() {
  await signOut();
  sessionStorage.removeItem(RETURN_KEY);
  signOutLocally("You have signed out.");
}

onSessionEnd(ended);
window.addEventListener("hashchange", show);
document.addEventListener("keydown", (ev) => {   // the phone menu closes on Escape, focus back on its button
  if (ev.key !== "Escape" || !shell || shell.menu.getAttribute("aria-expanded") !== "true") return;
  setMenu(false);
  shell.menu.focus();
});
document.querySelector(".skip")?.addEventListener("click", (ev) => {
  ev.preventDefault();
  document.getElementById("main")?.focus();
});

const session = await currentSession();
if (session) enter(session);
else renderSignIn(root, { onSignedIn: enter });

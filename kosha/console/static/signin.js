// The sign-in page: an access key and its secret, exchanged for a session cookie.

import { signIn } from "./api.js";
import { field, h, messageOf } from "./ui.js";

export function renderSignIn(root, { message, onSignedIn }) {
  const accessKey = h("input", { type: "text", name: "accessKey", autocomplete: "username", required: true, spellcheck: "false", autocapitalize: "off", class: "mono" });
  const secretKey = h("input", { type: "password", name: "secretKey", autocomplete: "current-password", required: true, class: "mono" });
  const status = h("div", { class: message ? "alert info" : "alert", role: "status", hidden: !message }, message || "");
  const submit = h("button", { type: "submit", class: "btn primary block" }, "Sign in");
  const form = h("form", { class: "signin-form", novalidate: true },
    field("Access key", accessKey),
    field("Secret key", secretKey),
    status, submit);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!accessKey.value.trim() || !secretKey.value) {
      show("Enter both the access key and its secret.", "error");
      (accessKey.value.trim() ? secretKey : accessKey).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const session = await signIn(accessKey.value.trim(), secretKey.value);
      secretKey.value = "";
      await onSignedIn(session);
    } catch (err) {
      show(messageOf(err), "error");
      secretKey.select();
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });
  function show(text, kind) {
    status.textContent = text;
    status.className = `alert ${kind}`;
    status.setAttribute("role", kind === "error" ? "alert" : "status");
    status.hidden = false;
  }
  root.replaceChildren(h("div", { class: "signin" },
    h("main", { id: "main", class: "signin-card", tabindex: "-1" },
      h("div", { class: "signin-brand" }, h("img", { src: "/console/static/favicon.svg", alt: "", width: 40, height: 40 }),
        h("div", {}, h("h1", {}, "Kosha"), h("p", { class: "muted" }, "Sign in to the object storage console"))),
      form,
      h("details", { class: "help" },
        h("summary", {}, "How signing in works"),
        h("p", {}, "Use an access key and its secret key. Signing in starts a KOS session for that key, kept in a cookie that scripts cannot read; it lasts as long as the server's session lifetime (an hour by default)."),
        h("p", {}, "A key has one session at a time: signing in here ends any earlier session of the same key, for example one the kosha CLI or an SDK opened with it, and signing in with the key elsewhere ends this one."),
        h("p", {}, "The operator's first key is printed when the server first starts and kept in root-credentials.json in the data directory.")))));
  accessKey.focus();
}

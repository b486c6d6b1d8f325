// Access keys: list, create (the secret shown exactly once), delete; and the account's MFA status.

import { api, me } from "./api.js";
import { REGIONS } from "./buckets.js";
import { rerender } from "./router.js";
import { badge, button, dialog, field, h, loading, pageHeader, secretField, shown, table, toast, when } from "./ui.js";

export async function render(main, { signal }) {
  const body = h("div", {}, loading());
  main.append(pageHeader("Access keys", "Keys sign S3 requests and start console and API sessions.",
    button("Create access key", () => create(main), "primary")), accountPanel(), body);
  const keys = await shown(body, api("GET", "/kos/v1/access_keys"), signal);
  if (!keys) return;
  body.replaceChildren(table([
    { label: "Name", cell: (k) => h("span", {}, k.key_name || h("span", { class: "muted" }, "unnamed"),
      k.access_key === me.access_key ? h("span", {}, " ", badge("this session", "accent")) : null) },
    { label: "Access key", cell: (k) => h("span", { class: "mono" }, k.access_key) },
    { label: "Region", class: "hide-phone", cell: (k) => k.region },
    { label: "Status", class: "hide-phone", cell: (k) => badge(k.status, k.status === "Active" ? "ok" : "") },
    { label: "Created", class: "nowrap hide-phone", cell: (k) => when(k.created_at) },
    { label: "Actions", class: "row-actions", cell: (k) => button("Delete", () => remove(main, k), "small danger", { "aria-label": `Delete key ${k.access_key}` }) },
  ], keys, { caption: "Access keys", empty: "No access keys." }));
}

function accountPanel() {
  if (!me.account_id) return null;
  return h("section", { class: "panel", "aria-labelledby": "acct-h" },
    h("h2", { id: "acct-h" }, "Your account"),
    h("dl", { class: "meta" },
      h("dt", {}, "User"), h("dd", {}, me.user_name || me.kcid, " ", me.operator ? badge("operator", "accent") : me.admin ? badge("account admin", "accent") : badge("member")),
      h("dt", {}, "Account"), h("dd", {}, `${me.account_name || ""} `, h("span", { class: "mono muted" }, me.account_id)),
      h("dt", {}, "Multi-factor authentication"), h("dd", {}, me.mfa_enabled
        ? h("span", {}, badge("enabled", "ok"), " Deleting a bucket or an access key asks for a one-time code.")
        : h("span", {}, badge("not enabled"), " The operator can enable it for the account."))));
}

async function create(main) {
  const name = h("input", { type: "text", autofocus: true, placeholder: "ci-uploader" });
  const region = h("select", {}, h("option", { value: "" }, "Server default"), REGIONS.map((r) => h("option", { value: r }, r)));
  const created = await dialog({
    title: "Create access key",
    body: [field("Name", name, "Something that says where the key is used."), field("Region", region)],
    actions: [{ label: "Cancel" }, { label: "Create key", kind: "primary", run: () =>
      api("POST", "/kos/v1/access_keys", { json: { key_name: name.value.trim() || undefined, region: region.value || undefined } }) }],
  });
  if (!created) return;
  await showSecretOnce("Access key created", created.access_key, created.secret_key);
  rerender();
}

/** The one moment a secret is shown: copy it now; closing the dialog removes it from the page. */
export function showSecretOnce(title, accessKey, secretKey, extra = []) {
  return dialog({
    title,
    body: [h("div", { class: "alert warn" }, "Copy the secret key now. It is shown only this once and cannot be recovered; if it is lost, delete the key and create another."),
      secretField("Access key", accessKey), secretField("Secret key", secretKey), extra],
    actions: [{ label: "I have copied it", kind: "primary" }],
  });
}

async function remove(main, key) {
  const otp = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", class: "mono", maxlength: "8" });
  const own = key.access_key === me.access_key;
  const done = await dialog({
    title: `Delete key ${key.access_key}?`,
    body: [h("p", {}, "Clients using this key stop working at once. This cannot be undone."),
      own ? h("div", { class: "alert warn" }, "This is the key of your current session: deleting it signs you out.") : null,
      me.mfa_enabled ? field("One-time code from your authenticator", otp) : null],
    actions: [{ label: "Cancel" }, { label: "Delete key", kind: "primary danger", run: async () => {
      await api("DELETE", `/kos/v1/access_keys/${encodeURIComponent(key.access_key)}`, { json: me.mfa_enabled ? { otp: otp.value.trim() } : {} });
      return true;
    } }],
  });
  if (done) {
    toast("Access key deleted.");
    rerender();
  }
}

// Users and policies of the account (account admins), the policy simulator, and, for the
// operator, the deployment's accounts.

import { api, me } from "./api.js";
import { showSecretOnce } from "./keys.js";
import { link, rerender } from "./router.js";
import {
  badge, button, confirm, dialog, empty, errorBox, field, h, loading, nextId, pageHeader, secretField, table, toast, when,
} from "./ui.js";

const USERS = "/kos/v1/account/users";
const POLICIES = "/kos/v1/account/policies";
const ACCOUNTS = "/internal/kos/v1/accounts";
export const ACTIONS = [
  "kos:ListBuckets", "kos:CreateBucket", "kos:GetBucket", "kos:UpdateBucket", "kos:DeleteBucket", "kos:GetBucketLocation",
  "kos:ListBucket", "kos:ListBucketVersions", "kos:GetObject", "kos:PutObject", "kos:DeleteObject",
  "kos:ListMultipartUploads", "kos:AbortMultipartUpload", "kos:GetObjectTagging", "kos:PutObjectTagging",
  "kos:GetLifecycle", "kos:PutLifecycle", "kos:GetBucketPolicy", "kos:PutBucketPolicy", "kos:DeleteBucketPolicy",
  "kos:GetBucketCors", "kos:PutBucketCors", "kos:ListAccessKeys", "kos:CreateAccessKey", "kos:DeleteAccessKey",
];
const TABS = [["users", "Users"], ["policies", "Policies"], ["simulator", "Simulator"], ["accounts", "Accounts", true]];

export async function render(main, { query, signal }) {
  const tabs = TABS.filter(([, , operator]) => !operator || me.operator);
  const tab = tabs.some(([id]) => id === query.tab) ? query.tab : "users";
  const panel = h("div", { role: "tabpanel", id: "access-panel", tabindex: "-1" }, loading());
  const strip = h("div", { class: "tabs", role: "tablist", "aria-label": "Users and policies" }, tabs.map(([id, label]) =>
    h("a", { class: "tab", role: "tab", href: link("/access", {}, { tab: id }), "aria-selected": String(id === tab), "aria-controls": "access-panel" }, label)));
  strip.addEventListener("keydown", (ev) => {
    if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
    const all = [...strip.children];
    const at = all.indexOf(document.activeElement);
    all[(at + (ev.key === "ArrowRight" ? 1 : all.length - 1)) % all.length]?.focus();
  });
  main.append(pageHeader("Users & policies", "Who may do what in this account."), strip, panel);
  const show = { users, policies, simulator, accounts }[tab];
  try {
    await show(panel, signal);
  } catch (err) {
    panel.replaceChildren(errorBox(err));
  }
}

// -- users ------------------------------------------------------------------------------------

async function users(panel, signal) {
  const [list, policies] = await Promise.all([api("GET", USERS), api("GET", POLICIES)]);
  if (signal.aborted) return;
  const names = Object.fromEntries(policies.map((p) => [p.policyKRN, p.name]));
  panel.replaceChildren(
    h("div", { class: "toolbar" }, h("div", { class: "grow" }), button("Add user", () => createUser(USERS), "primary")),
    table([
      { label: "Name", cell: (u) => h("span", {}, h("strong", {}, u.name), u.kcid === me.kcid ? h("span", {}, " ", badge("you", "accent")) : null,
        h("div", { class: "muted small mono" }, u.kcid)) },
      { label: "Role", cell: (u) => badge(u.admin ? "admin" : "member", u.admin ? "accent" : "") },
      { label: "Policies", cell: (u) => (u.policies?.length ? h("span", { class: "actions" }, u.policies.map((k) => badge(names[k] || k)))
        : h("span", { class: "muted" }, "none")) },
      { label: "Created", class: "nowrap hide-phone", cell: (u) => when(u.created_at) },
      { label: "Actions", class: "row-actions", cell: (u) => h("span", {},
        button("Policies…", () => attachDialog(u, policies), "small", { "aria-label": `Policies of ${u.name}` }),
        u.kcid === me.kcid ? null : button(u.admin ? "Make member" : "Make admin", () => setAdmin(u, !u.admin), "small"),
        u.kcid === me.kcid ? null : button("Delete", () => deleteUser(u), "small danger", { "aria-label": `Delete user ${u.name}` })) },
    ], list, { caption: "Users", empty: "No users." }));
}

async function createUser(path) {
  const name = h("input", { type: "text", autofocus: true });
  const admin = h("input", { type: "checkbox" });
  const user = await dialog({
    title: "Add user",
    body: [field("Name", name), field("Account admin: may do anything in the account", admin),
      h("p", { class: "muted small" }, "The user gets a first access key; its secret is shown once.")],
    actions: [{ label: "Cancel" }, { label: "Add user", kind: "primary", run: () => {
      if (!name.value.trim()) throw new Error("Enter a name.");
      return api("POST", path, { json: { name: name.value.trim(), admin: admin.checked } });
    } }],
  });
  if (!user) return;
  await showSecretOnce(`User ${user.name} added`, user.access_key, user.secret_key);
  rerender();
}

async function setAdmin(user, admin) {
  try {
    await api("PUT", `${USERS}/${encodeURIComponent(user.kcid)}`, { json: { admin } });
    toast(admin ? `${user.name} is now an admin.` : `${user.name} is now a member.`);
    rerender();
  } catch (err) {
    toast(err.message, "error");
  }
}

async function deleteUser(user) {
  if (await confirm(`Delete user ${user.name}?`, "Their access keys and sessions end at once and their policies are detached.", {
    label: "Delete user", danger: true, run: () => api("DELETE", `${USERS}/${encodeURIComponent(user.kcid)}`),
  })) {
    toast("User deleted.");
    rerender();
  }
}

async function attachDialog(user, policies) {
  if (!policies.length) {
    toast("Create a policy first.", "error");
    return;
  }
  const boxes = policies.map((p) => h("input", { type: "checkbox", checked: (user.policies || []).includes(p.policyKRN), dataset: { krn: p.policyKRN } }));
  const changed = await dialog({
    title: `Policies of ${user.name}`,
    body: [user.admin ? h("div", { class: "alert info" }, "An admin may do anything in the account; policies matter once it is a member.") : null,
      h("fieldset", { class: "plain" }, h("legend", { class: "sr-only" }, "Attached policies"), policies.map((p, i) => field(p.name, boxes[i])))],
    actions: [{ label: "Cancel" }, { label: "Save", kind: "primary", run: async () => {
      const had = new Set(user.policies || []);
      const attach = boxes.filter((b) => b.checked && !had.has(b.dataset.krn)).map((b) => b.dataset.krn);
      const detach = boxes.filter((b) => !b.checked && had.has(b.dataset.krn)).map((b) => b.dataset.krn);
      if (attach.length) await api("POST", `${POLICIES}/attach`, { json: { policyKRNs: attach, users: [user.kcid] } });
      if (detach.length) await api("POST", `${POLICIES}/detach`, { json: { policyKRNs: detach, users: [user.kcid] } });
      return true;
    } }],
  });
  if (changed) {
    toast("Policies saved.");
    rerender();
  }
}

// -- policies ---------------------------------------------------------------------------------

async function policies(panel, signal) {
  const list = await api("GET", POLICIES);
  if (signal.aborted) return;
  panel.replaceChildren(
    h("div", { class: "toolbar" }, h("div", { class: "grow" }), button("Create policy", () => editPolicy(null), "primary")),
    table([
      { label: "Name", cell: (p) => h("span", {}, h("strong", {}, p.name), h("div", { class: "muted small mono" }, p.policyKRN)) },
      { label: "Statements", cell: (p) => h("span", { class: "small" }, p.statements.map(summary).join("; ")) },
      { label: "Users", class: "num", cell: (p) => String(p.users?.length || 0) },
      { label: "Updated", class: "nowrap hide-phone", cell: (p) => when(p.UpdateDate || p.CreationDate) },
      { label: "Actions", class: "row-actions", cell: (p) => h("span", {},
        button("Edit", () => editPolicy(p), "small", { "aria-label": `Edit policy ${p.name}` }),
        button("Delete", () => deletePolicy(p), "small danger", { "aria-label": `Delete policy ${p.name}` })) },
    ], list, { caption: "Policies", empty: "No policies yet. Members can do nothing until a policy allows it." }));
}

const summary = (s) => `${s.effect} ${(s.actions || []).join(", ")}${s.resources?.length ? ` on ${s.resources.join(", ")}` : ""}`;
const lines = (text) => text.split(/[\n,]+/).map((x) => x.trim()).filter(Boolean);

/** One statement's editor: effect, actions and resources; read back with .value(). */
function statementEditor(statement, onRemove) {
  const effect = h("select", {}, ["Allow", "Deny"].map((e) => h("option", { value: e, selected: e === (statement.effect || "Allow") }, e)));
  const actions = h("textarea", { rows: 3, value: (statement.actions || []).join("\n"), placeholder: "kos:GetObject\nkos:ListBucket" });
  const resources = h("textarea", { rows: 2, value: (statement.resources || []).join("\n"), placeholder: "krn:kos:*:*:*:bucket:photos/*" });
  const box = h("fieldset", { class: "statement" },
    h("div", { class: "statement-head" }, h("legend", {}, "Statement"), button("Remove", onRemove, "small danger")),
    field("Effect", effect),
    field("Actions", actions, `One per line: ${ACTIONS.slice(0, 4).join(", ")}, … or kos:* for all.`),
    field("Resources", resources, "KRNs, one per line; * matches anything. An object is its bucket's KRN, “/”, and the key. Empty: every resource of the account."));
  box.value = () => ({ effect: effect.value, actions: lines(actions.value), resources: lines(resources.value) });
  return box;
}

async function editPolicy(policy) {
  const name = h("input", { type: "text", value: policy?.name || "", autofocus: true });
  const list = h("div", {});
  const status = h("div", { "aria-live": "polite" });
  const editors = [];
  const add = (s) => {
    const editor = statementEditor(s, () => { editor.remove(); editors.splice(editors.indexOf(editor), 1); });
    editors.push(editor);
    list.append(editor);
  };
  (policy?.statements?.length ? policy.statements : [{ effect: "Allow", actions: ["kos:GetObject", "kos:ListBucket"], resources: [] }]).forEach(add);
  const payload = () => ({ statements: editors.map((e) => e.value()), conditions: policy?.conditions || [] });
  const validate = async () => {
    const answer = await api("POST", `${POLICIES}/validate`, { json: payload() });
    status.replaceChildren(h("div", { class: "alert ok" }, `Valid: ${answer.statements.length} ${answer.statements.length === 1 ? "statement" : "statements"}.`));
  };
  const saved = await dialog({
    title: policy ? `Edit policy ${policy.name}` : "Create policy",
    wide: true,
    body: [field("Name", name), list, h("div", { class: "actions" }, button("Add statement", () => add({ effect: "Allow" }), "small")), status],
    actions: [
      { label: "Cancel" },
      { label: "Validate", run: async () => { status.replaceChildren(); await validate(); return undefined; } },
      { label: policy ? "Save policy" : "Create policy", kind: "primary", run: () => {
        if (!name.value.trim()) throw new Error("Enter a name.");
        const json = { name: name.value.trim(), ...payload() };
        return policy ? api("PUT", `${POLICIES}/${policy.policyKRN}`, { json }) : api("POST", POLICIES, { json });
      } },
    ],
  });
  if (saved) {
    toast(policy ? "Policy saved." : "Policy created.");
    rerender();
  }
}

async function deletePolicy(policy) {
  if (await confirm(`Delete policy ${policy.name}?`, `It is detached from ${policy.users?.length || 0} user(s) first.`, {
    label: "Delete policy", danger: true, run: () => api("DELETE", `${POLICIES}/${policy.policyKRN}`),
  })) {
    toast("Policy deleted.");
    rerender();
  }
}

// -- simulator --------------------------------------------------------------------------------

async function simulator(panel, signal) {
  const [people, buckets] = await Promise.all([api("GET", USERS), api("GET", "/kos/v1/buckets")]);
  if (signal.aborted) return;
  const listId = nextId("acts");
  const user = h("select", {}, people.map((u) => h("option", { value: u.kcid, selected: u.kcid === me.kcid }, `${u.name}${u.admin ? " (admin)" : ""}`)));
  const action = h("input", { type: "text", list: listId, value: "kos:GetObject", class: "mono", spellcheck: "false" });
  const bucket = h("select", {}, buckets.items.map((b) => h("option", { value: b.name }, b.name)));
  const key = h("input", { type: "text", class: "mono", placeholder: "reports/2024.csv" });
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "panel", novalidate: true },
    h("h2", {}, "Would this request be allowed?"),
    h("datalist", { id: listId }, ACTIONS.map((a) => h("option", { value: a }))),
    h("div", { class: "row" }, field("User", user), field("Action", action)),
    h("div", { class: "row" }, field("Bucket", bucket), field("Object key (optional)", key)),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "btn primary" }, "Simulate")),
    result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    result.replaceChildren(loading("Evaluating…"));
    try {
      const json = { kcid: user.value, action: action.value.trim(), bucket: bucket.value };
      if (key.value) json.key = key.value;
      result.replaceChildren(decision(await api("POST", "/kos/v1/account/simulate", { json })));
    } catch (err) {
      result.replaceChildren(errorBox(err));
    }
  });
  panel.replaceChildren(buckets.items.length ? form : empty("Create a bucket to simulate requests on it."));
}

const DECISIONS = {
  admin: "Allowed: account admins may do anything in their account.",
  allow: "Allowed by a policy statement.",
  "explicit-deny": "Denied by a Deny statement (a Deny always wins).",
  "implicit-deny": "Denied: no statement allows it.",
  "other-account": "Denied: the resource belongs to another account.",
};

function decision(answer) {
  const s = answer.statement;
  return h("div", { class: `decision ${answer.allowed ? "allow" : "deny"}`, role: "status" },
    h("strong", {}, DECISIONS[answer.decision] || (answer.allowed ? "Allowed." : "Denied.")),
    answer.reason && !s ? h("p", {}, answer.reason) : null,
    s ? h("p", {}, `Statement ${s.index + 1} of policy “${s.policyName}”: ${summary(s)}.`) : null);
}

// -- accounts (operator) ----------------------------------------------------------------------

async function accounts(panel, signal) {
  const list = await api("GET", ACCOUNTS);
  if (signal.aborted) return;
  panel.replaceChildren(
    h("div", { class: "toolbar" }, h("p", { class: "muted grow" }, "As the operator you manage every account of this deployment."),
      button("Create account", () => createAccount(), "primary")),
    table([
      { label: "Account", cell: (a) => h("span", {}, h("strong", {}, a.name), h("div", { class: "muted small mono" }, a.account_id)) },
      { label: "MFA", cell: (a) => badge(a.mfa_enabled ? "enabled" : "off", a.mfa_enabled ? "ok" : "") },
      { label: "Created", class: "nowrap hide-phone", cell: (a) => when(a.created_at) },
      { label: "Actions", class: "row-actions", cell: (a) => h("span", {},
        button("Users…", () => accountUsers(a), "small", { "aria-label": `Users of ${a.name}` }),
        a.mfa_enabled ? null : button("Enable MFA", () => enableMfa(a), "small")) },
    ], list, { caption: "Accounts" }));
}

async function createAccount() {
  const name = h("input", { type: "text", autofocus: true });
  const made = await dialog({
    title: "Create account",
    body: [field("Name", name)],
    actions: [{ label: "Cancel" }, { label: "Create", kind: "primary", run: () => api("POST", ACCOUNTS, { json: { name: name.value.trim() } }) }],
  });
  if (made) {
    toast(`Account ${made.name} created. Add its first admin user.`);
    await createUser(`${ACCOUNTS}/${made.account_id}/users`);
    rerender();
  }
}

async function accountUsers(account) {
  const box = h("div", {}, loading());
  const shown = dialog({
    title: `Users of ${account.name}`, wide: true, body: [box],
    actions: [{ label: "Add user", run: async () => { await createUser(`${ACCOUNTS}/${account.account_id}/users`); return null; } }, { label: "Close", kind: "primary" }],
  });
  try {
    const list = await api("GET", `${ACCOUNTS}/${account.account_id}/users`);
    box.replaceChildren(table([
      { label: "Name", cell: (u) => h("span", {}, u.name, h("div", { class: "muted small mono" }, u.kcid)) },
      { label: "Role", cell: (u) => badge(u.operator ? "operator" : u.admin ? "admin" : "member") },
      { label: "Created", class: "nowrap", cell: (u) => when(u.created_at) },
    ], list, { empty: "No users yet." }));
  } catch (err) {
    box.replaceChildren(errorBox(err));
  }
  await shown;
}

async function enableMfa(account) {
  const answer = await dialog({
    title: `Enable MFA for ${account.name}?`,
    body: [h("p", {}, "From then on, deleting a bucket or an access key in this account asks for a one-time code. It cannot be turned off here.")],
    actions: [{ label: "Cancel" }, { label: "Enable MFA", kind: "primary", run: () => api("POST", `${ACCOUNTS}/${account.account_id}/mfa`) }],
  });
  if (!answer) return;
  await dialog({
    title: "MFA enabled",
    body: [h("div", { class: "alert warn" }, "Add this secret to the account owner's authenticator app now: it is shown only once."),
      secretField("TOTP secret", answer.secret), secretField("otpauth URI", answer.otpauth_uri)],
    actions: [{ label: "Done", kind: "primary" }],
  });
  rerender();
}

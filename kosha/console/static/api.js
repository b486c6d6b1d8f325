// The fetch wrapper every page uses: the CSRF header on every call, API errors turned into
// readable messages, and a 401 sending the person back to sign-in ("your session ended").

const CSRF_KEY = "kosha.csrf";

/** Who is signed in (GET /kos/v1/account), filled in by app.js once signed in. */
export const me = {};
let csrf = sessionStorage.getItem(CSRF_KEY) || "";
let sessionEnded = () => {};

export function setCsrf(token) {
  csrf = token || "";
  if (csrf) sessionStorage.setItem(CSRF_KEY, csrf);
  else sessionStorage.removeItem(CSRF_KEY);
}

/** Called with a message when the server no longer accepts the session. */
export function onSessionEnd(handler) { sessionEnded = handler; }

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const GENERIC = {
  0: "The server could not be reached. Check your connection and try again.",
  401: "Your session ended. Sign in again.",
  403: "You are not allowed to do this.",
  404: "Not found.",
  409: "This conflicts with the current state.",
  413: "The request is too large.",
  429: "Too many attempts. Wait a moment and try again.",
};

/** The person-readable message of an answer: the API's `message`, else a sentence by status. */
function readable(status, body) {
  const text = body && typeof body === "object" ? body.message || body.error : null;
  if (status >= 500) return "The server could not complete the request. Try again; if it persists, ask the operator to check the server's log.";
  if (typeof text === "string" && text) {
    const sentence = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
  }
  return GENERIC[status] || `The request failed (HTTP ${status}).`;
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try { return await response.json(); } catch { return null; }
  }
  return response.text();
}

async function refreshCsrf() {
  const r = await fetch("/console/api/session", { credentials: "same-origin" });
  if (!r.ok) return false;
  setCsrf((await r.json()).csrfToken);
  return true;
}

/** Handle a failed answer: 401 ends the session, a stale CSRF token is renewed (true: retry). */
async function failure(status, body, retried) {
  if (status === 403 && body?.code === "CSRF_TOKEN_INVALID" && !retried && await refreshCsrf()) return true;
  const error = new ApiError(status, readable(status, body), body);
  if (status === 401 || (status === 403 && body?.code === "CSRF_TOKEN_INVALID")) {
    sessionEnded("Your session ended. Sign in again to continue.");
  }
  throw error;
}

/**
 * Call the API: api("GET", "/kos/v1/buckets", {query: {page: 1}}), api("POST", path, {json}).
 * Resolves with the parsed answer; rejects with an ApiError whose message can be shown (status -1
 * when `signal` aborted it).
 */
export async function api(method, path, { json, query, body, headers = {}, signal } = {}, retried = false) {
  const url = query ? `${path}?${new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ""))}` : path;
  const init = { method, credentials: "same-origin", signal, headers: { "X-CSRF-Token": csrf, ...headers } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw signal?.aborted ? new ApiError(-1, "Cancelled.") : new ApiError(0, GENERIC[0]);
  }
  const answer = await parse(response);
  if (response.ok) return answer;
  if (await failure(response.status, answer, retried)) return api(method, path, { json, query, body, headers, signal }, true);
  return null;
}

/**
 * An upload with progress (fetch has none): resolves with the parsed answer. `signal` aborts
 * it; `onProgress(loaded)` reports bytes sent.
 */
export function send(method, url, body, { onProgress, signal, headers = {} } = {}, retried = false) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.withCredentials = true;
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (onProgress) xhr.upload.onprogress = (ev) => onProgress(ev.loaded);
    const abort = () => xhr.abort();
    signal?.addEventListener("abort", abort, { once: true });
    xhr.onabort = () => reject(new ApiError(-1, "Cancelled."));
    xhr.onerror = () => reject(new ApiError(0, GENERIC[0]));
    xhr.onload = async () => {
      signal?.removeEventListener("abort", abort);
      let answer = null;
      try { answer = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { answer = null; }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(answer);
      try {
        if (await failure(xhr.status, answer, retried)) resolve(send(method, url, body, { onProgress, signal, headers }, true));
      } catch (err) {
        reject(err);
      }
    };
    xhr.send(body);
  });
}

export const bucketPath = (bucket) => `/kos/v1/buckets/${encodeURIComponent(bucket)}`;

export async function signIn(accessKey, secretKey) {
  const r = await fetch("/console/api/login", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ accessKey, secretKey }),
  }).catch(() => null);
  if (!r) throw new ApiError(0, GENERIC[0]);
  const answer = await parse(r);
  if (!r.ok) {
    const message = r.status === 401 ? "The access key or secret is not correct." : readable(r.status, answer);
    throw new ApiError(r.status, message, answer);
  }
  setCsrf(answer.csrfToken);
  return answer;
}

/** The current session ({csrfToken, expiresAt}) or null when there is none. */
export async function currentSession() {
  const r = await fetch("/console/api/session", { credentials: "same-origin" }).catch(() => null);
  if (!r || !r.ok) return null;
  const answer = await r.json();
  setCsrf(answer.csrfToken);
  return answer;
}

export async function signOut() {
  await fetch("/console/api/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } }).catch(() => null);
  setCsrf("");
}

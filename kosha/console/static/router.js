// Hash routes: "#/objects/my-bucket?prefix=photos%2F" -> {page, params, query}.

const routes = [];

/** Register a page: route("/objects/:bucket", loader) where loader() imports the page module. */
export function route(pattern, load) {
  const names = [];
  const source = pattern.replace(/:(\w+)/g, (_, name) => { names.push(name); return "([^/]+)"; });
  routes.push({ pattern, regex: new RegExp(`^${source}$`), names, load });
}

/** The route the hash names, or null. */
export function resolve(hash = location.hash) {
  let raw = hash.replace(/^#/, "");
  if (raw === "" || raw === "/") raw = "/buckets";
  const [path, search = ""] = raw.split("?");
  for (const r of routes) {
    const m = r.regex.exec(path);
    if (!m) continue;
    const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
    return { route: r, params, query: Object.fromEntries(new URLSearchParams(search)), path };
  }
  return null;
}

/** A hash link: link("/buckets/:bucket", {bucket: "b"}, {prefix: "a/"}). */
export function link(pattern, params = {}, query = {}) {
  const path = pattern.replace(/:(\w+)/g, (_, n) => encodeURIComponent(params[n]));
  const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString();
  return `#${path}${search ? `?${search}` : ""}`;
}

/** Draw the current page again (after a change it shows). */
export const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));

export function go(hash) {
  if (location.hash === hash) rerender();
  else location.hash = hash;
}

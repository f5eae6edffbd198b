// The broker's HTTP API from the console: JSON in and out, the API key from localStorage sent as X-API-Key.
const KEY_STORAGE = 'mini-kafka.apiKey';

export const apiKey = {
  get: () => localStorage.getItem(KEY_STORAGE) ?? '',
  set: (value) => (value ? localStorage.setItem(KEY_STORAGE, value) : localStorage.removeItem(KEY_STORAGE)),
};

/** Headers every call sends: the key (when one is set) and JSON. */
export function authHeaders(extra = {}) {
  const key = apiKey.get();
  return key ? { ...extra, 'X-API-Key': key } : { ...extra };
}

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

const listeners = new Set();
/** Called with every ApiError (the app shows the API-key banner on 401). */
export function onApiError(fn) {
  listeners.add(fn);
}

export async function api(method, path, body) {
  const headers = authHeaders({ Accept: 'application/json' });
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    const err = new ApiError(0, 'The broker is unreachable', null);
    listeners.forEach((fn) => fn(err));
    throw err;
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, (data && data.detail) || `${res.status} ${res.statusText}`, data);
    listeners.forEach((fn) => fn(err));
    throw err;
  }
  return data;
}

export const enc = encodeURIComponent;

let docPaths = null;
/** Whether the broker serves a route (read once from its OpenAPI document): optional features light up only when present. */
export async function hasRoute(path) {
  if (!docPaths) {
    docPaths = fetch('/docs-json', { cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : { paths: {} }))
      .then((doc) => new Set(Object.keys(doc.paths ?? {})))
      .catch(() => new Set());
  }
  return (await docPaths).has(path);
}

// A small fetch wrapper for the HTTP API of DESIGN.md section 3.

/** An API failure. status is 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * createApi returns request(method, path, options) bound to a base URL and
 * the current token. options: {json: body object, headers, auth (default
 * true)}. It resolves with the parsed JSON answer or rejects with ApiError
 * carrying the API's error.code and error.message.
 */
export function createApi({ baseUrl, getToken, onUnauthorized }) {
  return async function request(method, path, { json, headers = {}, auth = true } = {}) {
    const h = { Accept: "application/json", ...headers };
    if (auth) h.Authorization = `Bearer ${getToken()}`;
    let body;
    if (json !== undefined) {
      h["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    let res;
    try {
      res = await fetch(baseUrl + path, { method, headers: h, body, cache: "no-store", credentials: "omit" });
    } catch {
      throw new ApiError(0, "network_error", "Could not reach the server. Check your connection and try again.");
    }
    let data = null;
    const text = await res.text().catch(() => "");
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const err = data && typeof data.error === "object" && data.error ? data.error : {};
      const message = typeof err.message === "string" && err.message ? err.message : `The server answered ${res.status} ${res.statusText}`.trim();
      const e = new ApiError(res.status, typeof err.code === "string" ? err.code : `http_${res.status}`, message);
      if (res.status === 401 && auth && onUnauthorized) onUnauthorized(e);
      throw e;
    }
    return data;
  };
}

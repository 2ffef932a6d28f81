// songqueue-client.js: SongQueue's HTTP API (DESIGN.md section 3) and
// WebSocket (section 4) for any frontend. One dependency-free ES module:
// import it from a running stack (http://localhost:3001/songqueue-client.js,
// served with CORS) or copy it next to your code. Types are in
// songqueue-client.d.ts, served beside it.
//
//   import { createClient } from "http://localhost:3001/songqueue-client.js";
//   const client = createClient({ apiBase: "http://localhost:3001", token });
//   const { generationId } = await client.createGeneration({ prompt: "a calm piano song" });
//   const live = client.realtime();
//   live.on("generation:progress", (d) => console.log(d.generationId, d.progress));
//   live.on("generation:complete", (d) => console.log(d.audioUrl));
//
// The page this stack serves at / is built on it.

const GENERATION_EVENTS = ["generation:progress", "generation:complete", "generation:error", "generation:cancelled"];

/**
 * An API failure: the HTTP status (0 when the server could not be reached,
 * or refused this origin), the API's error.code and error.message, and
 * retryAfter in seconds when the answer had a Retry-After header (a 429).
 */
export class ApiError extends Error {
  constructor(status, code, message, { retryAfter = null, requestId = "", body = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
    this.body = body;
  }
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (typeof value !== "string" || value.trim() === "") return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The WebSocket address for an API base URL, as the local stack serves it:
 * ws(s)://<api host>/ws (this page's host when apiBase is empty). In AWS
 * the WebSocket API has an address of its own: pass wsUrl.
 */
export function defaultWsUrl(apiBase = "") {
  const here = globalThis.location?.href;
  if (!apiBase && !here) throw new TypeError("songqueue-client: wsUrl (or apiBase) is required outside a browser");
  const u = new URL(apiBase || "/", here);
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.pathname = `${u.pathname.replace(/\/+$/, "")}/ws`;
  u.search = "";
  u.hash = "";
  return u.href;
}

/** wsUrl with the token as its query parameter (the WebSocket's only way to authenticate). */
export function socketUrl(wsUrl, token) {
  const sep = wsUrl.includes("?") ? "&" : "?";
  return `${wsUrl}${sep}token=${encodeURIComponent(token)}`;
}

/** Whether a token is a JWT whose exp has passed (false for anything else). */
export function tokenExpired(token, now = Date.now()) {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3) return false;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    const exp = JSON.parse(json)?.exp;
    return typeof exp === "number" && exp * 1000 <= now;
  } catch {
    return false;
  }
}

/**
 * createClient returns the API's routes as methods, and realtime() for the
 * WebSocket. options: {apiBase, wsUrl?, token | getToken, onUnauthorized?,
 * fetch?, WebSocket?}. getToken may return a promise; it is asked before
 * every request and every (re)connect, so a refreshed token is picked up.
 */
export function createClient(options = {}) {
  const { apiBase = "", token, getToken, onUnauthorized } = options;
  const base = String(apiBase).replace(/\/+$/, "");
  const tokenOf = typeof getToken === "function" ? getToken : () => token;
  const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
  const wsUrl = options.wsUrl || null;

  async function send(method, path, { json, headers = {}, auth = true, query, signal } = {}) {
    if (!fetchImpl) throw new TypeError("songqueue-client: no fetch; pass options.fetch");
    const h = { Accept: "application/json", ...headers };
    if (auth) {
      const t = await tokenOf();
      if (!t) throw new ApiError(401, "no_token", "Not signed in: there is no token to send.");
      h.Authorization = `Bearer ${t}`;
    }
    let body;
    if (json !== undefined) {
      h["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    }
    let url = base + path;
    if (query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
      const s = q.toString();
      if (s) url += (url.includes("?") ? "&" : "?") + s;
    }
    let res;
    try {
      res = await fetchImpl(url, { method, headers: h, body, signal, cache: "no-store", credentials: "omit" });
    } catch (e) {
      if (e?.name === "AbortError") throw e;
      throw new ApiError(
        0,
        "network_error",
        "Could not reach the server (or it does not allow this page's origin: see CORS_ALLOW_ORIGINS). Check your connection and try again.",
      );
    }
    const text = await res.text().catch(() => "");
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const err = data && typeof data.error === "object" && data.error ? data.error : {};
      const message =
        typeof err.message === "string" && err.message ? err.message : `The server answered ${res.status} ${res.statusText ?? ""}`.trim();
      const e = new ApiError(res.status, typeof err.code === "string" && err.code ? err.code : `http_${res.status}`, message, {
        retryAfter: parseRetryAfter(res.headers.get("Retry-After")),
        requestId: res.headers.get("Apigw-Requestid") ?? "",
        body: data,
      });
      if (res.status === 401 && auth && typeof onUnauthorized === "function") onUnauthorized(e);
      throw e;
    }
    return { data, res };
  }

  /** Any route: request(method, path, {json, headers, auth, query, signal}) resolves with the parsed JSON (null for 204). */
  async function request(method, path, opts) {
    return (await send(method, path, opts)).data;
  }

  const id = (v) => encodeURIComponent(String(v));

  function realtime(rtOptions = {}) {
    const rt = new RealtimeClient({
      url: rtOptions.url ?? wsUrl ?? defaultWsUrl(base),
      getToken: tokenOf,
      WebSocket: options.WebSocket,
      ...rtOptions,
    });
    if (rtOptions.autoConnect !== false) rt.connect();
    return rt;
  }

  return {
    apiBase: base,
    request,
    async createGeneration(body, { idempotencyKey, signal } = {}) {
      const headers = idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {};
      const { data, res } = await send("POST", "/api/generation/create", { json: body, headers, signal });
      return { ...data, replayed: res.headers.get("Idempotent-Replayed") === "true" };
    },
    getStatus: (generationId, { signal } = {}) => request("GET", `/api/generation/status/${id(generationId)}`, { signal }),
    list: ({ limit, cursor, signal } = {}) => request("GET", "/api/generation", { query: { limit, cursor }, signal }),
    cancel: (generationId, { signal } = {}) => request("POST", `/api/generation/${id(generationId)}/cancel`, { signal }),
    async remove(generationId, { signal } = {}) {
      await request("DELETE", `/api/generation/${id(generationId)}`, { signal });
    },
    stats: ({ signal } = {}) => request("GET", "/api/queue/stats", { signal }),
    quota: ({ signal } = {}) => request("GET", "/api/quota", { signal }),
    realtime,
    connect: (rtOptions = {}) => realtime({ ...rtOptions, autoConnect: true }),
  };
}

/** A realtime client on its own: {url (the WebSocket address, without token), token | getToken, ...}. */
export function createRealtime(options) {
  const { token, getToken } = options;
  const rt = new RealtimeClient({ ...options, getToken: typeof getToken === "function" ? getToken : () => token });
  if (options.autoConnect !== false) rt.connect();
  return rt;
}

/**
 * One WebSocket at a time, kept open: it reconnects with exponential
 * backoff and jitter, asks for a sync after every (re)connect, pings to
 * keep the connection alive and to notice a dead one, and drops events
 * older than the newest seen for their generation.
 */
class RealtimeClient {
  #url;
  #getToken;
  #WS;
  #pingMs;
  #silenceMs;
  #backoffStart;
  #backoffMax;
  #maxRetries;
  #watch;
  #listeners = new Map();
  #versions = new Map();
  #ws = null;
  #state = "idle";
  #stopped = true;
  #failures = 0;
  #attempt = 0;
  #retryTimer = null;
  #pingTimer = null;
  #lastHeard = 0;
  #opened = false;
  #onVisible = () => {
    if (globalThis.document?.visibilityState === "visible") this.sync();
  };
  #onOnline = () => this.sync();

  constructor(o) {
    if (!o.url) throw new TypeError("songqueue-client: realtime needs url");
    this.#url = o.url;
    this.#getToken = o.getToken;
    this.#WS = o.WebSocket ?? globalThis.WebSocket;
    this.#pingMs = o.pingIntervalMs ?? 25_000;
    // Silence this long (no pong, no event) means the connection is dead
    // even if the browser has not noticed yet, as after a laptop sleeps.
    this.#silenceMs = o.silenceLimitMs ?? 2 * this.#pingMs + 10_000;
    this.#backoffStart = o.backoff?.initialMs ?? 1_000;
    this.#backoffMax = o.backoff?.maxMs ?? 30_000;
    this.#maxRetries = o.maxRetries ?? Infinity;
    this.#watch = o.watchNetwork ?? typeof globalThis.addEventListener === "function";
  }

  /** "idle" (never connected), "connecting", "open", "reconnecting" or "closed". */
  get state() {
    return this.#state;
  }

  /** on(event, fn) adds a listener and returns a function that removes it. */
  on(event, fn) {
    if (typeof fn !== "function") throw new TypeError("songqueue-client: on(event, fn) needs a function");
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => this.off(event, fn);
  }

  /** once(event, fn): on, for one call. */
  once(event, fn) {
    const off = this.on(event, (...args) => {
      off();
      fn(...args);
    });
    return off;
  }

  /** off(event, fn) removes a listener; off(event) all of the event's; off() every one. */
  off(event, fn) {
    if (event === undefined) this.#listeners.clear();
    else if (fn === undefined) this.#listeners.delete(event);
    else this.#listeners.get(event)?.delete(fn);
  }

  /** Opens the connection (again, after close()); a no-op while it runs. */
  connect() {
    if (!this.#stopped) return this;
    this.#stopped = false;
    this.#failures = 0;
    this.#opened = false;
    if (this.#watch) {
      globalThis.addEventListener("online", this.#onOnline);
      globalThis.document?.addEventListener("visibilitychange", this.#onVisible);
    }
    this.#open();
    return this;
  }

  /** Closes the connection for good: no reconnect until connect(). */
  close() {
    if (this.#stopped) return;
    this.#halt("client", "closed by the client");
  }

  /**
   * Catches up: asks for a sync if connected, or reconnects now instead of
   * waiting out the backoff (done by itself when the tab becomes visible
   * again or the network comes back).
   */
  sync() {
    if (this.#stopped) return;
    if (this.#ws && this.#ws.readyState === 1) {
      this.send({ action: "sync" });
    } else if (this.#retryTimer) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      this.#failures = 0;
      this.#open();
    }
  }

  /** Sends a client message; false when not connected. */
  send(message) {
    if (!this.#ws || this.#ws.readyState !== 1) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  /** The newest version seen of a generation's state, or undefined. */
  versionOf(generationId) {
    return this.#versions.get(generationId);
  }

  // ------------------------------------------------------------ internals

  #emit(event, data, meta) {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(data, meta);
      } catch (e) {
        // A listener's bug is reported, and the other listeners still run.
        if (typeof globalThis.reportError === "function") globalThis.reportError(e);
        else setTimeout(() => {
          throw e;
        });
      }
    }
  }

  async #open() {
    this.#retryTimer = null;
    if (this.#stopped) return;
    const attempt = ++this.#attempt;
    this.#state = this.#opened || this.#failures > 0 ? "reconnecting" : "connecting";
    let token;
    try {
      token = await this.#getToken();
    } catch {
      token = null;
    }
    if (this.#stopped || attempt !== this.#attempt) return;
    if (!token) {
      this.#halt("no_token", "there is no token to connect with");
      return;
    }
    if (tokenExpired(token)) {
      this.#halt("token_expired", "the token has expired; sign in again");
      return;
    }
    let ws;
    try {
      ws = new this.#WS(socketUrl(this.#url, token));
    } catch (e) {
      this.#emit("error", { code: "socket_error", message: String(e?.message ?? e) });
      this.#closed({ code: 1006, reason: "", wasClean: false }, false);
      return;
    }
    this.#ws = ws;
    let wasOpen = false;
    ws.onopen = () => {
      wasOpen = true;
      this.#lastHeard = Date.now();
      const reconnect = this.#opened;
      this.#opened = true;
      this.#state = "open";
      // Whatever happened while away comes back in the sync answer.
      this.send({ action: "sync" });
      this.#pingTimer = setInterval(() => this.#ping(), this.#pingMs);
      this.#emit("open", { reconnect, attempt: this.#failures });
    };
    ws.onmessage = (e) => {
      this.#lastHeard = Date.now();
      // A connection that answers works: the backoff starts over.
      this.#failures = 0;
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return; // not ours to interpret
      }
      if (msg && typeof msg.event === "string") this.#message(msg.event, msg.data);
    };
    ws.onerror = () => {
      // Always followed by close, which reconnects. A browser does not say
      // why (not even the status of a refused handshake).
      this.#emit("error", { code: "socket_error", message: "the WebSocket failed" });
    };
    ws.onclose = (e) => this.#closed(e, wasOpen);
  }

  #message(event, data) {
    switch (event) {
      case "pong":
        this.#emit("pong", data);
        return;
      case "sync": {
        const generations = Array.isArray(data?.generations) ? data.generations : [];
        for (const ev of generations) {
          if (ev && typeof ev.event === "string") this.#generation(ev.event, ev.data, "sync");
        }
        // more: the answer left generations out to fit one WebSocket
        // message; list() has them.
        this.#emit("sync", { generations, more: data?.more === true });
        return;
      }
      case "error":
        this.#emit("error", { ...(data && typeof data === "object" ? data : {}), code: data?.code || "server_error" });
        return;
      default:
        if (GENERATION_EVENTS.includes(event)) this.#generation(event, data, "live");
        else this.#emit(event, data, { event, source: "live" });
    }
  }

  #generation(event, data, source) {
    if (!data || typeof data.generationId !== "string") return;
    if (typeof data.version === "number") {
      const seen = this.#versions.get(data.generationId);
      // A late push, or a sync answer racing a live event: not newer. The
      // one exception is a place in line moving: the same state, placed
      // afresh, comes with the same version.
      const placed = event === "generation:progress" && data.queue && data.version === seen;
      if (seen !== undefined && data.version <= seen && !placed) return;
      this.#versions.set(data.generationId, data.version);
    }
    this.#emit(event, data, { event, source });
  }

  #ping() {
    if (Date.now() - this.#lastHeard > this.#silenceMs) {
      // Do not wait for the browser to time the socket out.
      this.#closed({ code: 4000, reason: "no answer to pings", wasClean: false }, true);
      return;
    }
    this.send({ action: "ping" });
  }

  #closed(e, wasOpen) {
    this.#detach();
    if (this.#stopped) return;
    if (this.#failures >= this.#maxRetries) {
      this.#halt("retries_exhausted", `no connection after ${this.#failures} retries`, e, wasOpen);
      return;
    }
    // Exponential backoff, doubling up to the cap, with jitter (a random
    // delay between half and all of it) so that many clients cut off at
    // once do not all come back in the same instant.
    const ceiling = Math.min(this.#backoffMax, this.#backoffStart * 2 ** this.#failures);
    const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.#failures++;
    this.#state = "reconnecting";
    this.#retryTimer = setTimeout(() => this.#open(), delayMs);
    this.#emit("close", {
      code: e.code ?? 1006,
      reason: e.reason ?? "",
      wasClean: Boolean(e.wasClean),
      wasOpen,
      willReconnect: true,
      delayMs,
      cause: "server",
    });
  }

  #halt(cause, reason, e = null, wasOpen = false) {
    const open = wasOpen || this.#ws?.readyState === 1;
    this.#stopped = true;
    this.#attempt++; // an #open waiting for its token gives up
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#detach();
    if (this.#watch) {
      globalThis.removeEventListener("online", this.#onOnline);
      globalThis.document?.removeEventListener("visibilitychange", this.#onVisible);
    }
    this.#state = "closed";
    if (cause === "token_expired" || cause === "no_token") this.#emit("error", { code: cause, message: reason });
    this.#emit("close", {
      code: e?.code ?? 1000,
      reason: e?.reason || reason,
      wasClean: e ? Boolean(e.wasClean) : true,
      wasOpen: open,
      willReconnect: false,
      delayMs: null,
      cause,
    });
  }

  #detach() {
    clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    const ws = this.#ws;
    this.#ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (ws.readyState === 0 || ws.readyState === 1) ws.close(1000);
  }
}

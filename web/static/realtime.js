// The WebSocket of DESIGN.md section 4: connects with the token, keeps the
// connection alive with pings, reconnects by itself and asks for a sync on
// every (re)connect so that nothing that happened while away is missed.

const PING_EVERY_MS = 25_000;
// Silence this long (no pong, no event) means the connection is dead even
// if the browser has not noticed yet, as after a laptop sleeps.
const SILENCE_LIMIT_MS = 2 * PING_EVERY_MS + 10_000;
const BACKOFF_START_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/** The WebSocket address for a token: wsUrl if configured, else this host's /ws. */
export function socketUrl(token, wsUrl) {
  let base = wsUrl;
  if (!base) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    base = `${scheme}//${location.host}/ws`;
  }
  const sep = base.includes("?") ? "&" : "?";
  return `${base}${sep}token=${encodeURIComponent(token)}`;
}

/**
 * Realtime owns one WebSocket at a time.
 *   onEvent(name, data) for every server message;
 *   onState(state, detail) with state "connecting", "connected" or
 *     "reconnecting" (detail.delayMs until the next try);
 *   canConnect() is asked before every attempt; false stops for good
 *     (the token expired, for instance).
 */
export class Realtime {
  constructor({ url, onEvent, onState, canConnect = () => true }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState;
    this.canConnect = canConnect;
    this.ws = null;
    this.failures = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastHeard = 0;
  }

  start() {
    this.stopped = false;
    this.failures = 0;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.detach();
  }

  /**
   * Catches up: asks for a sync if connected, or reconnects now instead of
   * waiting out the backoff (used when the page becomes visible again or
   * the network comes back).
   */
  resync() {
    if (this.stopped) return;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.send({ action: "sync" });
    } else if (!this.ws) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      this.failures = 0;
      this.connect();
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  connect() {
    this.retryTimer = null;
    if (this.stopped) return;
    if (!this.canConnect()) {
      this.stop();
      return;
    }
    this.onState(this.failures === 0 ? "connecting" : "reconnecting", {});
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.failures = 0;
      this.lastHeard = Date.now();
      this.onState("connected", {});
      this.send({ action: "sync" });
      this.pingTimer = setInterval(() => this.ping(), PING_EVERY_MS);
    };
    ws.onmessage = (e) => {
      this.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return; // not ours to interpret
      }
      if (msg && typeof msg.event === "string") this.onEvent(msg.event, msg.data);
    };
    // error is always followed by close, which does the work.
    ws.onclose = () => {
      this.detach();
      this.scheduleReconnect();
    };
  }

  ping() {
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      // Do not wait for the browser to time the socket out.
      this.detach();
      this.scheduleReconnect();
      return;
    }
    this.send({ action: "ping" });
  }

  detach() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
  }

  scheduleReconnect() {
    if (this.stopped || this.retryTimer) return;
    // Exponential backoff, 1 s doubling to 30 s, with jitter (a random
    // delay between half and all of it) so that many clients cut off at
    // once do not all come back in the same instant.
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.failures);
    const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    this.failures++;
    this.onState("reconnecting", { delayMs });
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }
}

// Behaviour of songqueue-client.js with a fake fetch and a fake WebSocket,
// run by TestClientModuleBehaviour (web_test.go) with `node --test`.
// SONGQUEUE_CLIENT is the module's path (copied as .mjs).
import assert from "node:assert/strict";
import { test } from "node:test";

const { ApiError, createClient, createRealtime, parseRetryAfter, socketUrl, defaultWsUrl, tokenExpired } = await import(
  process.env.SONGQUEUE_CLIENT
);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = 2000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function jwt(payload) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "HS256" })}.${b64(payload)}.sig`;
}

// ---------------------------------------------------------------- HTTP

function fakeFetch(answers) {
  const calls = [];
  const f = async (url, init) => {
    calls.push({ url, ...init });
    const a = answers.shift();
    if (a instanceof Error) throw a;
    const headers = new Headers(a.headers ?? {});
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), { status: a.status ?? 200, headers });
  };
  f.calls = calls;
  return f;
}

test("createGeneration sends the body, the token and the Idempotency-Key", async () => {
  const fetch = fakeFetch([
    { status: 202, body: { generationId: "g1", status: "pending", tier: "PRO", priority: 10, message: "queued" } },
    { status: 202, body: { generationId: "g1", status: "pending", tier: "PRO", priority: 10, message: "again" }, headers: { "Idempotent-Replayed": "true" } },
  ]);
  const client = createClient({ apiBase: "http://api.test/", getToken: async () => "tok", fetch });
  const res = await client.createGeneration({ prompt: "a song" }, { idempotencyKey: "k1" });
  assert.equal(res.generationId, "g1");
  assert.equal(res.replayed, false);
  const c = fetch.calls[0];
  assert.equal(c.url, "http://api.test/api/generation/create");
  assert.equal(c.method, "POST");
  assert.equal(c.headers.Authorization, "Bearer tok");
  assert.equal(c.headers["Content-Type"], "application/json");
  assert.equal(c.headers["Idempotency-Key"], "k1");
  assert.equal(c.credentials, "omit");
  assert.deepEqual(JSON.parse(c.body), { prompt: "a song" });
  assert.equal((await client.createGeneration({ prompt: "a song" }, { idempotencyKey: "k1" })).replayed, true);
});

test("the other routes", async () => {
  const fetch = fakeFetch([
    { body: { generationId: "a/b", status: "processing" } },
    { body: { items: [], nextCursor: "c2" } },
    { body: { items: [] } },
    { body: { generationId: "x", status: "cancelled" } },
    { status: 204 },
    { body: { waiting: 1, byTier: {} } },
    { body: { tier: "PRO", open: { used: 1, limit: 10 }, daily: {} } },
  ]);
  const client = createClient({ apiBase: "http://api.test", token: "tok", fetch });
  assert.equal((await client.getStatus("a/b")).status, "processing");
  assert.equal((await client.list({ limit: 5, cursor: "c1" })).nextCursor, "c2");
  await client.list();
  assert.equal((await client.cancel("x")).status, "cancelled");
  assert.equal(await client.remove("x"), undefined);
  assert.equal((await client.stats()).waiting, 1);
  assert.equal((await client.quota()).open.used, 1);
  assert.deepEqual(
    fetch.calls.map((c) => `${c.method} ${c.url}`),
    [
      "GET http://api.test/api/generation/status/a%2Fb",
      "GET http://api.test/api/generation?limit=5&cursor=c1",
      "GET http://api.test/api/generation",
      "POST http://api.test/api/generation/x/cancel",
      "DELETE http://api.test/api/generation/x",
      "GET http://api.test/api/queue/stats",
      "GET http://api.test/api/quota",
    ],
  );
  assert.ok(fetch.calls.every((c) => c.headers.Authorization === "Bearer tok"));
  assert.equal(fetch.calls[3].headers["Content-Type"], undefined, "a cancel has no body");
});

test("errors are ApiErrors with status, code, message and retryAfter", async () => {
  let unauthorized = 0;
  const fetch = fakeFetch([
    { status: 429, body: { error: { code: "quota_exceeded", message: "open quota of 1 reached" } }, headers: { "Retry-After": "60", "Apigw-Requestid": "r1" } },
    { status: 401, body: { error: { code: "unauthorized", message: "bad token" } } },
    { status: 502, headers: { "Content-Type": "text/html" } },
    new TypeError("Failed to fetch"),
  ]);
  const client = createClient({ apiBase: "http://api.test", token: "tok", fetch, onUnauthorized: () => unauthorized++ });
  const e1 = await client.createGeneration({ prompt: "p" }).catch((e) => e);
  assert.ok(e1 instanceof ApiError && e1 instanceof Error);
  assert.deepEqual([e1.status, e1.code, e1.message, e1.retryAfter, e1.requestId], [429, "quota_exceeded", "open quota of 1 reached", 60, "r1"]);
  const e2 = await client.getStatus("g").catch((e) => e);
  assert.deepEqual([e2.status, e2.code, e2.retryAfter, unauthorized], [401, "unauthorized", null, 1]);
  const e3 = await client.stats().catch((e) => e);
  assert.deepEqual([e3.status, e3.code], [502, "http_502"]);
  const e4 = await client.list().catch((e) => e);
  assert.deepEqual([e4.status, e4.code], [0, "network_error"]);
  const none = createClient({ apiBase: "http://api.test", getToken: () => null, fetch });
  assert.equal((await none.stats().catch((e) => e)).code, "no_token");
});

test("helpers", () => {
  assert.equal(parseRetryAfter("17"), 17);
  assert.equal(parseRetryAfter(new Date(Date.now() + 30_500).toUTCString()) >= 29, true);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(socketUrl("ws://h/ws", "a b"), "ws://h/ws?token=a%20b");
  assert.equal(socketUrl("wss://h/prod?x=1", "t"), "wss://h/prod?x=1&token=t");
  assert.equal(defaultWsUrl("https://api.example/"), "wss://api.example/ws");
  assert.equal(defaultWsUrl("http://localhost:3001"), "ws://localhost:3001/ws");
  assert.equal(tokenExpired(jwt({ exp: 1 })), true);
  assert.equal(tokenExpired(jwt({ exp: Date.now() / 1000 + 60 })), false);
  assert.equal(tokenExpired("opaque"), false);
});

// ---------------------------------------------------------------- WebSocket

class FakeSocket {
  static all = [];
  static refuse = 0; // the next n connections fail before opening
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
    const refused = FakeSocket.refuse > 0 && FakeSocket.refuse--;
    setTimeout(() => {
      if (this.readyState !== 0) return;
      if (refused) {
        this.readyState = 3;
        this.onerror?.({});
        this.onclose?.({ code: 1006, reason: "", wasClean: false });
        return;
      }
      this.readyState = 1;
      this.onopen?.({});
    }, 1);
  }
  send(text) {
    const msg = JSON.parse(text);
    this.sent.push(msg);
    if (msg.action === "ping") this.push({ event: "pong" });
  }
  push(msg) {
    setTimeout(() => this.onmessage?.({ data: JSON.stringify(msg) }), 0);
  }
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean: code === 1000 });
  }
  close() {
    this.readyState = 3;
  }
}

function recorder(rt, names) {
  const seen = [];
  for (const n of names) rt.on(n, (data, meta) => seen.push({ n, data, meta }));
  return seen;
}

test("realtime: sync on every (re)connect, version filter, reconnect with backoff", async (t) => {
  FakeSocket.all = [];
  const client = createClient({ apiBase: "http://api.test", token: "tok", WebSocket: FakeSocket });
  const rt = client.realtime({ backoff: { initialMs: 20, maxMs: 80 }, watchNetwork: false });
  t.after(() => rt.close()); // a failed assertion must not leave it reconnecting
  const seen = recorder(rt, ["open", "close", "sync", "error", "generation:progress", "generation:complete", "generation:cancelled"]);
  assert.equal(rt.state, "connecting");
  const ws = await until("a socket", () => FakeSocket.all[0]);
  assert.equal(ws.url, "ws://api.test/ws?token=tok");
  await until("the sync request", () => ws.sent.length === 1);
  assert.deepEqual(ws.sent, [{ action: "sync" }]);
  assert.equal(rt.state, "open");

  ws.push({
    event: "sync",
    data: {
      generations: [
        { event: "generation:progress", data: { generationId: "a", progress: 30, status: "processing", version: 3 } },
        { event: "generation:cancelled", data: { generationId: "b", status: "cancelled", version: 5 } },
      ],
    },
  });
  await until("the sync event", () => seen.some((s) => s.n === "sync"));
  assert.deepEqual(
    seen.filter((s) => s.n !== "open").map((s) => `${s.n} ${s.meta?.source ?? ""}`),
    ["generation:progress sync", "generation:cancelled sync", "sync "],
  );
  assert.equal(seen.find((s) => s.n === "sync").data.generations.length, 2);

  seen.length = 0;
  ws.push({ event: "generation:progress", data: { generationId: "a", progress: 10, status: "processing", version: 2 } }); // older
  ws.push({ event: "generation:progress", data: { generationId: "a", progress: 30, status: "processing", version: 3 } }); // the same
  ws.push({ event: "generation:progress", data: { generationId: "a", progress: 70, status: "processing", version: 4 } });
  // A place in line that moved: the same state (version), placed afresh.
  ws.push({ event: "generation:progress", data: { generationId: "a", progress: 70, status: "processing", version: 4, queue: { ahead: 2 } } });
  ws.push({ event: "generation:complete", data: { generationId: "a", audioUrl: "http://x/a.mp3", tracks: [], status: "completed", version: 6 } });
  ws.push({ event: "error", data: { code: "rate_limited", message: "slow down" } });
  await until("the complete event", () => seen.some((s) => s.n === "generation:complete"));
  await until("the error event", () => seen.some((s) => s.n === "error"));
  assert.deepEqual(
    seen.map((s) => `${s.n} ${s.data.queue ? `#${s.data.queue.ahead + 1}` : (s.data.progress ?? s.data.audioUrl ?? s.data.code)}`),
    ["generation:progress 70", "generation:progress #3", "generation:complete http://x/a.mp3", "error rate_limited"],
  );
  assert.equal(rt.versionOf("a"), 6);

  // The server drops the connection: close says when the next try is.
  seen.length = 0;
  ws.drop(1001, "going away");
  const close = seen.find((s) => s.n === "close").data;
  assert.equal(close.willReconnect, true);
  assert.equal(close.wasOpen, true);
  assert.ok(close.delayMs >= 10 && close.delayMs <= 20, `first delay ${close.delayMs}`);
  assert.equal(rt.state, "reconnecting");
  const ws2 = await until("a second socket", () => FakeSocket.all[1]);
  await until("the second sync", () => ws2.sent.length === 1);
  assert.deepEqual(ws2.sent, [{ action: "sync" }]);
  assert.equal(seen.find((s) => s.n === "open").data.reconnect, true);
  // A sync after the reconnect repeats what was seen: nothing is emitted twice.
  seen.length = 0;
  ws2.push({ event: "sync", data: { generations: [{ event: "generation:complete", data: { generationId: "a", audioUrl: "u", tracks: [], status: "completed", version: 6 } }] } });
  await until("the sync event", () => seen.some((s) => s.n === "sync"));
  assert.deepEqual(seen.map((s) => s.n), ["sync"]);

  // Refused attempts back off: 20, 40, 80, 80 ms ceilings (half to all).
  seen.length = 0;
  FakeSocket.refuse = 4;
  ws2.drop();
  await until("four failed attempts", () => seen.filter((s) => s.n === "close").length === 5, 3000);
  const delays = seen.filter((s) => s.n === "close").map((s) => s.data.delayMs);
  const ceilings = [20, 40, 80, 80, 80];
  delays.forEach((d, i) => assert.ok(d >= ceilings[i] / 2 && d <= ceilings[i], `delay ${i} = ${d}, ceiling ${ceilings[i]}: ${delays}`));
  assert.ok(seen.filter((s) => s.n === "close").slice(1).every((s) => s.data.wasOpen === false));
  assert.ok(seen.some((s) => s.n === "error" && s.data.code === "socket_error"));
  const ws7 = await until("a working socket again", () => FakeSocket.all.length === 7 && FakeSocket.all[6].readyState === 1 && FakeSocket.all[6]);
  await until("its sync", () => ws7.sent.length === 1);

  // close() stops for good.
  seen.length = 0;
  rt.close();
  assert.equal(rt.state, "closed");
  assert.deepEqual(seen.map((s) => `${s.n} ${s.data.cause} ${s.data.willReconnect}`), ["close client false"]);
  await sleep(120);
  assert.equal(FakeSocket.all.length, 7);
});

test("realtime: keep-alive pings, on/off, expired tokens stop it", async (t) => {
  FakeSocket.all = [];
  let token = jwt({ sub: "u", exp: Date.now() / 1000 + 3600 });
  const rt = createRealtime({ url: "ws://h/ws", getToken: () => token, WebSocket: FakeSocket, pingIntervalMs: 15, backoff: { initialMs: 5 }, watchNetwork: false });
  t.after(() => rt.close());
  const pongs = [];
  const off = rt.on("pong", () => pongs.push(1));
  const ws = await until("a socket", () => FakeSocket.all[0]);
  await until("two pings answered", () => pongs.length >= 2);
  assert.ok(ws.sent.filter((m) => m.action === "ping").length >= 2);
  off();
  const n = pongs.length;
  await sleep(50);
  assert.equal(pongs.length, n, "off() removed the listener");

  const seen = recorder(rt, ["close", "error"]);
  token = jwt({ sub: "u", exp: 1 });
  ws.drop(1008, "token expired; reconnect with a fresh one");
  await until("the client to stop", () => rt.state === "closed");
  assert.deepEqual(
    seen.map((s) => `${s.n} ${s.data.cause ?? s.data.code}`),
    ["close server", "error token_expired", "close token_expired"],
  );
  assert.equal(FakeSocket.all.length, 1, "no connection with an expired token");
});

test("realtime: a silent connection is replaced", async (t) => {
  FakeSocket.all = [];
  class Mute extends FakeSocket {
    send(text) {
      this.sent.push(JSON.parse(text)); // never answers
    }
  }
  const rt = createRealtime({ url: "ws://h/ws", token: "t", WebSocket: Mute, pingIntervalMs: 10, silenceLimitMs: 30, backoff: { initialMs: 4 }, watchNetwork: false });
  t.after(() => rt.close());
  await until("a second socket after the silence", () => FakeSocket.all.length >= 2, 2000);
});

// What messages.js tells a song maker, run by TestMessagesBehaviour
// (web_test.go) with `node --test`. SONGQUEUE_MESSAGES is the module's
// path (copied as .mjs).
import assert from "node:assert/strict";
import { test } from "node:test";

const { actionError, createError, failureOf, quotaText, stageText } = await import(process.env.SONGQUEUE_MESSAGES);

// A person's words: no code, no address, no program error.
function plain(text) {
  assert.ok(text.length > 10, `too short: ${text}`);
  assert.doesNotMatch(text, /_|:\/\/|\bSuno\b|\bapi\b|\bgeneration\b|\d{3}\b/i, text);
}

const CODES = ["content_refused", "prompt_too_long", "audio_failed", "suno_timeout", "suno_error", "suno_unavailable", "suno_credits",
  "suno_key_refused", "rate_limited", "max_wait_exceeded", "attempts_exhausted", "worker_stopped", "invalid_tracks", "unknown_task"];

test("a failure is a sentence, and trying again is offered where it can help", () => {
  for (const code of CODES) {
    const f = failureOf(code);
    plain(f.text);
    assert.equal(f.again, code !== "content_refused" && code !== "prompt_too_long", code);
  }
  assert.deepEqual(failureOf("something_new"), failureOf(""));
  assert.equal(failureOf("").again, true);
  assert.equal(failureOf("toString").again, true, "no inherited property is a code");
});

test("each stage and each hold says where the song is", () => {
  for (const waitReason of ["tier_paused", "suno_unavailable", "suno_credits", "rate_limited", "a_new_reason"]) {
    const text = stageText({ status: "pending", waitReason, attempts: 0, progress: 0 });
    plain(text);
    assert.match(text, /^Waiting/);
  }
  assert.match(stageText({ status: "pending", waitReason: "tier_paused" }), /paused/);
  assert.match(stageText({ status: "pending", waitReason: "suno_unavailable" }), /maintenance/);
  assert.equal(stageText({ status: "pending", waitReason: "", attempts: 0 }), "Waiting in line.");
  assert.match(stageText({ status: "pending", waitReason: "", attempts: 1 }), /try again/);
  const seen = new Set();
  for (const progress of [10, 30, 70, 90]) {
    const text = stageText({ status: "processing", progress });
    plain(text);
    seen.add(text);
  }
  assert.equal(seen.size, 4, "every stage has its own sentence");
  assert.match(stageText({ status: "processing", progress: 70 }), /play/);
  assert.equal(stageText({ status: "failed", errorCode: "audio_failed" }), failureOf("audio_failed").text);
  for (const status of ["completed", "cancelled"]) plain(stageText({ status }));
});

test("a refused action says what to do, never the server's text", () => {
  const err = (status, code = "", message = "generation 123 is already completed; GET /api/x", retryAfter = null) =>
    Object.assign(new Error(message), { status, code, retryAfter });
  for (const e of [err(0), err(404), err(409), err(429, "rate_limited", "", 12), err(500), err(503)]) {
    const text = actionError(e, "cancel this song");
    plain(text);
    assert.match(text, /^Could not cancel this song/);
  }
  assert.match(actionError(err(0), "x"), /connection/);
  assert.match(actionError(err(429, "rate_limited", "", 12), "x"), /in 12 s/);
  assert.match(actionError(err(500), "x"), /server had a problem/);
});

test("a refused create names the limit and when it frees", () => {
  const quota = (message, retryAfter) => Object.assign(new Error(message), { status: 429, code: "quota_exceeded", retryAfter });
  const daily = createError(quota("you have created 20 generations in the last 24 hours, the most a FREE account may", 3600));
  plain(daily);
  assert.match(daily, /24 hours/);
  assert.match(daily, /in about 60 min/);
  const open = createError(quota("you have 3 unfinished generations, the most a FREE account may have at once", 30));
  plain(open);
  assert.match(open, /in progress/);
  const lost = createError(Object.assign(new Error("fetch failed"), { status: 0 }));
  assert.match(lost, /safe/);
  for (const status of [400, 409, 413, 500]) plain(createError(Object.assign(new Error("invalid_prompt: x"), { status })));
});

test("the plan's card gives the server's numbers in plain words", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");
  const pro = (open, daily, nextFreeAt) => ({
    tier: "PRO",
    open: { used: open, limit: 10 },
    daily: { used: daily, limit: 100, windowHours: 24, ...(nextFreeAt ? { nextFreeAt } : {}) },
  });
  assert.deepEqual(quotaText(pro(2, 5), now), { open: "2 of 10 songs in progress", today: "5 of 100 songs today", next: "" });
  // A limit the plan does not have is an empty object.
  assert.deepEqual(quotaText({ tier: "ENTERPRISE", open: {}, daily: {} }, now), {
    open: "Songs in progress: no limit",
    today: "Songs today: no limit",
    next: "",
  });
  // A limit reached says when the next song can be made.
  const full = quotaText(pro(10, 5), now);
  assert.equal(full.open, "10 of 10 songs in progress");
  plain(full.next);
  assert.match(full.next, /in progress/);
  const day = quotaText(pro(3, 100, "2026-12-06T13:30:00Z"), now);
  assert.equal(day.today, "100 of 100 songs today");
  plain(day.next);
  assert.match(day.next, /in about 90 min/);
  assert.match(quotaText(pro(3, 100), now).next, /later today/);
  // Nonsense from a server is no number.
  assert.equal(quotaText({ open: { used: "2", limit: 10 }, daily: { used: 1, limit: 0 } }, now).open, "Songs in progress: no limit");
  assert.equal(quotaText(null, now).today, "Songs today: no limit");
});

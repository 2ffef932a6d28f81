// What a song maker reads: each state and each failure in plain words.
// The API's codes (openapi.yaml: WaitReason, ErrorCode, the error codes of
// its answers) are mapped to sentences here, so the page never shows a
// server's developer text, a URL or a program error.

/** Why a pending song is held, by its waitReason. */
const WAIT_TEXT = {
  tier_paused:
    "Waiting: making songs on your plan is paused for a moment. Your song keeps its place in line and starts when it resumes.",
  suno_unavailable:
    "Waiting: the music service is down for maintenance or an outage. Your song starts as soon as it is back.",
  suno_credits: "Waiting: the music service has no room for more songs right now. Your song starts as soon as it has.",
  rate_limited: "Waiting for a free slot at the music service.",
};

/**
 * What happened to a failed song, by its errorCode, and whether making it
 * again can help: a refused or too long prompt fails again unchanged.
 */
const FAILURES = {
  content_refused: {
    text: "The music service refused this prompt or its lyrics (for example for sensitive words or copyrighted material). Change them and create a new song.",
    again: false,
  },
  prompt_too_long: { text: "The prompt or lyrics are too long for the music service. Shorten them and create a new song.", again: false },
  audio_failed: { text: "The music service could not make the audio for this song.", again: true },
  attempts_exhausted: { text: "The music service kept running into trouble, so we stopped after several tries.", again: true },
  max_wait_exceeded: { text: "The song waited too long for the music service to be available.", again: true },
  suno_timeout: { text: "The music service took too long to answer.", again: true },
  suno_error: { text: "The music service ran into an error.", again: true },
  suno_unavailable: { text: "The music service was unavailable.", again: true },
  suno_credits: { text: "The music service had no room for more songs.", again: true },
  suno_key_refused: { text: "The music service did not accept our account.", again: true },
  rate_limited: { text: "The music service was too busy.", again: true },
  worker_stopped: { text: "Our server stopped while making this song.", again: true },
  invalid_tracks: { text: "The music service sent back a song we could not use.", again: true },
  unknown_task: { text: "The music service lost track of this song.", again: true },
};
const UNKNOWN_FAILURE = { text: "Something went wrong while making this song.", again: true };

/** {text, again} for a failed song's errorCode (unknown codes: a general sentence). */
export function failureOf(errorCode) {
  return Object.hasOwn(FAILURES, errorCode) ? FAILURES[errorCode] : UNKNOWN_FAILURE;
}

/** The line under a song that says where it is. */
export function stageText(g) {
  switch (g.status) {
    case "pending":
      if (g.waitReason) return WAIT_TEXT[g.waitReason] ?? "Waiting: the music service cannot take your song yet. It starts as soon as it can.";
      return g.attempts > 0 ? "Waiting to try again after a hiccup at the music service." : "Waiting in line.";
    case "processing":
      if (g.progress >= 90) return "Almost done: saving your song.";
      if (g.progress >= 70) return "The first version is ready to play while the rest is made.";
      if (g.progress >= 30) return "The music service is making your song.";
      return "Getting your song started…";
    case "completed":
      return "Ready to play.";
    case "failed":
      return failureOf(g.errorCode).text;
    case "cancelled":
      return "Cancelled. Nothing more will be made.";
  }
  return "";
}

/**
 * A sentence for an ApiError (songqueue-client.js) from one of the user's
 * own actions: what went wrong and what to do, never the server's words
 * for developers. action names the action ("cancel this song").
 */
export function actionError(e, action) {
  const status = typeof e?.status === "number" ? e.status : -1;
  if (status === 0) return `Could not ${action}: the server cannot be reached. Check your connection and try again.`;
  if (status === 429) {
    const wait = waitText(e.retryAfter);
    return `Could not ${action}: too many requests at once. Try again${wait ? ` ${wait}` : " in a moment"}.`;
  }
  if (status >= 500) return `Could not ${action}: the server had a problem. Try again in a moment.`;
  if (status === 404) return `Could not ${action}: the song no longer exists.`;
  return `Could not ${action}. Try again in a moment.`;
}

/**
 * Why a create was refused, in plain words. The form checks the limits
 * before it sends, so a 400 is rare (a limit changed on the server); a
 * 429 is the plan's quota or too many requests.
 */
export function createError(e) {
  if (e?.status === 429 && e.code === "quota_exceeded") {
    const wait = waitText(e.retryAfter);
    // The server's message says which limit; only the kind is taken from it.
    if (/24 hours/.test(e.message ?? "")) {
      return `You have created as many songs in the last 24 hours as your plan allows. You can create the next one ${wait || "later today"}.`;
    }
    return "You have as many songs in progress as your plan allows. You can create another when one of them finishes, or after you cancel one.";
  }
  if (e?.status === 400 || e?.status === 413) {
    return "The song could not be created as written. Check the prompt, style and title, and try again.";
  }
  if (e?.status === 409) return "This song could not be created. Change something and create it again.";
  const text = actionError(e, "create the song");
  // An unknown outcome keeps its Idempotency-Key (see onCreate in app.js).
  return e?.status === 0 || e?.status >= 500 ? `${text} Creating the same song again is safe: it will not be made twice.` : text;
}

/**
 * The "Your plan" card's lines for GET /api/quota's answer (songqueue-client.js
 * quota()): {open, today, next}. open and today give the plan's numbers
 * ("2 of 10 songs in progress", "5 of 100 songs today") or say there is
 * no limit; next, once a limit is reached, when the next song can be
 * created ("" before). now is the time in ms.
 */
export function quotaText(q, now = Date.now()) {
  const open = limitOf(q?.open);
  const daily = limitOf(q?.daily);
  const out = {
    open: open ? `${open.used} of ${open.limit} songs in progress` : "Songs in progress: no limit",
    today: daily ? `${daily.used} of ${daily.limit} songs today` : "Songs today: no limit",
    next: "",
  };
  if (daily && daily.used >= daily.limit) {
    const at = Date.parse(q.daily.nextFreeAt ?? "");
    const wait = Number.isFinite(at) ? waitText(Math.max(1, (at - now) / 1000)) : "";
    out.next = `You have made as many songs today as your plan allows. You can create the next one ${wait || "later today"}.`;
  } else if (open && open.used >= open.limit) {
    out.next = "You have as many songs in progress as your plan allows. You can create another when one of them finishes, or after you cancel one.";
  }
  return out;
}

/** {used, limit} of one limit of GET /api/quota, or null when the plan has none. */
function limitOf(l) {
  const ok = (n) => typeof n === "number" && Number.isFinite(n) && n >= 0;
  return l && ok(l.used) && ok(l.limit) && l.limit > 0 ? { used: l.used, limit: l.limit } : null;
}

function waitText(seconds) {
  if (typeof seconds !== "number" || !(seconds > 0)) return "";
  if (seconds < 60) return `in ${Math.ceil(seconds)} s`;
  const min = Math.ceil(seconds / 60);
  return min < 120 ? `in about ${min} min` : `in about ${Math.round(min / 60)} hours`;
}

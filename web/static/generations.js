// The live list of the user's generations. It keeps one record per
// generation, merges what the HTTP API and the WebSocket say about it, and
// keeps one <li> per record up to date.

import { el, safeUrl, shorten } from "./dom.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const CANCELLABLE = new Set(["pending", "processing"]);

const STATUS_LABELS = {
  pending: "Pending",
  processing: "Processing",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

// What each event means for a record that had no message of its own (only
// progress events carry one); the texts are the server's own.
const EVENT_STATUS = {
  "generation:complete": ["completed", "Your song is ready"],
  "generation:error": ["failed", "Generation failed"],
  "generation:cancelled": ["cancelled", "Cancelled"],
};

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const str = (v) => (typeof v === "string" ? v : "");

/** The name a person knows a song by: its title, else its prompt. */
export function displayName(g) {
  if (g.title) return g.title;
  if (g.prompt) return g.prompt;
  if (g.placeholder) return "Loading song details…";
  return g.instrumental ? "Instrumental" : "Untitled song";
}

/** The sentence to announce for a change applyEvent reported, or null. */
export function describeChange({ g, before, created }) {
  if (created || !before || g.placeholder) return null; // details not loaded yet; later events will speak
  const name = `Song '${shorten(displayName(g))}'`;
  if (g.status !== before.status) {
    switch (g.status) {
      case "completed":
        return `${name} is ready.`;
      case "failed":
        return `${name} failed${g.error ? `: ${g.error}` : "."}`;
      case "cancelled":
        return `${name} was cancelled.`;
      case "pending":
        return `${name} is waiting${g.message ? `: ${g.message}` : "."}`;
    }
  }
  if (g.status === "processing" && g.progress !== before.progress) return `${name} is ${g.progress}% done.`;
  return null;
}

export class GenerationList {
  /** onCancel(id) and onRemove(id) are called when a Cancel or Remove button is pressed. */
  constructor({ listEl, emptyEl, onCancel, onRemove }) {
    this.listEl = listEl;
    this.emptyEl = emptyEl;
    this.onCancel = onCancel;
    this.onRemove = onRemove;
    this.items = new Map();
  }

  clear() {
    this.items.clear();
    this.listEl.replaceChildren();
    this.updateEmpty();
  }

  has(id) {
    return this.items.has(id);
  }

  get(id) {
    return this.items.get(id);
  }

  /**
   * Adds or updates a generation from an HTTP status object (GET status or
   * list). Descriptive fields (prompt, title, tier, createdAt) are always
   * taken. The state (status, progress, tracks…) is taken unless
   * keepState is true, because a WebSocket event newer than this answer has
   * already been applied; a finished state is always taken, since nothing
   * comes after it.
   */
  upsertStatus(s, { keepState = false } = {}) {
    if (!s || typeof s.generationId !== "string") return null;
    let g = this.items.get(s.generationId);
    const isNew = !g;
    if (isNew) g = this.newRecord(s.generationId);
    const req = s.request && typeof s.request === "object" ? s.request : {};
    g.prompt = str(s.prompt) || str(req.prompt) || g.prompt;
    g.title = str(s.title) || str(req.title) || g.title;
    g.instrumental = Boolean(s.instrumental ?? req.instrumental ?? g.instrumental);
    g.tier = str(s.tier) || g.tier;
    if (str(s.createdAt)) g.createdAt = s.createdAt;
    g.placeholder = false;
    const versioned = typeof s.version === "number";
    const takeState = versioned
      ? isNew || s.version > g.version
      : isNew || !keepState || (TERMINAL.has(s.status) && !TERMINAL.has(g.status));
    if (takeState && str(s.status)) {
      if (versioned) g.version = s.version;
      g.status = s.status;
      g.progress = num(s.progress);
      g.message = str(s.message);
      g.attempts = num(s.attempts);
      g.error = str(s.error);
      g.tracks = Array.isArray(s.tracks) ? s.tracks : [];
      g.audioUrl = str(s.audioUrl);
      g.queue = placeOf(s.queue);
    } else if (versioned && s.version === g.version && s.queue) {
      g.queue = placeOf(s.queue); // the same state, placed afresh
    }
    this.place(g, isNew);
    this.render(g);
    return g;
  }

  /** Puts a just-created generation at the top. */
  addCreated(resp, req) {
    const known = this.items.get(resp.generationId);
    if (known) {
      // An idempotent replay, or an event won the race. A placeholder made
      // by that event has no details yet; the request has them, so the
      // "Queued" message and later announcements name the song.
      if (known.placeholder) {
        Object.assign(known, {
          tier: known.tier || str(resp.tier),
          prompt: req.prompt.trim(),
          title: req.customMode ? req.title.trim() : "",
          instrumental: req.instrumental,
          createdAt: known.createdAt || new Date().toISOString(),
          placeholder: false,
        });
        this.place(known, false);
        this.render(known);
      }
      return known;
    }
    const g = this.newRecord(resp.generationId);
    Object.assign(g, {
      status: str(resp.status) || "pending",
      tier: str(resp.tier),
      message: str(resp.message) || "Queued",
      queue: placeOf(resp.queue),
      prompt: req.prompt.trim(),
      title: req.customMode ? req.title.trim() : "",
      instrumental: req.instrumental,
      createdAt: new Date().toISOString(),
    });
    this.place(g, true);
    this.render(g);
    return g;
  }

  /**
   * Applies a WebSocket event. An unknown generation gets a placeholder
   * record (created: true) that the caller fills in with GET status.
   * Returns {g, before, created}, or null if the event was not usable.
   */
  applyEvent(name, data) {
    if (!data || typeof data.generationId !== "string") return null;
    const [status, message] =
      name === "generation:progress" ? [str(data.status) || "processing", str(data.message)] : EVENT_STATUS[name] ?? [];
    if (!status) return null;
    let g = this.items.get(data.generationId);
    const created = !g;
    if (created) {
      g = this.newRecord(data.generationId);
      g.placeholder = true;
      this.place(g, true);
    }
    const before = { status: g.status, progress: g.progress };
    // Events carry the version of the state they show: one older than what
    // is shown (a late push, a sync answer racing a live event) is ignored.
    if (typeof data.version === "number") {
      if (data.version === g.version && name === "generation:progress" && data.queue && g.status === "pending") {
        // The same state with a new place in line: the sweeper's notice.
        g.queue = placeOf(data.queue);
        this.render(g);
        return { g, before: null, created };
      }
      if (data.version <= g.version) return { g, before: null, created };
      g.version = data.version;
    } else if (TERMINAL.has(g.status) && status !== g.status) {
      // Without versions: a finished generation never changes again, and a
      // stale progress event of the same attempt cannot lower it.
      return { g, before: null, created };
    } else if (
      name === "generation:progress" &&
      status === g.status &&
      status === "processing" &&
      num(data.attempts) === g.attempts &&
      num(data.progress) < g.progress
    ) {
      return { g, before: null, created };
    }
    g.status = status;
    g.seq++;
    switch (name) {
      case "generation:progress":
        g.progress = num(data.progress);
        g.message = message;
        g.queue = placeOf(data.queue);
        if (typeof data.attempts === "number") g.attempts = data.attempts;
        if (status !== "failed") g.error = "";
        break;
      case "generation:complete":
        g.progress = 100;
        g.message = message;
        g.error = "";
        if (Array.isArray(data.tracks) && data.tracks.length) g.tracks = data.tracks;
        g.audioUrl = str(data.audioUrl) || g.audioUrl;
        break;
      case "generation:error":
        g.message = message;
        g.error = str(data.error) || g.error || "Unknown error";
        break;
      case "generation:cancelled":
        g.message = message;
        break;
    }
    this.render(g);
    return { g, before, created };
  }

  /** Renders the waiting songs again, so their estimates count down. */
  tick() {
    for (const g of this.items.values()) {
      if (g.status === "pending" && g.queue) this.render(g);
    }
  }

  /** Shows a note under a generation, such as why it could not be cancelled. */
  setNotice(id, text) {
    const g = this.items.get(id);
    if (!g) return;
    g.refs.notice.textContent = text;
    g.refs.notice.hidden = !text;
  }

  setCancelBusy(id, busy) {
    const g = this.items.get(id);
    if (!g) return;
    g.cancelBusy = busy;
    this.render(g);
  }

  setRemoveBusy(id, busy) {
    const g = this.items.get(id);
    if (!g) return;
    g.removeBusy = busy;
    this.render(g);
  }

  /**
   * Takes a generation out of the list. If keyboard focus was inside its
   * item, it moves to the next item's title (else the previous one's, else
   * focusEl), so it is not lost with the element.
   */
  remove(id, { focusEl = null } = {}) {
    const g = this.items.get(id);
    if (!g) return;
    if (g.li.contains(document.activeElement)) {
      const next = g.li.nextElementSibling ?? g.li.previousElementSibling;
      const target = next ? this.items.get(next.dataset.generationId)?.refs.title : focusEl;
      target?.focus();
    }
    g.li.remove();
    this.items.delete(id);
    this.updateEmpty();
  }

  // --- records and elements ---

  newRecord(id) {
    const g = {
      id,
      status: "pending",
      progress: 0,
      message: "",
      tier: "",
      attempts: 0,
      prompt: "",
      title: "",
      instrumental: false,
      tracks: [],
      audioUrl: "",
      error: "",
      // queue is the place in line of a waiting song: {ahead, start}.
      queue: null,
      createdAt: "",
      placeholder: false,
      cancelBusy: false,
      removeBusy: false,
      // seq counts applied events; see refresh in app.js.
      seq: 0,
      // version is the server's version of the state shown: it grows with
      // every saved change, and nothing older is applied.
      version: 0,
      tracksKey: "",
    };
    this.build(g);
    this.items.set(id, g);
    return g;
  }

  build(g) {
    const domId = `gen-${g.id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const r = {};
    r.title = el("h3", { className: "gen-title", id: `${domId}-title`, tabIndex: -1 });
    r.status = el("span", { className: "gen-status" });
    r.prompt = el("p", { className: "gen-prompt" });
    r.tier = el("dd", { className: "gen-tier" });
    r.attempts = el("dd", { className: "gen-attempts" });
    r.created = el("time", { className: "gen-created" });
    r.progress = el("progress", { className: "gen-progress", max: 100, value: 0 });
    r.percent = el("span", { className: "gen-percent", "aria-hidden": "true" });
    r.message = el("p", { className: "gen-message" });
    r.place = el("p", { className: "gen-place", hidden: true });
    r.error = el("p", { className: "gen-error", hidden: true });
    r.notice = el("p", { className: "gen-notice", hidden: true });
    r.tracks = el("ol", { className: "gen-tracks", hidden: true });
    r.cancel = el("button", { className: "gen-cancel", type: "button" }, "Cancel");
    r.cancel.addEventListener("click", () => this.onCancel(g.id));
    r.remove = el("button", { className: "gen-remove", type: "button", hidden: true }, "Remove");
    r.remove.addEventListener("click", () => this.onRemove?.(g.id));
    g.refs = r;
    g.li = el(
      "li",
      { className: "gen-item", "data-generation-id": g.id, "aria-labelledby": `${domId}-title` },
      el("div", { className: "gen-head" }, r.title, r.status),
      r.prompt,
      el(
        "dl",
        { className: "gen-meta" },
        el("div", {}, el("dt", {}, "Tier"), r.tier),
        el("div", {}, el("dt", {}, "Attempts"), r.attempts),
        el("div", {}, el("dt", {}, "Created"), el("dd", {}, r.created)),
      ),
      el("div", { className: "gen-progress-row" }, r.progress, r.percent),
      r.message,
      r.place,
      r.error,
      r.notice,
      r.tracks,
      el("div", { className: "gen-actions" }, r.cancel, r.remove),
    );
  }

  /** Inserts (or moves) the element so the list stays newest first. */
  place(g, isNew) {
    const key = Date.parse(g.createdAt) || Date.now();
    if (!isNew && key === g.sortKey && g.li.isConnected) return;
    g.sortKey = key;
    let before = null;
    for (const li of this.listEl.children) {
      const other = this.items.get(li.dataset.generationId);
      if (other && other !== g && other.sortKey < key) {
        before = li;
        break;
      }
    }
    this.listEl.insertBefore(g.li, before);
    this.updateEmpty();
  }

  render(g) {
    const r = g.refs;
    const name = displayName(g);
    g.li.dataset.status = g.status;
    r.title.textContent = name;
    // The prompt is shown under the title only when the title is not it.
    r.prompt.textContent = g.title && g.prompt ? g.prompt : "";
    r.prompt.hidden = !r.prompt.textContent;
    r.status.textContent = STATUS_LABELS[g.status] ?? g.status;
    r.status.dataset.status = g.status;
    r.tier.textContent = g.tier || "—";
    r.attempts.textContent = String(g.attempts);
    if (g.createdAt && !Number.isNaN(Date.parse(g.createdAt))) {
      r.created.dateTime = g.createdAt;
      r.created.textContent = new Date(g.createdAt).toLocaleString();
    } else {
      r.created.textContent = "—";
    }
    const progress = Math.max(0, Math.min(100, g.progress));
    r.progress.value = progress;
    r.progress.setAttribute("aria-label", `Progress of song '${shorten(name)}'`);
    r.percent.textContent = `${progress}%`;
    r.message.textContent = g.message;
    r.message.hidden = !g.message;
    r.place.textContent = g.status === "pending" ? placeText(g.queue, Date.now()) : "";
    r.place.hidden = !r.place.textContent;
    r.error.textContent = g.status === "failed" ? g.error || "Unknown error" : "";
    r.error.hidden = g.status !== "failed";
    const cancellable = CANCELLABLE.has(g.status);
    r.cancel.hidden = !cancellable;
    r.cancel.disabled = g.cancelBusy;
    r.cancel.textContent = g.cancelBusy ? "Cancelling…" : "Cancel";
    r.cancel.setAttribute("aria-label", `Cancel song '${shorten(name)}'`);
    const removable = TERMINAL.has(g.status) && !g.placeholder && Boolean(this.onRemove);
    r.remove.hidden = !removable;
    r.remove.disabled = g.removeBusy;
    r.remove.textContent = g.removeBusy ? "Removing…" : "Remove";
    r.remove.setAttribute("aria-label", `Remove song '${shorten(name)}' from your list`);
    if ((!cancellable && document.activeElement === r.cancel) || (!removable && document.activeElement === r.remove)) {
      // The button is about to vanish under the keyboard user's focus.
      r.title.focus();
    }
    this.renderTracks(g, name);
  }

  renderTracks(g, name) {
    let tracks = g.status === "completed" ? g.tracks.filter((t) => t && typeof t === "object") : [];
    if (g.status === "completed" && tracks.length === 0 && g.audioUrl) tracks = [{ audioUrl: g.audioUrl }];
    // Rebuild only when the tracks change, so a playing <audio> is not
    // interrupted by an unrelated update.
    const key = JSON.stringify(tracks);
    if (key === g.tracksKey) return;
    g.tracksKey = key;
    g.refs.tracks.replaceChildren(...tracks.map((t, i) => trackItem(t, i, tracks.length, name)));
    g.refs.tracks.hidden = tracks.length === 0;
  }

  updateEmpty() {
    this.emptyEl.hidden = this.items.size > 0;
  }
}

function trackItem(t, i, count, songName) {
  const title = str(t.title) || (count > 1 ? `${songName} (track ${i + 1})` : songName);
  const image = safeUrl(t.imageUrl);
  const audio = safeUrl(t.audioUrl) || safeUrl(t.streamAudioUrl);
  const duration = num(t.duration);
  return el(
    "li",
    { className: "gen-track", "data-track-id": str(t.id) || undefined },
    image ? el("img", { className: "gen-cover", src: image, alt: `Cover of ${title}`, width: 96, height: 96, loading: "lazy", decoding: "async" }) : null,
    el(
      "div",
      { className: "gen-track-body" },
      el(
        "p",
        { className: "gen-track-title" },
        title,
        duration > 0 ? el("span", { className: "gen-track-duration" }, ` (${formatDuration(duration)})`) : null,
      ),
      audio
        ? el("audio", { className: "gen-audio", controls: true, preload: "none", src: audio, "aria-label": `Play ${title}` })
        : el("p", { className: "gen-track-missing" }, "No audio address was returned for this track."),
    ),
  );
}

function formatDuration(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A place in line from the API ({ahead, estimatedStart}), or null. */
function placeOf(q) {
  if (!q || typeof q !== "object" || typeof q.ahead !== "number" || q.ahead < 0) return null;
  const start = Date.parse(q.estimatedStart);
  return { ahead: q.ahead, start: Number.isNaN(start) ? null : start };
}

/**
 * What a waiting person reads: "#3 in line, about 2 min". The estimate
 * counts down on the page between the server's updates; without one (the
 * song is held) the place is shown alone.
 */
export function placeText(place, now) {
  if (!place) return "";
  const where = `#${place.ahead + 1} in line`;
  if (place.start === null) return where;
  const min = Math.ceil((place.start - now) / 60000);
  return min <= 1 ? `${where}, starting within a minute` : `${where}, about ${min} min`;
}

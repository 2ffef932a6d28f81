// The live list of the user's generations. It keeps one record per
// generation, merges what the HTTP API and the WebSocket say about it, and
// keeps one <li> per record up to date.

import { el, safeUrl, shorten } from "./dom.js";
import { failureOf, stageText } from "./messages.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const CANCELLABLE = new Set(["pending", "processing"]);
// Suno offers a stream of the first track from this progress on (70 %).
const STREAM_PROGRESS = 70;

const STATUS_LABELS = {
  pending: "Pending",
  processing: "Processing",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

// The status each event means; progress events carry their own.
const EVENT_STATUS = {
  "generation:complete": "completed",
  "generation:error": "failed",
  "generation:cancelled": "cancelled",
};

// What the confirmation of each action asks, and its buttons.
const CONFIRM = {
  cancel: { question: "Cancel this song? It stops being made and cannot be resumed.", yes: "Yes, cancel it" },
  remove: { question: "Remove this song from your list? Its audio is deleted too.", yes: "Yes, remove it" },
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
        return `${name} failed. ${failureOf(g.errorCode).text}`;
      case "cancelled":
        return `${name} was cancelled.`;
      case "pending":
        return `${name}: ${stageText(g)}`;
    }
  }
  if (g.status === "processing" && g.progress !== before.progress) {
    if (before.progress < STREAM_PROGRESS && g.progress >= STREAM_PROGRESS) return `${name} can be played now, while the rest is made.`;
    return `${name} is ${g.progress}% done.`;
  }
  if (g.status === "pending" && g.waitReason !== before.waitReason && g.waitReason) return `${name}: ${stageText(g)}`;
  return null;
}

export class GenerationList {
  /**
   * onCancel(id) and onRemove(id) are called once a Cancel or Remove is
   * confirmed; onTryAgain(g) when "Try again" is pressed on a failed song.
   */
  constructor({ listEl, emptyEl, onCancel, onRemove, onTryAgain }) {
    this.listEl = listEl;
    this.emptyEl = emptyEl;
    this.onCancel = onCancel;
    this.onRemove = onRemove;
    this.onTryAgain = onTryAgain;
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
    g.style = str(s.style) || str(req.style) || g.style;
    g.model = str(s.model) || str(req.model) || g.model;
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
      g.attempts = num(s.attempts);
      g.errorCode = str(s.errorCode);
      g.waitReason = str(s.waitReason);
      g.tracks = Array.isArray(s.tracks) ? s.tracks : [];
      g.audioUrl = str(s.audioUrl);
      g.queue = placeOf(s.queue);
    } else if (versioned && s.version === g.version) {
      // The state an event already showed: the answer adds what events
      // do not carry (a running song's tracks, with Suno's stream).
      if (s.queue) g.queue = placeOf(s.queue);
      if (Array.isArray(s.tracks) && s.tracks.length && !g.tracks.length) g.tracks = s.tracks;
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
          style: req.customMode ? req.style.trim() : "",
          model: req.model,
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
      queue: placeOf(resp.queue),
      prompt: req.prompt.trim(),
      title: req.customMode ? req.title.trim() : "",
      style: req.customMode ? req.style.trim() : "",
      model: req.model,
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
    const status = name === "generation:progress" ? str(data.status) || "processing" : EVENT_STATUS[name];
    if (!status) return null;
    let g = this.items.get(data.generationId);
    const created = !g;
    if (created) {
      g = this.newRecord(data.generationId);
      g.placeholder = true;
      this.place(g, true);
    }
    const before = { status: g.status, progress: g.progress, waitReason: g.waitReason };
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
    // A note about an earlier action (a refused cancel) is out of date
    // once the song moves on.
    if (status !== g.status) this.setNotice(g.id, "");
    g.status = status;
    g.seq++;
    g.waitReason = "";
    switch (name) {
      case "generation:progress":
        g.progress = num(data.progress);
        g.waitReason = str(data.waitReason);
        // Places come only when they move: an event without one leaves the
        // place of a song that was waiting and still waits (a hold, say,
        // which has no estimate).
        if (data.queue) g.queue = placeOf(data.queue);
        else if (before.status !== "pending" || status !== "pending") g.queue = null;
        if (g.queue && g.waitReason) g.queue = { ...g.queue, start: null };
        if (typeof data.attempts === "number") g.attempts = data.attempts;
        if (status !== "failed") g.errorCode = "";
        // A new attempt (an operator's retry) starts without the old tracks.
        if (g.progress < STREAM_PROGRESS) g.tracks = [];
        break;
      case "generation:complete":
        g.progress = 100;
        g.errorCode = "";
        if (Array.isArray(data.tracks) && data.tracks.length) g.tracks = data.tracks;
        g.audioUrl = str(data.audioUrl) || g.audioUrl;
        break;
      case "generation:error":
        g.errorCode = str(data.errorCode) || g.errorCode;
        break;
    }
    this.render(g);
    return { g, before, created };
  }

  /**
   * Whether g plays from Suno's stream by now but its tracks are not
   * known: progress events do not carry them, so the caller asks GET
   * status.
   */
  wantsTracks(id) {
    const g = this.items.get(id);
    return Boolean(g && g.status === "processing" && g.progress >= STREAM_PROGRESS && !g.tracks.length);
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

  setTryAgainBusy(id, busy) {
    const g = this.items.get(id);
    if (!g) return;
    g.tryAgainBusy = busy;
    this.render(g);
  }

  /**
   * Asks, inside the song's card, whether to go ahead with action
   * ("cancel" or "remove"), and moves focus to the answer that changes
   * nothing; answering moves it back (or, on yes, to where the action
   * leaves it).
   */
  confirm(id, action) {
    const g = this.items.get(id);
    if (!g) return;
    g.confirming = action;
    this.render(g);
    g.refs.confirmNo.focus();
  }

  answer(g, yes) {
    const action = g.confirming;
    if (!action) return;
    g.confirming = null;
    this.render(g);
    if (!yes) {
      (action === "cancel" ? g.refs.cancel : g.refs.remove).focus();
      return;
    }
    g.refs.title.focus(); // the button asked about is busy, then gone
    if (action === "cancel") this.onCancel(g.id);
    else this.onRemove?.(g.id);
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
      tier: "",
      attempts: 0,
      prompt: "",
      title: "",
      style: "",
      model: "",
      instrumental: false,
      tracks: [],
      audioUrl: "",
      // errorCode: why a failed song failed (openapi ErrorCode); the page says it in its own words.
      errorCode: "",
      // waitReason: why a pending song is held (openapi WaitReason), or "".
      waitReason: "",
      // queue is the place in line of a waiting song: {ahead, start}.
      queue: null,
      createdAt: "",
      placeholder: false,
      cancelBusy: false,
      removeBusy: false,
      tryAgainBusy: false,
      // confirming: the action ("cancel", "remove") the card asks about.
      confirming: null,
      // players: one per track, kept across renders so that playback
      // goes on when the source changes (see setSource).
      players: [],
      // seq counts applied events; see refresh in app.js.
      seq: 0,
      // version is the server's version of the state shown: it grows with
      // every saved change, and nothing older is applied.
      version: 0,
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
    r.progressRow = el("div", { className: "gen-progress-row" }, r.progress, r.percent);
    r.message = el("p", { className: "gen-message" });
    r.place = el("p", { className: "gen-place", hidden: true });
    r.error = el("p", { className: "gen-error", hidden: true });
    r.notice = el("p", { className: "gen-notice", hidden: true });
    r.tracks = el("ol", { className: "gen-tracks", hidden: true });
    r.cancel = el("button", { className: "gen-cancel", type: "button" }, "Cancel");
    r.cancel.addEventListener("click", () => this.confirm(g.id, "cancel"));
    r.tryAgain = el("button", { className: "gen-try-again primary", type: "button", hidden: true }, "Try again");
    r.tryAgain.addEventListener("click", () => this.onTryAgain?.(g));
    r.remove = el("button", { className: "gen-remove", type: "button", hidden: true }, "Remove");
    r.remove.addEventListener("click", () => this.confirm(g.id, "remove"));
    r.actions = el("div", { className: "gen-actions" }, r.cancel, r.tryAgain, r.remove);
    // The confirmation replaces the actions while it is open.
    r.question = el("p", { className: "gen-confirm-question", id: `${domId}-question` });
    r.confirmYes = el("button", { className: "gen-confirm-yes danger", type: "button" });
    r.confirmYes.addEventListener("click", () => this.answer(g, true));
    r.confirmNo = el("button", { className: "gen-confirm-no", type: "button" }, "Keep it");
    r.confirmNo.addEventListener("click", () => this.answer(g, false));
    r.confirm = el(
      "div",
      { className: "gen-confirm", role: "group", "aria-labelledby": `${domId}-question`, hidden: true },
      r.question,
      el("div", { className: "gen-actions" }, r.confirmYes, r.confirmNo),
    );
    r.confirm.addEventListener("keydown", (e) => {
      if (e.key === "Escape") this.answer(g, false);
    });
    g.refs = r;
    g.li = el(
      "li",
      { className: "gen-item", "data-generation-id": g.id, "aria-labelledby": `${domId}-title` },
      el("div", { className: "gen-head" }, r.title, r.status),
      r.prompt,
      r.progressRow,
      r.message,
      r.place,
      r.error,
      r.notice,
      r.tracks,
      r.actions,
      r.confirm,
      el(
        "dl",
        { className: "gen-meta" },
        el("div", {}, el("dt", {}, "Plan"), r.tier),
        el("div", {}, el("dt", {}, "Attempts"), r.attempts),
        el("div", {}, el("dt", {}, "Created"), el("dd", {}, r.created)),
      ),
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
    // Moving an element drops the keyboard focus inside it: leave it where
    // it is when it is in place already (the server's createdAt replacing
    // the page's), and give the focus back when it moves.
    const inPlace = g.li.isConnected && (before === null ? g.li === this.listEl.lastElementChild : g.li.nextElementSibling === before);
    if (!inPlace) {
      const focused = g.li.contains(document.activeElement) ? document.activeElement : null;
      this.listEl.insertBefore(g.li, before);
      focused?.focus();
    }
    this.updateEmpty();
  }

  render(g) {
    const r = g.refs;
    const name = displayName(g);
    const finished = TERMINAL.has(g.status);
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
    // A finished song shows no bar: it is not running any more.
    const progress = Math.max(0, Math.min(100, g.progress));
    r.progress.value = progress;
    r.progress.setAttribute("aria-label", `Progress of song '${shorten(name)}'`);
    r.percent.textContent = `${progress}%`;
    r.progressRow.hidden = finished;
    // A failed song's line is its failure, in .gen-error.
    r.message.textContent = g.status === "failed" || g.placeholder ? "" : stageText(g);
    r.message.hidden = !r.message.textContent;
    r.place.textContent = g.status === "pending" ? placeText(g.queue, Date.now()) : "";
    r.place.hidden = !r.place.textContent;
    const failure = g.status === "failed" ? failureOf(g.errorCode) : null;
    r.error.textContent = failure ? failure.text : "";
    r.error.hidden = !failure;

    if (g.confirming === "cancel" && !CANCELLABLE.has(g.status)) g.confirming = null; // it finished meanwhile
    if (g.confirming === "remove" && !finished) g.confirming = null; // it runs again
    const asking = g.confirming;
    if (asking) {
      r.question.textContent = CONFIRM[asking].question;
      r.confirmYes.textContent = CONFIRM[asking].yes;
      r.confirmYes.setAttribute("aria-label", `${CONFIRM[asking].yes}: song '${shorten(name)}'`);
      r.confirmNo.setAttribute("aria-label", `Keep song '${shorten(name)}'`);
    } else if (r.confirm.contains(document.activeElement)) {
      r.title.focus(); // the question is about to vanish under the keyboard user's focus
    }
    r.confirm.hidden = !asking;
    r.actions.hidden = Boolean(asking);

    const cancellable = CANCELLABLE.has(g.status);
    r.cancel.hidden = !cancellable;
    r.cancel.disabled = g.cancelBusy;
    r.cancel.textContent = g.cancelBusy ? "Cancelling…" : "Cancel";
    r.cancel.setAttribute("aria-label", `Cancel song '${shorten(name)}'`);
    // Try again makes a new song of the same request; not where the same
    // request fails again (a refused or too long prompt).
    const again = Boolean(failure?.again && this.onTryAgain && (g.prompt || g.instrumental));
    r.tryAgain.hidden = !again;
    r.tryAgain.disabled = g.tryAgainBusy;
    r.tryAgain.textContent = g.tryAgainBusy ? "Creating…" : "Try again";
    r.tryAgain.setAttribute("aria-label", `Try song '${shorten(name)}' again as a new song`);
    const removable = finished && !g.placeholder && Boolean(this.onRemove);
    r.remove.hidden = !removable;
    r.remove.disabled = g.removeBusy;
    r.remove.textContent = g.removeBusy ? "Removing…" : "Remove";
    r.remove.setAttribute("aria-label", `Remove song '${shorten(name)}' from your list`);
    const lost =
      (!cancellable && document.activeElement === r.cancel) ||
      (!removable && document.activeElement === r.remove) ||
      (!again && document.activeElement === r.tryAgain);
    if (lost) r.title.focus(); // the button is about to vanish under the keyboard user's focus
    this.renderTracks(g, name);
  }

  /**
   * The players: from Suno's stream as soon as it is offered (70 %), then
   * from the finished file (the stack's kept copy once archived). Each
   * track keeps its <audio> element, so a source change keeps playing
   * from where it was.
   */
  renderTracks(g, name) {
    const playable =
      g.status === "completed" || (g.status === "processing" && g.progress >= STREAM_PROGRESS) ? g.tracks.filter((t) => t && typeof t === "object") : [];
    let tracks = playable;
    if (g.status === "completed" && tracks.length === 0 && g.audioUrl) tracks = [{ audioUrl: g.audioUrl }];
    tracks = tracks
      .map((t, i) => ({ t, i, src: g.status === "completed" ? safeUrl(t.audioUrl) || safeUrl(t.streamAudioUrl) : safeUrl(t.streamAudioUrl) }))
      .filter((x) => x.src || g.status === "completed");
    // Players of tracks no longer shown (a cancel while streaming) stop.
    for (const p of g.players.splice(tracks.length)) p.audio.pause();
    tracks.forEach(({ t, i, src }, k) => {
      const title = str(t.title) || (tracks.length > 1 ? `${name} (track ${i + 1})` : name);
      const player = (g.players[k] ??= newPlayer());
      updatePlayer(player, t, title, src, g.status === "completed");
    });
    const items = g.players.map((p) => p.li);
    if (items.length !== g.refs.tracks.children.length || items.some((li, k) => g.refs.tracks.children[k] !== li)) {
      g.refs.tracks.replaceChildren(...items);
    }
    g.refs.tracks.hidden = items.length === 0;
  }

  updateEmpty() {
    this.emptyEl.hidden = this.items.size > 0;
  }
}

/** One track's row: cover, title and player, built once and updated in place. */
function newPlayer() {
  const p = {};
  p.cover = el("img", { className: "gen-cover", width: 96, height: 96, loading: "lazy", decoding: "async", alt: "" });
  p.title = el("span", { className: "gen-track-name" });
  p.duration = el("span", { className: "gen-track-duration" });
  p.live = el("span", { className: "gen-track-live" });
  p.audio = el("audio", { className: "gen-audio", controls: true, preload: "none" });
  p.missing = el("p", { className: "gen-track-missing" }, "No audio was returned for this track.");
  p.li = el(
    "li",
    { className: "gen-track" },
    p.cover,
    el("p", { className: "gen-track-title" }, p.title, p.duration, p.live),
    p.audio,
    p.missing,
  );
  return p;
}

function updatePlayer(p, t, title, src, final) {
  if (str(t.id)) p.li.dataset.trackId = t.id;
  const image = safeUrl(t.imageUrl);
  if (image && p.cover.getAttribute("src") !== image) p.cover.src = image;
  p.cover.hidden = !image;
  p.cover.alt = `Cover of ${title}`;
  p.title.textContent = title;
  const duration = num(t.duration);
  p.duration.textContent = duration > 0 ? ` (${formatDuration(duration)})` : "";
  // While the song is still being made the player streams it.
  p.live.textContent = final ? "" : " · streaming while it is made";
  p.audio.setAttribute("aria-label", `Play ${title}`);
  p.audio.dataset.source = final ? "final" : "stream";
  p.audio.hidden = !src;
  p.missing.hidden = Boolean(src);
  if (src) setSource(p.audio, src);
}

/**
 * Points a player at src. If it was playing or had been played, it goes on
 * from the same second at the same speed (a new source resets both), so
 * the switch from Suno's stream to the kept copy is not heard as a restart.
 */
function setSource(audio, src) {
  if (audio.getAttribute("src") === src) return;
  const started = audio.currentTime > 0 || !audio.paused;
  const playing = !audio.paused && !audio.ended;
  const at = audio.currentTime;
  const rate = audio.playbackRate;
  if (started) {
    audio.preload = "auto";
    audio.addEventListener(
      "loadedmetadata",
      () => {
        audio.currentTime = Number.isFinite(audio.duration) ? Math.min(at, audio.duration) : at;
        audio.playbackRate = rate;
        if (playing) audio.play().catch(() => {}); // the browser may refuse; the controls still work
      },
      { once: true },
    );
  }
  audio.src = src;
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

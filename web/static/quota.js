// The "Your plan" card: GET /api/quota, the server's count of what limits
// the user's creates (songs in progress, songs in the last 24 hours), the
// same numbers the create's check uses. It asks when the session starts
// and whenever refresh() is called: app.js calls it when one of the
// user's songs is created or ends, or a create is refused by the plan.
// It never polls; only once the daily limit is reached does it ask again
// when the next create fits (the answer's nextFreeAt). Calls that come
// while a request is out fold into one more request.

import { actionError, quotaText } from "./messages.js";

export class QuotaCard {
  /** load(): the quota (client.quota()); els: {open, today, next, tier, error} */
  constructor(load, els) {
    this.load = load;
    this.els = els;
    this.running = false;
    this.inFlight = false;
    this.dirty = false;
    this.timer = null;
    this.generation = 0; // bumped by stop, so a late answer is dropped
  }

  start() {
    this.stop();
    this.running = true;
    this.els.open.textContent = "Loading…";
    this.els.today.textContent = "";
    this.els.next.textContent = "";
    this.els.error.hidden = true;
    this.refresh();
  }

  stop() {
    this.running = false;
    this.generation++;
    this.inFlight = false;
    this.dirty = false;
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Asks for the current numbers; a call while one is out asks once more after it. */
  refresh() {
    if (!this.running) return;
    if (this.inFlight) {
      this.dirty = true;
      return;
    }
    this.fetch();
  }

  async fetch() {
    const generation = this.generation;
    this.inFlight = true;
    this.dirty = false;
    clearTimeout(this.timer);
    this.timer = null;
    try {
      const q = await this.load();
      if (generation !== this.generation) return;
      this.show(q);
      this.els.error.hidden = true;
    } catch (e) {
      if (generation !== this.generation) return;
      this.els.error.textContent =
        e?.status === 404 ? "This server does not tell your plan's limits." : actionError(e, "load your plan's limits");
      this.els.error.hidden = false;
      if (this.els.open.textContent === "Loading…") this.els.open.textContent = "";
    } finally {
      if (generation === this.generation) this.inFlight = false;
    }
    if (this.running && generation === this.generation && this.dirty) this.refresh();
  }

  show(q) {
    const now = Date.now();
    const text = quotaText(q, now);
    this.els.open.textContent = text.open;
    this.els.today.textContent = text.today;
    this.els.next.textContent = text.next;
    if (typeof q?.tier === "string" && q.tier) this.els.tier.textContent = q.tier;
    // The daily limit frees by itself: ask again then (a second after, so
    // the oldest create has left the window).
    const at = Date.parse(q?.daily?.nextFreeAt ?? "");
    if (Number.isFinite(at)) {
      const wait = Math.min(Math.max(at - now + 1000, 1000), 2 ** 31 - 1);
      this.timer = setTimeout(() => this.refresh(), wait);
    }
  }
}

// The queue stats panel: GET /api/queue/stats. It is refreshed when
// something happens: refresh() is called on every WebSocket event of the
// user's generations and after every (re)connect, and is throttled to one
// request a second. Other users' activity sends this page no event, so a
// slow poll (every 30 s) catches up with it. A hidden tab does not ask;
// it catches up when it becomes visible.

import { el } from "./dom.js";

const FALLBACK_POLL_MS = 30_000;
const MIN_GAP_MS = 1_000;
const TIERS = ["ENTERPRISE", "PREMIUM", "PRO", "FREE"];
// The summary's counts (one <dd id="stat-KEY"> each) and the table's columns.
export const SUMMARY_COUNTS = ["waiting", "active", "completed", "failed", "delayed", "held", "cancelled", "total", "deadLetters"];
const TABLE_COUNTS = ["waiting", "active", "completed", "failed", "delayed", "held"];

export class StatsPanel {
  /** load(): the stats (client.stats()); els: {summary: {waiting: <dd>, …}, tbody, updated, error, panel} */
  constructor(load, els) {
    this.load = load;
    this.els = els;
    this.timer = null;
    this.running = false;
    this.inFlight = false;
    this.dirty = false; // asked for while a request was out, or while hidden
    this.lastAsked = 0;
    this.generation = 0; // bumped by stop, so a late answer is dropped
    this.onVisibility = () => {
      if (this.running && document.visibilityState === "visible") this.refresh();
    };
  }

  start() {
    if (this.running) return;
    this.running = true;
    document.addEventListener("visibilitychange", this.onVisibility);
    this.refresh();
  }

  stop() {
    this.running = false;
    this.generation++;
    this.inFlight = false;
    this.dirty = false;
    clearTimeout(this.timer);
    this.timer = null;
    document.removeEventListener("visibilitychange", this.onVisibility);
  }

  /**
   * Asks for fresh stats: at once if the last request was a second ago or
   * more, else when that second is up. Calls in between fold into one.
   */
  refresh() {
    if (!this.running) return;
    if (this.inFlight || document.visibilityState !== "visible") {
      this.dirty = true;
      return;
    }
    const wait = this.lastAsked + MIN_GAP_MS - Date.now();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fetch(), Math.max(0, wait));
  }

  async fetch() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.running) return;
    if (document.visibilityState !== "visible") {
      this.dirty = true; // resumed by onVisibility
      return;
    }
    const generation = this.generation;
    this.inFlight = true;
    this.dirty = false;
    this.lastAsked = Date.now();
    try {
      const stats = await this.load();
      if (generation !== this.generation) return;
      this.show(stats);
      this.els.error.hidden = true;
    } catch (e) {
      if (generation !== this.generation) return;
      this.els.error.textContent = `Queue stats unavailable: ${e.message}`;
      this.els.error.hidden = false;
    } finally {
      if (generation === this.generation) this.inFlight = false;
    }
    if (!this.running || generation !== this.generation) return;
    if (this.dirty) this.refresh();
    // A timeout chain rather than setInterval: a slow answer never stacks
    // requests up, and every refresh pushes the fallback poll back.
    else this.timer = setTimeout(() => this.fetch(), FALLBACK_POLL_MS);
  }

  show(stats) {
    for (const key of SUMMARY_COUNTS) {
      const node = this.els.summary[key];
      if (node) node.textContent = count(stats?.[key]);
    }
    const byTier = stats && typeof stats.byTier === "object" && stats.byTier ? stats.byTier : {};
    // Known tiers in priority order, then any the page does not know of.
    const tiers = [...TIERS.filter((t) => t in byTier), ...Object.keys(byTier).filter((t) => !TIERS.includes(t))];
    this.els.tbody.replaceChildren(
      ...tiers.map((tier) =>
        el(
          "tr",
          { "data-tier": tier },
          el("th", { scope: "row" }, tier),
          ...TABLE_COUNTS.map((key) => el("td", { "data-count": key }, count(byTier[tier]?.[key]))),
        ),
      ),
    );
    const now = new Date();
    this.els.updated.textContent = `Updated ${now.toLocaleTimeString()}`;
    this.els.updated.dataset.updatedAt = String(now.getTime());
  }
}

function count(v) {
  return typeof v === "number" && Number.isFinite(v) ? String(v) : "—";
}

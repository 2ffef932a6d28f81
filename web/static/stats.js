// The queue stats panel: GET /api/queue/stats every 5 s while the page is
// visible (a hidden tab does not poll), at once when it becomes visible.

import { el } from "./dom.js";

const POLL_MS = 5_000;
const TIERS = ["ENTERPRISE", "PREMIUM", "PRO", "FREE"];
const COUNTS = ["waiting", "active", "completed", "failed", "delayed"];

export class StatsPanel {
  /** els: {summary: {waiting: <dd>, …}, tbody, updated, error} */
  constructor(request, els) {
    this.request = request;
    this.els = els;
    this.timer = null;
    this.running = false;
    this.inFlight = false;
    this.onVisibility = () => {
      if (this.running && document.visibilityState === "visible") this.poll();
    };
  }

  start() {
    if (this.running) return;
    this.running = true;
    document.addEventListener("visibilitychange", this.onVisibility);
    this.poll();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = null;
    document.removeEventListener("visibilitychange", this.onVisibility);
  }

  async poll() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.running || this.inFlight) return;
    if (document.visibilityState !== "visible") return; // resumed by onVisibility
    this.inFlight = true;
    try {
      this.show(await this.request("GET", "/api/queue/stats"));
      this.els.error.hidden = true;
    } catch (e) {
      this.els.error.textContent = `Queue stats unavailable: ${e.message}`;
      this.els.error.hidden = false;
    } finally {
      this.inFlight = false;
    }
    // A timeout chain rather than setInterval: a slow answer never stacks
    // requests up.
    if (this.running) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  show(stats) {
    for (const key of COUNTS) this.els.summary[key].textContent = count(stats?.[key]);
    const byTier = stats && typeof stats.byTier === "object" && stats.byTier ? stats.byTier : {};
    // Known tiers in priority order, then any the page does not know of.
    const tiers = [...TIERS.filter((t) => t in byTier), ...Object.keys(byTier).filter((t) => !TIERS.includes(t))];
    this.els.tbody.replaceChildren(
      ...tiers.map((tier) =>
        el(
          "tr",
          { "data-tier": tier },
          el("th", { scope: "row" }, tier),
          ...COUNTS.map((key) => el("td", { "data-count": key }, count(byTier[tier]?.[key]))),
        ),
      ),
    );
    this.els.updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }
}

function count(v) {
  return typeof v === "number" && Number.isFinite(v) ? String(v) : "—";
}

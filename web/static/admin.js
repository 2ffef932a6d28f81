// The operator view (DESIGN.md section 10): the tier queues with their
// pause switches and dead letters, and every user's generations with a
// Retry for the failed ones. The page shows it when the token says the
// user is in the admin group; the API decides (403 for everyone else),
// and a 403 hides the view again.
//
// No event tells this page about other users' generations, so the view
// asks again every 5 s while it is shown and the tab is visible, and
// after each of its own actions.

import { el, shorten } from "./dom.js";

const POLL_MS = 5_000;
const PAGE_SIZE = 25;
const MAX_PAGE = 100; // service.MaxPageSize
const TIERS = ["ENTERPRISE", "PREMIUM", "PRO", "FREE"];
const STATUS_LABELS = {
  pending: "Pending",
  processing: "Processing",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};

const str = (v) => (typeof v === "string" ? v : "");
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

function nameOf(g) {
  return str(g.title) || str(g.prompt) || (g.instrumental ? "Instrumental" : "Untitled song");
}

/** A dead letter's contents in words. */
function describeDeadLetter(d) {
  const job = d.job && typeof d.job === "object" ? d.job : null;
  if (!job) return `Not a job: ${shorten(str(d.body) || "(empty body)", 120)}`;
  const parts = [`${str(job.kind) || "job"} job for generation ${str(job.generationId)}`];
  if (num(job.attempt) > 0) parts.push(`attempt ${job.attempt}`);
  if (str(job.userId)) parts.push(`user ${job.userId}`);
  return parts.join(", ");
}

export class OperatorView {
  /**
   * Made once for the page; start and stop it with each operator's session.
   * request: the API's request function; root: the view's <section>;
   * onHide(reason): the API said 403, the view is hidden;
   * onRefreshed(): after every refresh (the stats panel follows);
   * announce(text): for screen readers.
   */
  constructor(request, { root, link, onHide, onRefreshed, announce }) {
    this.request = request;
    this.root = root;
    this.link = link;
    this.onHide = onHide;
    this.onRefreshed = onRefreshed;
    this.announce = announce;
    const $ = (id) => document.getElementById(id);
    this.els = {
      error: $("op-error"),
      message: $("op-message"),
      refresh: $("op-refresh"),
      queues: $("op-queues").tBodies[0],
      dead: $("op-deadletters"),
      deadEmpty: $("op-deadletters-empty"),
      redriveAll: $("op-redrive-all"),
      filters: $("op-filters"),
      status: $("op-status"),
      tier: $("op-tier"),
      user: $("op-user"),
      list: $("op-generations"),
      listEmpty: $("op-generations-empty"),
      more: $("op-load-more"),
      updated: $("op-updated"),
      bulkCancel: $("op-bulk-cancel"),
      bulkRetry: $("op-bulk-retry"),
      bulkMessage: $("op-bulk-message"),
      bulkConfirm: $("op-bulk-confirm"),
      bulkAbort: $("op-bulk-abort"),
    };
    this.pendingBulk = null; // the dry-run request awaiting confirmation
    this.running = false;
    this.timer = null;
    this.session = 0; // bumped by stop and by a change of filters
    this.listSeq = 0;
    this.rows = new Map(); // generation id -> {li, refs, g}
    this.nextCursor = null;
    this.busy = new Set(); // "retry:<id>", "pause:<tier>", "redrive:<tier>"
    this.refreshing = -1; // the session whose refresh is under way
    this.again = false;

    this.onVisibility = () => {
      if (this.running && document.visibilityState === "visible") this.refresh();
    };
    this.els.refresh.addEventListener("click", () => this.refresh());
    this.els.filters.addEventListener("submit", (e) => {
      e.preventDefault();
      this.reloadList();
    });
    this.els.status.addEventListener("change", () => this.reloadList());
    this.els.tier.addEventListener("change", () => this.reloadList());
    this.els.more.addEventListener("click", () => this.loadMore());
    this.els.redriveAll.addEventListener("click", () => this.redrive(""));
    this.els.bulkCancel.addEventListener("click", () => this.bulkDryRun("cancel"));
    this.els.bulkRetry.addEventListener("click", () => this.bulkDryRun("retry"));
    this.els.bulkConfirm.addEventListener("click", () => this.bulkConfirm());
    this.els.bulkAbort.addEventListener("click", () => this.bulkReset(""));
    this.els.tier.replaceChildren(
      el("option", { value: "" }, "Any tier"),
      ...TIERS.map((t) => el("option", { value: t }, t)),
    );
    this.els.status.replaceChildren(
      el("option", { value: "" }, "Any status"),
      ...Object.entries(STATUS_LABELS).map(([v, label]) => el("option", { value: v }, label)),
    );
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.session++;
    this.root.hidden = false;
    if (this.link) this.link.hidden = false;
    this.clear();
    document.addEventListener("visibilitychange", this.onVisibility);
    this.refresh();
  }

  stop() {
    this.running = false;
    this.session++;
    clearTimeout(this.timer);
    this.timer = null;
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.root.hidden = true;
    if (this.link) this.link.hidden = true;
    this.clear();
  }

  clear() {
    this.rows.clear();
    this.busy.clear();
    this.nextCursor = null;
    this.els.list.replaceChildren();
    this.els.queues.replaceChildren();
    this.els.dead.replaceChildren();
    this.els.deadEmpty.hidden = true;
    this.els.listEmpty.hidden = true;
    this.els.more.hidden = true;
    this.els.error.hidden = true;
    this.els.message.textContent = "";
    this.els.updated.textContent = "";
    this.els.filters.reset(); // a new session starts unfiltered
    this.bulkReset("");
  }

  /** Calls the API; a 403 hides the view and rejects with a marked error. */
  async call(method, path) {
    const session = this.session;
    try {
      const res = await this.request(method, path);
      if (session !== this.session) throw stale();
      return res;
    } catch (e) {
      if (session !== this.session || e.stale) throw stale();
      if (e.status === 403) {
        this.stop();
        this.onHide?.(e.message);
        throw stale();
      }
      throw e;
    }
  }

  /** from: "load" for a refresh's own errors, which its next success clears; an action's stay. */
  showError(text, from = "action") {
    this.errorFrom = from;
    if (text && from === "action") this.els.message.textContent = "";
    this.els.error.textContent = text;
    this.els.error.hidden = !text;
  }

  /** The outcome of an action; it replaces an earlier action's error. */
  showMessage(text) {
    if (this.errorFrom === "action") this.showError("");
    this.els.message.textContent = text;
    if (text) this.announce?.(text);
  }

  // ------------------------------------------------------------ refresh

  /** Reloads everything; the next automatic refresh comes POLL_MS later. */
  async refresh() {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = null;
    if (document.visibilityState !== "visible") return; // resumed by onVisibility
    if (this.refreshing === this.session) {
      this.again = true; // after the one under way: it may have read too early
      return;
    }
    const session = this.session;
    this.refreshing = session;
    this.again = false;
    const problems = [];
    const track = (what, p) =>
      p.catch((e) => {
        if (!e.stale) problems.push(`${what}: ${e.message}`);
      });
    await Promise.all([
      track("Queues", this.loadQueues()),
      track("Dead letters", this.loadDeadLetters()),
      track("Songs", this.loadList({ replace: true })),
    ]);
    if (session !== this.session) return; // stopped (or hidden by a 403) meanwhile
    this.refreshing = -1;
    if (this.again) {
      this.refresh();
      return;
    }
    if (problems.length) this.showError(`Could not load everything: ${problems.join("; ")}`, "load");
    else if (this.errorFrom === "load") this.showError("", "load");
    this.els.updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    this.onRefreshed?.();
    if (this.running) this.timer = setTimeout(() => this.refresh(), POLL_MS);
  }

  // ------------------------------------------------------------ queues

  async loadQueues() {
    const res = await this.call("GET", "/api/admin/queues");
    const queues = res && typeof res.queues === "object" && res.queues ? res.queues : {};
    const tiers = [...TIERS.filter((t) => t in queues), ...Object.keys(queues).filter((t) => !TIERS.includes(t))];
    // Rows are kept and updated, so a focused button keeps its focus.
    const old = new Map([...this.els.queues.rows].map((tr) => [tr.dataset.tier, tr]));
    const rows = tiers.map((tier) => {
      const tr = old.get(tier) ?? this.queueRow(tier);
      this.fillQueueRow(tr, tier, queues[tier] ?? {});
      return tr;
    });
    for (const [tier, tr] of old) if (!tiers.includes(tier)) tr.remove();
    this.els.queues.append(...rows); // moves kept rows into order
  }

  queueRow(tier) {
    const pause = el("button", { className: "op-pause", type: "button" }, "Pause");
    const redrive = el("button", { className: "op-redrive", type: "button" }, "Redrive");
    pause.addEventListener("click", () => this.setPaused(tier, pause.dataset.action === "pause"));
    redrive.addEventListener("click", () => this.redrive(tier));
    return el(
      "tr",
      { "data-tier": tier },
      el("th", { scope: "row" }, tier),
      el("td", { className: "op-queue-state" }),
      el("td", { className: "op-queue-dead" }),
      el("td", { className: "op-queue-actions" }, el("div", { className: "op-buttons" }, pause, redrive)),
    );
  }

  fillQueueRow(tr, tier, q) {
    const paused = q.paused === true;
    const dead = num(q.deadLetters);
    tr.dataset.paused = String(paused);
    const state = tr.querySelector(".op-queue-state");
    state.textContent = paused ? "Paused" : "Running";
    state.dataset.state = paused ? "paused" : "running";
    tr.querySelector(".op-queue-dead").textContent = String(dead);
    const pause = tr.querySelector("button.op-pause");
    const pauseBusy = this.busy.has(`pause:${tier}`);
    pause.dataset.action = paused ? "resume" : "pause";
    pause.textContent = pauseBusy ? (paused ? "Pausing…" : "Resuming…") : paused ? "Resume" : "Pause";
    pause.disabled = pauseBusy;
    pause.setAttribute("aria-label", `${paused ? "Resume" : "Pause"} the ${tier} queue`);
    const redrive = tr.querySelector("button.op-redrive");
    redrive.disabled = dead === 0 || this.busy.has(`redrive:${tier}`);
    redrive.setAttribute("aria-label", `Redrive the ${tier} dead letters`);
  }

  async setPaused(tier, paused) {
    const key = `pause:${tier}`;
    if (!this.running || this.busy.has(key)) return;
    this.busy.add(key);
    this.renderQueueButtons(tier);
    try {
      const res = await this.call("POST", `/api/admin/queues/${encodeURIComponent(tier)}/${paused ? "pause" : "resume"}`);
      const now = res?.paused === true;
      this.showMessage(now ? `The ${tier} queue is paused: its songs wait until it is resumed.` : `The ${tier} queue is running again.`);
      this.busy.delete(key);
      const tr = this.queueRowOf(tier);
      if (tr) this.fillQueueRow(tr, tier, { paused: now, deadLetters: Number(tr.querySelector(".op-queue-dead").textContent) || 0 });
      this.refresh();
    } catch (e) {
      this.busy.delete(key);
      if (e.stale) return;
      this.showError(`Could not ${paused ? "pause" : "resume"} ${tier}: ${e.message}`);
      this.renderQueueButtons(tier);
    }
  }

  queueRowOf(tier) {
    return [...this.els.queues.rows].find((tr) => tr.dataset.tier === tier) ?? null;
  }

  renderQueueButtons(tier) {
    const tr = this.queueRowOf(tier);
    if (tr) this.fillQueueRow(tr, tier, { paused: tr.dataset.paused === "true", deadLetters: Number(tr.querySelector(".op-queue-dead").textContent) || 0 });
  }

  // ------------------------------------------------------------ dead letters

  async loadDeadLetters() {
    const res = await this.call("GET", "/api/admin/deadletters");
    const items = Array.isArray(res?.items) ? res.items.filter((d) => d && typeof d === "object") : [];
    this.els.dead.replaceChildren(
      ...items.map((d) =>
        el(
          "li",
          { className: "op-dead", "data-tier": str(d.tier), "data-message-id": str(d.messageId) },
          el("span", { className: "tier-badge" }, str(d.tier) || "?"),
          " ",
          el("span", { className: "op-dead-what" }, describeDeadLetter(d)),
          el("span", { className: "op-dead-count" }, ` (received ${num(d.receiveCount)} times)`),
        ),
      ),
    );
    this.els.deadEmpty.hidden = items.length > 0;
    this.els.redriveAll.disabled = items.length === 0 || this.busy.has("redrive:");
  }

  async redrive(tier) {
    const key = `redrive:${tier}`;
    if (!this.running || this.busy.has(key)) return;
    this.busy.add(key);
    this.els.redriveAll.disabled = true;
    if (tier) this.renderQueueButtons(tier);
    try {
      const q = tier ? `?tier=${encodeURIComponent(tier)}` : "";
      const res = await this.call("POST", `/api/admin/deadletters/redrive${q}`);
      const total = num(res?.total);
      const where = tier ? `the ${tier} queue` : "their queues";
      this.showMessage(
        total === 0 ? "There were no dead letters to move." : `Moved ${total} dead letter${total === 1 ? "" : "s"} back to ${where}.`,
      );
    } catch (e) {
      if (!e.stale) this.showError(`Could not redrive: ${e.message}`);
    } finally {
      this.busy.delete(key);
    }
    if (this.running) this.refresh();
  }

  // ------------------------------------------------------------ generations

  filterQuery() {
    const q = new URLSearchParams();
    if (this.els.status.value) q.set("status", this.els.status.value);
    if (this.els.tier.value) q.set("tier", this.els.tier.value);
    const user = this.els.user.value.trim();
    if (user) q.set("user", user);
    return q;
  }

  /** New filters: start the list again from its first page. */
  reloadList() {
    if (!this.running) return;
    this.listSeq++;
    this.rows.clear();
    this.els.list.replaceChildren();
    this.nextCursor = null;
    this.loadList({ replace: true }).catch((e) => {
      if (!e.stale) this.showError(`Could not load songs: ${e.message}`);
    });
  }

  /**
   * replace: the first page again (as many items as are shown, within
   * MAX_PAGE), else the page after nextCursor, appended.
   */
  async loadList({ replace }) {
    const seq = ++this.listSeq;
    const q = this.filterQuery();
    q.set("limit", String(replace ? Math.min(MAX_PAGE, Math.max(PAGE_SIZE, this.rows.size)) : PAGE_SIZE));
    if (!replace && this.nextCursor) q.set("cursor", this.nextCursor);
    this.els.more.disabled = true;
    let page;
    try {
      page = await this.call("GET", `/api/admin/generations?${q}`);
    } finally {
      if (seq === this.listSeq) this.els.more.disabled = false;
    }
    if (seq !== this.listSeq) return; // filters changed meanwhile
    const items = Array.isArray(page?.items) ? page.items.filter((g) => g && typeof g.generationId === "string") : [];
    this.nextCursor = typeof page?.nextCursor === "string" && page.nextCursor ? page.nextCursor : null;
    if (replace) {
      const keep = new Set(items.map((g) => g.generationId));
      for (const [id, row] of this.rows) {
        if (!keep.has(id)) {
          this.dropFocus(row);
          row.li.remove();
          this.rows.delete(id);
        }
      }
    }
    const lis = items.map((g) => this.upsert(g).li);
    if (replace) this.els.list.prepend(...lis);
    else this.els.list.append(...lis);
    this.els.listEmpty.hidden = this.rows.size > 0;
    this.els.more.hidden = !this.nextCursor;
  }

  async loadMore() {
    if (!this.running || !this.nextCursor) return;
    try {
      await this.loadList({ replace: false });
    } catch (e) {
      if (!e.stale) this.showError(`Could not load more songs: ${e.message}`);
    }
  }

  upsert(g) {
    let row = this.rows.get(g.generationId);
    if (!row) {
      row = this.buildRow(g.generationId);
      this.rows.set(g.generationId, row);
    }
    row.g = g;
    this.renderRow(row);
    return row;
  }

  buildRow(id) {
    const domId = `op-gen-${id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const r = {
      title: el("h4", { className: "op-gen-title", id: `${domId}-title`, tabIndex: -1 }),
      status: el("span", { className: "gen-status op-gen-status" }),
      id: el("dd", { className: "op-gen-id" }, id),
      user: el("dd", { className: "op-gen-user" }),
      tier: el("dd", { className: "op-gen-tier" }),
      attempts: el("dd", { className: "op-gen-attempts" }),
      created: el("time", { className: "op-gen-created" }),
      message: el("p", { className: "op-gen-message" }),
      error: el("p", { className: "gen-error op-gen-error", hidden: true }),
      notice: el("p", { className: "gen-notice op-gen-notice", hidden: true }),
      retry: el("button", { className: "op-retry", type: "button", hidden: true }, "Retry"),
    };
    r.retry.addEventListener("click", () => this.retry(id));
    const li = el(
      "li",
      { className: "op-gen", "data-generation-id": id, "aria-labelledby": `${domId}-title` },
      el("div", { className: "gen-head" }, r.title, r.status),
      el(
        "dl",
        { className: "gen-meta" },
        el("div", {}, el("dt", {}, "User"), r.user),
        el("div", {}, el("dt", {}, "Tier"), r.tier),
        el("div", {}, el("dt", {}, "Attempts"), r.attempts),
        el("div", {}, el("dt", {}, "Created"), el("dd", {}, r.created)),
        el("div", { className: "op-gen-id-row" }, el("dt", {}, "Id"), r.id),
      ),
      r.message,
      r.error,
      r.notice,
      el("div", { className: "gen-actions" }, r.retry),
    );
    return { li, refs: r, g: null, notice: "" };
  }

  renderRow(row) {
    const { g, refs: r, li } = row;
    const status = str(g.status);
    const name = nameOf(g);
    li.dataset.status = status;
    li.dataset.tier = str(g.tier);
    li.dataset.userId = str(g.userId);
    r.title.textContent = name;
    r.status.textContent = STATUS_LABELS[status] ?? status;
    r.status.dataset.status = status;
    r.user.textContent = str(g.userId) || "—";
    r.tier.textContent = str(g.tier) || "—";
    r.attempts.textContent = String(num(g.attempts));
    if (str(g.createdAt) && !Number.isNaN(Date.parse(g.createdAt))) {
      r.created.dateTime = g.createdAt;
      r.created.textContent = new Date(g.createdAt).toLocaleString();
    } else {
      r.created.textContent = "—";
    }
    const progress = status === "processing" && num(g.progress) > 0 ? ` (${num(g.progress)}%)` : "";
    r.message.textContent = str(g.message) ? `${g.message}${progress}` : "";
    r.message.hidden = !r.message.textContent;
    r.error.textContent = status === "failed" ? str(g.error) || "Unknown error" : "";
    r.error.hidden = status !== "failed";
    r.notice.textContent = row.notice;
    r.notice.hidden = !row.notice;
    const busy = this.busy.has(`retry:${g.generationId}`);
    const retryable = status === "failed";
    r.retry.hidden = !retryable;
    r.retry.disabled = busy;
    r.retry.textContent = busy ? "Retrying…" : "Retry";
    r.retry.setAttribute("aria-label", `Retry song '${shorten(name)}' of ${str(g.userId) || "its owner"}`);
    if (!retryable && document.activeElement === r.retry) r.title.focus();
  }

  /** Keyboard focus inside a row about to go moves to the list's heading. */
  dropFocus(row) {
    if (row.li.contains(document.activeElement)) document.getElementById("op-gens-heading")?.focus();
  }

  // ------------------------------------------------------------ bulk

  /** The bulk filter from the list's filters. */
  bulkFilter(action) {
    const f = {};
    if (this.els.status.value) f.status = this.els.status.value;
    if (this.els.tier.value) f.tier = this.els.tier.value;
    const user = this.els.user.value.trim();
    if (user) f.userId = user;
    if (action === "retry") f.status = "failed";
    return f;
  }

  bulkReset(text) {
    this.pendingBulk = null;
    this.els.bulkMessage.textContent = text;
    this.els.bulkConfirm.hidden = true;
    this.els.bulkAbort.hidden = true;
    this.els.bulkCancel.disabled = false;
    this.els.bulkRetry.disabled = false;
  }

  /** A dry run: how many songs the action would change, then a confirmation. */
  async bulkDryRun(action) {
    if (!this.running) return;
    const body = { action, filter: this.bulkFilter(action), dryRun: true };
    this.els.bulkCancel.disabled = true;
    this.els.bulkRetry.disabled = true;
    this.els.bulkMessage.textContent = "Counting…";
    try {
      const res = await this.request("POST", "/api/admin/bulk", { json: body });
      const n = res.matched;
      if (n === 0) {
        this.bulkReset(action === "cancel" ? "No unfinished song matches the filters." : "No failed song matches the filters.");
        return;
      }
      this.pendingBulk = { ...body, dryRun: false };
      const what = action === "cancel" ? "Cancel" : "Retry";
      this.els.bulkMessage.textContent = `${what} ${n} song${n === 1 ? "" : "s"}? Each is treated as if done one by one.`;
      this.els.bulkConfirm.textContent = `${what} ${n}`;
      this.els.bulkConfirm.hidden = false;
      this.els.bulkAbort.hidden = false;
      this.els.bulkConfirm.focus();
    } catch (e) {
      if (e.status === 403) {
        this.stop();
        this.onHide?.(e.message);
        return;
      }
      this.bulkReset(`Could not count the songs: ${e.message}`);
    }
  }

  /** Runs the confirmed bulk action and follows it to its end. */
  async bulkConfirm() {
    const body = this.pendingBulk;
    if (!body || !this.running) return;
    this.els.bulkConfirm.hidden = true;
    this.els.bulkAbort.hidden = true;
    const verb = body.action === "cancel" ? "Cancelled" : "Retried";
    try {
      const started = await this.request("POST", "/api/admin/bulk", { json: body });
      let st = { status: "running", changed: 0, matched: started.matched };
      while (st.status !== "done" && this.running) {
        this.els.bulkMessage.textContent = `${verb} ${st.changed} of ${st.matched}…`;
        await new Promise((r) => setTimeout(r, 500));
        st = await this.request("GET", `/api/admin/bulk/${encodeURIComponent(started.bulkId)}`);
      }
      this.bulkReset(`${verb} ${st.changed} of ${st.matched} song${st.matched === 1 ? "" : "s"}.`);
      this.announce?.(this.els.bulkMessage.textContent);
      this.refresh();
    } catch (e) {
      this.bulkReset(`Could not finish: ${e.message}`);
    }
  }

  async retry(id) {
    const key = `retry:${id}`;
    const row = this.rows.get(id);
    if (!this.running || !row || this.busy.has(key)) return;
    this.busy.add(key);
    row.notice = "";
    this.renderRow(row);
    const name = shorten(nameOf(row.g));
    try {
      const g = await this.call("POST", `/api/admin/generations/${encodeURIComponent(id)}/retry`);
      this.busy.delete(key);
      if (g && g.generationId === id) this.upsert(g);
      this.showMessage(`Song '${name}' is queued again with a fresh set of attempts.`);
      this.refresh();
    } catch (e) {
      this.busy.delete(key);
      if (e.stale) return;
      const current = this.rows.get(id);
      if (current) {
        current.notice = e.status === 409 ? e.message : `Could not retry: ${e.message}`;
        this.renderRow(current);
      }
      this.announce?.(`Song '${name}': ${e.status === 409 ? e.message : `could not retry: ${e.message}`}`);
      if (e.status === 409) this.refresh();
    }
  }
}

function stale() {
  const e = new Error("stale");
  e.stale = true;
  return e;
}

// SongQueue's page: sign-in, the create form, the live list of the user's
// generations, the user's plan (quota.js) and, for operators, the operator view with
// the queue stats.
// Contracts: DESIGN.md sections 3 to 5 and 10. Every API call and the
// WebSocket go through songqueue-client.js, the module other frontends use.

import { OperatorView } from "./admin.js";
import { cognitoSignInUrl, forgetToken, identify, isAdmin, randomId, savedToken, saveToken, takeFragmentToken } from "./auth.js";
import { el, shorten } from "./dom.js";
import { GenerationList, describeChange, displayName } from "./generations.js";
import { DEFAULT_MODEL, MODELS, charCount, limitsFor, requestBody, validate } from "./limits.js";
import { actionError, createError } from "./messages.js";
import { QuotaCard } from "./quota.js";
import { createClient } from "./songqueue-client.js";
import { SUMMARY_COUNTS, StatsPanel } from "./stats.js";

const $ = (id) => document.getElementById(id);

const MODEL_LABELS = { V4: "V4", V4_5: "V4.5", V4_5PLUS: "V4.5 Plus", V4_5ALL: "V4.5 All", V5: "V5", V5_5: "V5.5" };
const PAGE_SIZE = 50;

const state = {
  config: {}, // config.json, when the deployment has one
  token: null,
  // Bumped on every sign-in and sign-out, so an answer that arrives after
  // the user signed out (or in as someone else) is dropped.
  session: 0,
  realtime: null,
  stats: null,
  // Generations removed here: a late event or sync answer must not bring
  // one back as a placeholder.
  removed: new Set(),
  expiryTimer: null,
  // {key, body}: the Idempotency-Key of a create whose outcome is unknown
  // (network error or 5xx). Submitting the same body again reuses the key,
  // so the server returns the first generation instead of making a second.
  pendingCreate: null,
  submitting: false,
  // The song #create-message names: the message goes once it has ended.
  createdId: null,
  nextCursor: null,
  connection: "idle",
  refreshing: new Set(),
};

let client; // set by init once the API base URL is known (songqueue-client.js)

const list = new GenerationList({
  listEl: $("generations"),
  emptyEl: $("generations-empty"),
  onCancel: cancel,
  onRemove: removeGeneration,
  onTryAgain: tryAgain,
});
// A waiting song's "about m min" counts down between the server's updates.
setInterval(() => list.tick(), 30_000);

// The user's plan: the server's counts, asked at sign-in and when one of
// the user's songs is created or ends (quota.js).
const quota = new QuotaCard(() => client.quota(), {
  open: $("quota-open"),
  today: $("quota-today"),
  next: $("quota-next"),
  tier: $("quota-tier"),
  error: $("quota-error"),
});

// One view for the page's life; each operator's session starts and stops it.
const operator = new OperatorView((...args) => client.request(...args), {
  root: $("operator"),
  link: $("operator-link"),
  announce,
  onRefreshed: () => state.stats?.refresh(),
  onHide: (message) => {
    // The queue stats are in the view, and for operators only.
    state.stats?.stop();
    state.stats = null;
    announce("The operator view is hidden: the server does not accept you as an operator.");
    console.warn("operator view hidden after 403:", message);
  },
});

// ---------------------------------------------------------------- startup

async function init() {
  setUpForm();
  $("dev-signin").addEventListener("submit", onDevSignIn);
  $("token-signin").addEventListener("submit", onTokenSignIn);
  $("signout").addEventListener("click", () => signOut());
  $("load-more").addEventListener("click", () => loadList(state.nextCursor));
  // The realtime client syncs by itself when the tab is shown again or
  // the network comes back.

  state.config = await loadConfig();
  const apiBase = typeof state.config.apiBaseUrl === "string" ? state.config.apiBaseUrl.replace(/\/+$/, "") : "";
  client = createClient({
    apiBase,
    wsUrl: typeof state.config.wsUrl === "string" && state.config.wsUrl ? state.config.wsUrl : undefined,
    getToken: () => state.token,
    onUnauthorized: () => signOut("Your sign-in is no longer accepted. Sign in again."),
  });

  const options = setUpSignInOptions(apiBase);
  const answer = takeFragmentToken(); // back from Cognito's hosted UI?
  if (answer?.error) showSignInError(answer.error);
  const token = answer?.token || savedToken();
  if (token) startSession(token, { focus: false });
  await options;
}

/** config.json is optional: a deployment may point the page at its API. */
async function loadConfig() {
  try {
    const res = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
    if (!res.ok) return {};
    const config = await res.json();
    return config && typeof config === "object" ? config : {};
  } catch {
    return {};
  }
}

// ---------------------------------------------------------------- sign-in

let devUsers = [];

/** Demo users when the local stack serves them; else a token box (and Cognito). */
async function setUpSignInOptions(apiBase) {
  try {
    const res = await fetch(`${apiBase}/api/dev/users`, { cache: "no-store", headers: { Accept: "application/json" } });
    const data = res.ok ? await res.json() : null;
    devUsers = Array.isArray(data?.users) ? data.users.filter((u) => u && typeof u.token === "string") : [];
  } catch {
    devUsers = [];
  }
  $("signin-loading").hidden = true;
  if (devUsers.length > 0) {
    $("dev-user").replaceChildren(
      ...devUsers.map((u, i) => el("option", { value: String(i) }, `${u.userId ?? "user"} (${u.tier ?? "FREE"})`)),
    );
    $("dev-signin").hidden = false;
    return;
  }
  $("token-signin").hidden = false;
  const cognito = state.config.cognito;
  if (cognito && typeof cognito.domain === "string" && cognito.domain && typeof cognito.clientId === "string") {
    const link = $("cognito-link");
    link.href = "#";
    // The URL carries a fresh anti-forgery state, so it is made on click.
    link.addEventListener("click", (e) => {
      e.preventDefault();
      location.assign(cognitoSignInUrl(cognito));
    });
    $("cognito-signin").hidden = false;
  }
}

function onDevSignIn(e) {
  e.preventDefault();
  const user = devUsers[Number($("dev-user").value)];
  if (user) startSession(user.token, { focus: true });
}

function onTokenSignIn(e) {
  e.preventDefault();
  const token = $("token-input").value.trim().replace(/^Bearer\s+/i, "");
  if (!token) {
    showSignInError("Paste a token first.");
    $("token-input").focus();
    return;
  }
  startSession(token, { focus: true });
}

function showSignInError(message) {
  $("signin-error").textContent = message;
  $("signin-error").hidden = !message;
}

async function startSession(token, { focus }) {
  const who = identify(token, state.config.tierClaim);
  if (who.error) {
    forgetToken();
    showSignInError(who.error);
    return;
  }
  // Whatever ran for an earlier session stops first.
  state.realtime?.close();
  state.stats?.stop();
  quota.stop();
  operator.stop();
  state.removed.clear();
  const session = ++state.session;
  state.token = token;
  saveToken(token);
  showSignInError("");
  $("token-input").value = "";
  $("user-id").textContent = who.userId;
  $("user-tier").textContent = who.tier;
  $("user-tier").dataset.tier = who.tier;
  $("quota-tier").textContent = who.tier;
  $("signin").hidden = true;
  $("session").hidden = false;
  $("app").hidden = false;
  if (focus) $("prompt").focus();

  clearTimeout(state.expiryTimer);
  const left = who.expiresAt === null ? Infinity : who.expiresAt - Date.now();
  if (left < 2 ** 31 - 1) state.expiryTimer = setTimeout(() => signOut("Your session expired. Sign in again."), left);

  list.clear();
  quota.start();
  await loadList(null);
  if (session !== state.session) return;

  // The token says operator: show the view, with the queue stats (every
  // user's counts: operators' data). The API has the last word; a 403
  // from it hides the view again.
  const adminGroup = typeof state.config.adminGroup === "string" && state.config.adminGroup ? state.config.adminGroup : "admin";
  if (isAdmin(who, adminGroup)) {
    state.stats = new StatsPanel(() => client.stats(), {
      summary: Object.fromEntries(SUMMARY_COUNTS.map((k) => [k, $(`stat-${k}`)])),
      tbody: $("stats-by-tier").tBodies[0],
      updated: $("stats-updated"),
      error: $("stats-error"),
    });
    state.stats.start();
    operator.start();
  }

  state.realtime = startRealtime(session);
}

function signOut(message = "") {
  state.session++;
  state.realtime?.close();
  state.realtime = null;
  state.stats?.stop();
  state.stats = null;
  quota.stop();
  operator.stop();
  state.removed.clear();
  clearTimeout(state.expiryTimer);
  state.token = null;
  state.pendingCreate = null;
  state.createdId = null;
  state.nextCursor = null;
  forgetToken();
  list.clear();
  showConnection("idle");
  $("load-more").hidden = true;
  $("list-error").hidden = true;
  $("create-error").hidden = true;
  showCreated(null);
  $("app").hidden = true;
  $("session").hidden = true;
  $("signin").hidden = false;
  showSignInError(message);
  $("signin-heading").focus();
}

// ---------------------------------------------------------------- the list

async function loadList(cursor) {
  const session = state.session;
  $("load-more").disabled = true;
  try {
    const page = await client.list({ limit: PAGE_SIZE, cursor: cursor || undefined });
    if (session !== state.session) return;
    // keepState: a record already here may have newer state from an event.
    for (const item of Array.isArray(page?.items) ? page.items : []) list.upsertStatus(item, { keepState: true });
    state.nextCursor = typeof page?.nextCursor === "string" && page.nextCursor ? page.nextCursor : null;
    $("list-error").hidden = true;
  } catch (e) {
    if (session !== state.session) return;
    $("list-error").textContent = actionError(e, "load your songs");
    $("list-error").hidden = false;
  } finally {
    $("load-more").hidden = !state.nextCursor;
    $("load-more").disabled = false;
  }
}

/**
 * Fills a record in from GET status. If an event arrives while the request
 * is out, the event is newer than the answer, so only the answer's
 * descriptive fields are taken (the record's seq tells).
 */
async function refresh(id) {
  const g = list.get(id);
  if (!g || state.refreshing.has(id)) return;
  state.refreshing.add(id);
  const session = state.session;
  const seq = g.seq;
  try {
    const s = await client.getStatus(id);
    if (session !== state.session) return;
    const current = list.get(id);
    list.upsertStatus(s, { keepState: Boolean(current && current.seq !== seq) });
  } catch (e) {
    if (session !== state.session) return;
    const current = list.get(id);
    if (e.status === 404 && current?.placeholder) list.remove(id);
    else list.setNotice(id, actionError(e, "load this song's details"));
  } finally {
    state.refreshing.delete(id);
  }
}

/** Removes a finished generation from the user's history (DELETE, 204). */
async function removeGeneration(id) {
  const session = state.session;
  const g = list.get(id);
  if (!g) return;
  const name = shorten(displayName(g));
  list.setNotice(id, "");
  list.setRemoveBusy(id, true);
  try {
    await client.remove(id);
    if (session !== state.session) return;
    state.removed.add(id);
    list.remove(id, { focusEl: $("songs-heading") });
    announce(`Song '${name}' removed from your list.`);
    state.stats?.refresh();
  } catch (e) {
    if (session !== state.session) return;
    if (e.status === 404) {
      // Already gone (removed in another tab): the list catches up.
      state.removed.add(id);
      list.remove(id, { focusEl: $("songs-heading") });
      announce(`Song '${name}' was already removed.`);
      return;
    }
    // 409 not_finished: it runs again (an operator retried it, say).
    const text = e.status === 409 ? "It is being made again, so it cannot be removed now." : actionError(e, "remove this song");
    list.setNotice(id, text);
    announce(`Song '${name}': ${text}`);
    if (e.status === 409) refresh(id);
  } finally {
    if (session === state.session) list.setRemoveBusy(id, false);
  }
}

async function cancel(id) {
  const session = state.session;
  list.setNotice(id, "");
  list.setCancelBusy(id, true);
  try {
    const res = await client.cancel(id);
    if (session !== state.session) return;
    const change = list.applyEvent("generation:cancelled", { generationId: id, status: res?.status || "cancelled" });
    if (change) announce(describeChange(change));
    state.stats?.refresh();
    quota.refresh();
  } catch (e) {
    if (session !== state.session) return;
    const g = list.get(id);
    const name = g ? shorten(displayName(g)) : id;
    // 409: it finished before the cancel arrived; show why and catch up.
    const text = e.status === 409 ? "It had already finished, so there was nothing to cancel." : actionError(e, "cancel this song");
    list.setNotice(id, text);
    announce(`Song '${name}': ${text}`);
    if (e.status === 409) refresh(id);
  } finally {
    if (session === state.session) list.setCancelBusy(id, false);
  }
}

// ---------------------------------------------------------------- live updates

const GENERATION_EVENTS = ["generation:progress", "generation:complete", "generation:error", "generation:cancelled"];

/**
 * The session's WebSocket. The client reconnects by itself (backoff with
 * jitter), syncs after every (re)connect and drops events older than the
 * newest of their generation; a sync answer's generations arrive as their
 * own events, then "sync".
 */
function startRealtime(session) {
  const rt = client.realtime({ autoConnect: false });
  const live = (fn) => (...args) => {
    if (session === state.session) fn(...args);
  };
  for (const name of GENERATION_EVENTS) {
    rt.on(name, live((data) => {
      onGenerationEvent(name, data);
      // The counts moved; the panel asks at most once a second.
      state.stats?.refresh();
    }));
  }
  // Whatever happened while away shows in the counts too; a sync that did
  // not fit one message is completed from the list.
  rt.on("sync", live((e) => {
    state.stats?.refresh();
    if (e.more) loadList();
  }));
  rt.on("open", live(() => showConnection("connected")));
  rt.on("close", live((e) => {
    if (e.willReconnect) showConnection("reconnecting", { delayMs: e.delayMs });
    else if (e.cause === "token_expired") signOut("Your session expired. Sign in again.");
    else showConnection("idle");
  }));
  rt.on("error", live((e) => {
    // A failed connection shows as Reconnecting…; the rest is the server
    // refusing a message (rate_limited, say).
    if (e.code !== "socket_error" && e.code !== "token_expired") console.warn("WebSocket: the server refused a message", e);
  }));
  showConnection("connecting");
  rt.connect();
  return rt;
}

function onGenerationEvent(name, data) {
  if (typeof data?.generationId === "string" && state.removed.has(data.generationId)) return;
  const change = list.applyEvent(name, data);
  if (!change) return;
  const id = change.g.id;
  // Not in the list yet (made in another tab, or older than the first
  // page), or playable from Suno's stream, which no event carries.
  if (change.created || list.wantsTracks(id)) refresh(id);
  // A song made elsewhere, one that ended, or one an operator's retry
  // started again: the plan's counts moved.
  if (change.created || (change.before && OPEN.has(change.before.status) !== OPEN.has(change.g.status))) quota.refresh();
  // "Created 'x'" is old news once x has ended: its card says how.
  if (id === state.createdId && ["completed", "failed", "cancelled"].includes(change.g.status)) showCreated(null);
  announce(describeChange(change));
}

/** The statuses that count as in progress against the plan. */
const OPEN = new Set(["pending", "processing"]);

const CONNECTION_TEXT = {
  idle: "Not connected",
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
};

function showConnection(next, detail = {}) {
  const prev = state.connection;
  state.connection = next;
  const node = $("ws-state");
  node.dataset.state = next;
  node.textContent = CONNECTION_TEXT[next] ?? next;
  node.title = next === "reconnecting" && detail.delayMs ? `Next try in ${Math.ceil(detail.delayMs / 1000)} s` : "";
  if (next === "connected") state.stats?.refresh(); // events may have been missed
  if (prev === "connected" && next === "reconnecting") announce("Live updates lost; reconnecting.");
  if (prev === "reconnecting" && next === "connected") announce("Live updates reconnected.");
}

/** Queues a sentence for screen readers (the region reads additions). */
function announce(text) {
  if (!text) return;
  const region = $("announcer");
  region.append(el("p", {}, text));
  while (region.childElementCount > 5) region.firstElementChild.remove();
}

// ---------------------------------------------------------------- create form

const FIELDS = ["prompt", "style", "title"];

function setUpForm() {
  $("model").replaceChildren(
    ...MODELS.map((m) => el("option", { value: m, selected: m === DEFAULT_MODEL }, MODEL_LABELS[m] ?? m)),
  );
  const form = $("create-form");
  form.addEventListener("input", updateForm);
  form.addEventListener("change", updateForm);
  // A new song being written: the last one's "Queued" line is done with.
  form.addEventListener("input", () => showCreated(null));
  form.addEventListener("submit", onCreate);
  updateForm();
}

function readForm() {
  return {
    prompt: $("prompt").value,
    style: $("style").value,
    title: $("title").value,
    instrumental: $("instrumental").checked,
    model: $("model").value,
    customMode: $("custom-mode").checked,
  };
}

/** Keeps counters, disabled fields and hints in step with the form. */
function updateForm() {
  const req = readForm();
  const limits = limitsFor(req.model, req.customMode);
  $("style").disabled = !req.customMode;
  $("title").disabled = !req.customMode;
  // Style and title are for custom mode only; hidden otherwise, so that
  // on a phone the form is short and the songs come soon after it.
  $("custom-fields").hidden = !req.customMode;
  $("prompt-help").textContent = req.customMode
    ? req.instrumental
      ? "The lyrics. Optional for an instrumental song."
      : "The lyrics of the song."
    : "Describe the song you want.";
  $("prompt").setAttribute("aria-required", String(!(req.customMode && req.instrumental)));
  $("style").setAttribute("aria-required", String(req.customMode));
  $("title").setAttribute("aria-required", String(req.customMode));
  for (const field of FIELDS) {
    const counter = $(`${field}-count`);
    const input = $(field);
    if (input.disabled) {
      counter.textContent = "Custom mode only";
      counter.classList.remove("over");
      input.removeAttribute("aria-invalid");
      continue;
    }
    const n = charCount(req[field]);
    const over = n - limits[field];
    counter.textContent = over > 0 ? `${n} / ${limits[field]} (${over} over)` : `${n} / ${limits[field]}`;
    counter.classList.toggle("over", over > 0);
    if (over > 0) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

async function onCreate(e) {
  e.preventDefault();
  if (state.submitting) return;
  const req = readForm();
  const errorBox = $("create-error");
  showCreated(null);
  const problems = validate(req);
  if (problems.length > 0) {
    errorBox.replaceChildren(...problems.map((p) => el("p", {}, p.message)));
    errorBox.hidden = false;
    for (const p of problems) $(p.field).setAttribute("aria-invalid", "true");
    $(problems[0].field).focus();
    return;
  }
  errorBox.replaceChildren();
  errorBox.hidden = true;

  const body = requestBody(req);
  const bodyText = JSON.stringify(body);
  if (!state.pendingCreate || state.pendingCreate.body !== bodyText) {
    state.pendingCreate = { key: randomId(), body: bodyText };
  }
  const session = state.session;
  setSubmitting(true);
  try {
    const res = await client.createGeneration(body, { idempotencyKey: state.pendingCreate.key });
    if (session !== state.session) return;
    state.pendingCreate = null;
    if (!res || typeof res.generationId !== "string") throw new Error("The server's answer had no generationId.");
    const g = list.addCreated(res, req);
    const name = shorten(displayName(g));
    for (const field of FIELDS) $(field).value = "";
    updateForm();
    showCreated(g.id, `Created '${name}'. Follow it in your songs.`);
    announce(`Song '${name}' queued.`);
    state.stats?.refresh();
    quota.refresh();
  } catch (err) {
    if (session !== state.session) return;
    // Only an unknown outcome keeps the key; a clear refusal does not.
    const unknownOutcome = err.status === 0 || err.status >= 500;
    if (!unknownOutcome) state.pendingCreate = null;
    if (err.status === 429 && err.code === "quota_exceeded") quota.refresh();
    errorBox.replaceChildren(el("p", {}, createError(err)));
    errorBox.hidden = false;
  } finally {
    setSubmitting(false);
  }
}

/** Shows (or, with id null, clears) the line that says a song was queued. */
function showCreated(id, text = "") {
  state.createdId = id;
  $("create-message").textContent = id ? text : "";
}

/**
 * "Try again" on a failed song: a new song of the same request (a new
 * generation, so the failed one stays as it was). Focus moves to the new
 * song, at the top of the list.
 */
async function tryAgain(g) {
  const session = state.session;
  const req = {
    prompt: g.prompt,
    style: g.style,
    title: g.title,
    instrumental: g.instrumental,
    model: MODELS.includes(g.model) ? g.model : DEFAULT_MODEL,
    // Style and title are sent only in custom mode, so having them says it.
    customMode: Boolean(g.style || g.title),
  };
  const name = shorten(displayName(g));
  list.setNotice(g.id, "");
  list.setTryAgainBusy(g.id, true);
  try {
    const res = await client.createGeneration(requestBody(req), { idempotencyKey: randomId() });
    if (session !== state.session) return;
    if (!res || typeof res.generationId !== "string") throw new Error("no generationId");
    const created = list.addCreated(res, req);
    created.refs.title.focus();
    announce(`Song '${name}' is being made again, as a new song at the top of your list.`);
    state.stats?.refresh();
    quota.refresh();
  } catch (e) {
    if (session !== state.session) return;
    const text = createError(e);
    list.setNotice(g.id, text);
    announce(`Song '${name}': ${text}`);
  } finally {
    if (session === state.session) list.setTryAgainBusy(g.id, false);
  }
}

function setSubmitting(on) {
  state.submitting = on;
  const button = $("create-submit");
  button.disabled = on;
  button.textContent = on ? "Creating…" : "Create song";
}

// Last, so that every module-level binding above is initialised first.
init();

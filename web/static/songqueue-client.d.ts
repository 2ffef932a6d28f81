// Types for songqueue-client.js: SongQueue's HTTP API (DESIGN.md section 3)
// and WebSocket (section 4). Served beside the module by the local stack
// (http://localhost:3001/songqueue-client.d.ts). Save both files side by
// side in your project and import "./songqueue-client.js": TypeScript and
// editors find this file by itself. Deno, importing the module's URL,
// finds it through the X-TypeScript-Types header.

export type Tier = "FREE" | "PRO" | "PREMIUM" | "ENTERPRISE";
export type Status = "pending" | "processing" | "completed" | "failed" | "cancelled";
export type Model = "V4" | "V4_5" | "V4_5PLUS" | "V4_5ALL" | "V5" | "V5_5";

/** The body of POST /api/generation/create. The tier comes from the token, never from here. */
export interface CreateGenerationRequest {
  /** The description (non-custom mode, at most 500 characters) or the lyrics (custom mode). */
  prompt: string;
  /** Custom mode only. */
  style?: string;
  /** Custom mode only. */
  title?: string;
  instrumental?: boolean;
  /** Default V4_5. */
  model?: Model;
  customMode?: boolean;
  negativeTags?: string;
}

/** 202 answer of a create. */
export interface CreateGenerationResponse {
  generationId: string;
  status: "pending";
  tier: Tier;
  priority: number;
  message: string;
  /** The new song's place in line. */
  queue?: Place;
  /** The version of the state this answer shows: a push may arrive before it, so keep whichever is higher. */
  version: number;
  /** True when the Idempotency-Key was seen before: this is the first create's generation (Idempotent-Replayed header). */
  replayed: boolean;
}

export interface Track {
  id: string;
  /** The stack's archived copy once archived (DESIGN.md section 11), else Suno's. */
  audioUrl: string;
  streamAudioUrl: string;
  imageUrl: string;
  title: string;
  /** Seconds. */
  duration: number;
  sourceAudioUrl?: string;
  sourceImageUrl?: string;
}

/** GET /api/generation/status/{id}, and each item of a list. */
export interface Generation {
  generationId: string;
  status: Status;
  /** 0 to 100: 10 picked up, 30 submitted, 70 text ready, 90 first track, 100 done. */
  progress: number;
  message: string;
  tier: Tier;
  prompt: string;
  title?: string;
  style?: string;
  model: string;
  instrumental: boolean;
  tracks: Track[];
  audioUrl: string;
  archived: boolean;
  error: string;
  errorCode?: string;
  /** Why a pending song is held: "suno_unavailable" | "suno_credits" | "tier_paused". */
  waitReason?: string;
  /** A pending song's place in line. */
  queue?: Place;
  attempts: number;
  /** Grows with every saved change; WebSocket events carry it too. */
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface GenerationPage {
  /** Newest first. */
  items: Generation[];
  /** Absent on the last page. */
  nextCursor?: string;
}

export interface CancelResponse {
  generationId: string;
  status: "cancelled";
}

export interface TierStats {
  /** Pending and ready. */
  waiting: number;
  /** Processing. */
  active: number;
  completed: number;
  failed: number;
  /** Pending in a backoff or rate-limit wait. */
  delayed: number;
  cancelled: number;
  total: number;
  /** Messages in the dead-letter queue (not counted in total). */
  deadLetters: number;
}

/** GET /api/queue/stats: counts of generations, exact at every moment. */
export interface QueueStats extends TierStats {
  byTier: Partial<Record<Tier, TierStats>>;
}

/** A limit of GET /api/quota: used of limit, or {} when the tier has no such limit (nothing is counted then). */
export interface QuotaUse {
  used?: number;
  limit?: number;
}

/** GET /api/quota: the caller's own quota, counted as a create's check counts it. */
export interface Quota {
  tier: Tier;
  /** Unfinished songs, and slots held by songs cancelled while Suno was making them. */
  open: QuotaUse;
  /** Creates in the last windowHours (24) hours. */
  daily: QuotaUse & {
    windowHours?: number;
    /** Only once used has reached limit: when the next create fits (RFC 3339). */
    nextFreeAt?: string;
  };
}

/**
 * An API failure. status is 0 when the server could not be reached (or a
 * CORS refusal, which a browser does not tell apart); code is the API's
 * error.code (e.g. "invalid_prompt", "not_found", "quota_exceeded",
 * "not_finished", "unauthorized") or "network_error", "no_token", "http_<status>".
 */
export declare class ApiError extends Error {
  constructor(status: number, code: string, message: string, extra?: { retryAfter?: number | null; requestId?: string; body?: unknown });
  readonly name: "ApiError";
  readonly status: number;
  readonly code: string;
  /** Seconds to wait, from the Retry-After header (429 quota_exceeded), else null. */
  readonly retryAfter: number | null;
  /** The apigw-requestid header: quote it when reporting a problem. */
  readonly requestId: string;
  /** The parsed error body, if it was JSON. */
  readonly body: unknown;
}

export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;

export interface ClientOptions {
  /** The API's base URL, e.g. "http://localhost:3001" (make dev); "" for this page's origin. */
  apiBase?: string;
  /** The WebSocket address without token, e.g. "wss://abc.execute-api.eu-west-1.amazonaws.com/prod". Default: <apiBase>/ws, as the local stack serves it. */
  wsUrl?: string;
  /** A fixed token (JWT). */
  token?: string;
  /** Asked before every request and every (re)connect: return a fresh token here if yours expire. */
  getToken?: TokenSource;
  /** Called on any 401 of an authenticated request (before the ApiError is thrown). */
  onUnauthorized?: (error: ApiError) => void;
  /** fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** WebSocket constructor to use (default globalThis.WebSocket; in Node < 22, pass the ws package's). */
  WebSocket?: typeof WebSocket;
}

export interface RequestOptions {
  /** Sent as JSON with Content-Type: application/json. */
  json?: unknown;
  headers?: Record<string, string>;
  /** Send the token (default true). */
  auth?: boolean;
  /** Added to the URL; undefined, null and "" values are left out. */
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface SongQueueClient {
  /** The apiBase given, without trailing slash. */
  readonly apiBase: string;
  /** Any route (the operator routes, say): resolves with the parsed JSON, null for 204; rejects with ApiError. */
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** POST /api/generation/create (202). The same idempotencyKey from the same user returns the same generation. */
  createGeneration(body: CreateGenerationRequest, options?: { idempotencyKey?: string; signal?: AbortSignal }): Promise<CreateGenerationResponse>;
  /** GET /api/generation/status/{id}; 404 not_found when it is not yours. */
  getStatus(generationId: string, options?: CallOptions): Promise<Generation>;
  /** GET /api/generation?limit=&cursor=: the caller's generations, newest first. */
  list(options?: { limit?: number; cursor?: string; signal?: AbortSignal }): Promise<GenerationPage>;
  /** POST /api/generation/{id}/cancel; 409 when already finished. */
  cancel(generationId: string, options?: CallOptions): Promise<CancelResponse>;
  /** DELETE /api/generation/{id} (204): removes a finished generation from the history; 409 not_finished while it runs. */
  remove(generationId: string, options?: CallOptions): Promise<void>;
  /** GET /api/queue/stats. */
  stats(options?: CallOptions): Promise<QueueStats>;
  /** GET /api/quota: the caller's own limits and how much of them they use. */
  quota(options?: CallOptions): Promise<Quota>;
  /** The WebSocket, connecting at once unless autoConnect is false (then call connect()). Each call makes a new connection. */
  realtime(options?: RealtimeOptions): RealtimeClient;
  /** realtime() that always connects at once. */
  connect(options?: RealtimeOptions): RealtimeClient;
}

export interface RealtimeOptions {
  /** The WebSocket address without token; default the client's wsUrl. */
  url?: string;
  /** Default true. */
  autoConnect?: boolean;
  /** Keep-alive ping interval (default 25 000 ms). */
  pingIntervalMs?: number;
  /** Reconnect when nothing was heard for this long (default 2 pings + 10 s). */
  silenceLimitMs?: number;
  /** Reconnect delays: initialMs doubling up to maxMs (default 1 000 and 30 000), each with jitter (half to all of it). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Consecutive failed attempts before giving up (default Infinity). */
  maxRetries?: number;
  /** Sync (or reconnect at once) when the tab becomes visible or the network comes back (default true in a browser). */
  watchNetwork?: boolean;
  WebSocket?: typeof WebSocket;
}

export interface StandaloneRealtimeOptions extends RealtimeOptions {
  url: string;
  token?: string;
  getToken?: TokenSource;
}

/** generation:progress (status pending while waiting for a retry or a rate-limit token). */
/** A pending song's place in line (docs/place-in-line.md). */
export interface Place {
  /** Songs the current policy submits before it. */
  ahead: number;
  /** RFC 3339; absent while the song is held (waitReason). */
  estimatedStart?: string;
}

export interface ProgressEvent {
  generationId: string;
  progress: number;
  status: "pending" | "processing";
  message: string;
  attempts: number;
  waitReason?: string;
  /** A pending song's place; a move of the place alone comes with the same version. */
  queue?: Place;
  version: number;
}

export interface CompleteEvent {
  generationId: string;
  audioUrl: string;
  tracks: Track[];
  status: "completed";
  version: number;
}

export interface ErrorEvent {
  generationId: string;
  error: string;
  status: "failed";
  version: number;
}

export interface CancelledEvent {
  generationId: string;
  status: "cancelled";
  version: number;
}

export type GenerationEvent =
  | { event: "generation:progress"; data: ProgressEvent }
  | { event: "generation:complete"; data: CompleteEvent }
  | { event: "generation:error"; data: ErrorEvent }
  | { event: "generation:cancelled"; data: CancelledEvent };

export interface SyncEvent {
  /** The current state of every unfinished or recently finished generation, oldest first. */
  generations: GenerationEvent[];
  /**
   * True when the server left generations out to keep the answer within one
   * WebSocket message (unfinished ones come first, then the most recently
   * finished): read the rest with list().
   */
  more: boolean;
}

export interface OpenEvent {
  /** False the first time, true after a reconnect. */
  reconnect: boolean;
  /** Failed attempts before this one. */
  attempt: number;
}

export interface CloseEvent {
  /** The WebSocket close code (1006 when the connection failed; 1008 when the token expired). */
  code: number;
  reason: string;
  wasClean: boolean;
  /** Whether the connection had opened (false: an attempt failed). */
  wasOpen: boolean;
  willReconnect: boolean;
  /** Milliseconds until the next attempt, when willReconnect. */
  delayMs: number | null;
  /** "server" (dropped or refused; reconnecting), or why it stopped for good. */
  cause: "server" | "client" | "token_expired" | "no_token" | "retries_exhausted";
}

/** A server error message ({"event":"error"}: rate_limited, unknown_action...) or the client's: socket_error, token_expired, no_token. */
export interface RealtimeError {
  code: string;
  message?: string;
}

export interface EventMeta {
  event: string;
  /** "sync" when the event came from the answer to a sync, not a push. */
  source: "live" | "sync";
}

export interface RealtimeEvents {
  "generation:progress": (data: ProgressEvent, meta: EventMeta) => void;
  "generation:complete": (data: CompleteEvent, meta: EventMeta) => void;
  "generation:error": (data: ErrorEvent, meta: EventMeta) => void;
  "generation:cancelled": (data: CancelledEvent, meta: EventMeta) => void;
  sync: (data: SyncEvent) => void;
  open: (data: OpenEvent) => void;
  close: (data: CloseEvent) => void;
  error: (data: RealtimeError) => void;
  pong: (data: undefined) => void;
}

/**
 * The WebSocket, kept open: reconnects with exponential backoff and jitter,
 * sends {"action":"sync"} after every (re)connect (the generations of its
 * answer are also delivered as their own events, when newer), pings every
 * 25 s, and drops any generation event whose version is not newer than the
 * newest seen for that generation.
 */
export interface RealtimeClient {
  readonly state: "idle" | "connecting" | "open" | "reconnecting" | "closed";
  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof RealtimeEvents>(event: E, fn: RealtimeEvents[E]): () => void;
  on(event: string, fn: (data: unknown, meta?: EventMeta) => void): () => void;
  once<E extends keyof RealtimeEvents>(event: E, fn: RealtimeEvents[E]): () => void;
  /** off(event, fn) one listener; off(event) all of an event's; off() all. */
  off<E extends keyof RealtimeEvents>(event?: E, fn?: RealtimeEvents[E]): void;
  /** Opens the connection (again after close()); a no-op while it runs. */
  connect(): this;
  /** Closes for good: no reconnect until connect(). */
  close(): void;
  /** Asks for a sync now, or reconnects at once if waiting to retry. */
  sync(): void;
  /** Sends a client message ({"action":"ping"|"sync"}); false when not connected. */
  send(message: { action: string }): boolean;
  /** The newest version seen of a generation's state. */
  versionOf(generationId: string): number | undefined;
}

/** The client for an API base URL and a token. */
export declare function createClient(options?: ClientOptions): SongQueueClient;

/** A realtime client without the HTTP part. */
export declare function createRealtime(options: StandaloneRealtimeOptions): RealtimeClient;

/** Seconds from a Retry-After header value (delta-seconds or an HTTP date), or null. */
export declare function parseRetryAfter(value: string | null | undefined, now?: number): number | null;

/** ws(s)://<apiBase host>/ws, as the local stack serves it (this page's host when apiBase is ""). */
export declare function defaultWsUrl(apiBase?: string): string;

/** wsUrl with ?token= (or &token=) appended. */
export declare function socketUrl(wsUrl: string, token: string): string;

/** Whether a token is a JWT whose exp has passed (false for anything else). */
export declare function tokenExpired(token: string, now?: number): boolean;

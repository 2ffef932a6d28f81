// Tokens: where they come from (demo users, a pasted JWT, Cognito's hosted
// UI) and what the page reads from them. The page never verifies a token;
// the API does. Decoding here is only for showing who is signed in.

const TOKEN_KEY = "songqueue.token";
const STATE_KEY = "songqueue.oauthState";

// The API reads the tier from a configurable claim; these are the usual
// names (plain, and Cognito's custom attribute form).
const TIER_CLAIMS = ["tier", "custom:tier"];

/** Decodes a JWT's payload, or returns null if it is not a JWT. */
export function decodeJwt(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return payload && typeof payload === "object" ? payload : null;
  } catch {
    return null;
  }
}

/**
 * Who a token says the user is: {userId, tier, expiresAt (ms or null),
 * groups}, or an {error} explaining why the token cannot be used.
 */
export function identify(token, tierClaim) {
  const payload = decodeJwt(token);
  if (!payload) return { error: "That is not a JWT: expected three base64url parts separated by dots." };
  if (typeof payload.sub !== "string" || payload.sub === "") {
    return { error: "The token has no user id (sub claim)." };
  }
  const expiresAt = typeof payload.exp === "number" ? payload.exp * 1000 : null;
  if (expiresAt !== null && expiresAt <= Date.now()) {
    return { error: "The token has expired. Sign in again." };
  }
  const claims = tierClaim ? [tierClaim, ...TIER_CLAIMS] : TIER_CLAIMS;
  const claim = claims.find((c) => typeof payload[c] === "string" && payload[c] !== "");
  return { userId: payload.sub, tier: claim ? payload[claim].toUpperCase() : "FREE", expiresAt, groups: groupsOf(payload) };
}

// Where a token names the user's groups: Cognito's claim, and the plain one.
const GROUP_CLAIMS = ["cognito:groups", "groups"];

/** The groups a token's payload puts the user in (a list, or one string). */
export function groupsOf(payload) {
  const out = [];
  for (const name of GROUP_CLAIMS) {
    const v = payload?.[name];
    if (Array.isArray(v)) out.push(...v.filter((g) => typeof g === "string" && g));
    else if (typeof v === "string") out.push(...v.split(/[\s,]+/).filter(Boolean));
  }
  return [...new Set(out)];
}

/**
 * Whether the token's user is an operator, as far as the page can tell:
 * only to decide whether to show the operator view. The API decides for
 * real (403 for everyone else).
 */
export function isAdmin(who, adminGroup = "admin") {
  return Boolean(adminGroup) && Array.isArray(who?.groups) && who.groups.includes(adminGroup);
}

export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** The hosted UI address for an implicit-flow sign-in (response_type=token). */
export function cognitoSignInUrl(cognito) {
  const domain = /^https?:\/\//.test(cognito.domain) ? cognito.domain : `https://${cognito.domain}`;
  const url = new URL("/oauth2/authorize", domain);
  // state ties the answer to this tab's request, so a crafted link cannot
  // sign the user in with someone else's token.
  const state = randomId();
  sessionStorage.setItem(STATE_KEY, state);
  url.search = new URLSearchParams({
    response_type: "token",
    client_id: cognito.clientId,
    redirect_uri: cognito.redirectUri || location.origin + location.pathname,
    scope: "openid email profile",
    state,
  }).toString();
  return url.toString();
}

/**
 * Reads the hosted UI's answer from the URL fragment and removes it from
 * the address bar. Returns {token}, {error} or null when there is none.
 */
export function takeFragmentToken() {
  if (!location.hash || location.hash.length < 2) return null;
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has("id_token") && !params.has("error")) return null;
  history.replaceState(null, "", location.pathname + location.search);
  const expected = sessionStorage.getItem(STATE_KEY);
  sessionStorage.removeItem(STATE_KEY);
  if (params.has("error")) {
    return { error: `Cognito sign-in failed: ${params.get("error_description") || params.get("error")}` };
  }
  if (!expected || params.get("state") !== expected) {
    return { error: "Cognito sign-in answer did not match a sign-in started here; try again." };
  }
  return { token: params.get("id_token") };
}

/** A random UUID, also on plain http where crypto.randomUUID is missing. */
export function randomId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

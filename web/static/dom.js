// Tiny DOM helpers. Text always goes in through text nodes (textContent),
// never through innerHTML, so nothing a user typed or the API returned can
// become markup.

/**
 * el("p", {className: "x", "aria-label": "y"}, "text", child) builds an
 * element. Keys containing a dash, and "role", become attributes; all other
 * keys are set as properties. Children are nodes or strings (as text).
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key.includes("-") || key === "role") node.setAttribute(key, String(value));
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** A URL from API data, or "" unless it is http(s): no javascript: or data: links. */
export function safeUrl(value) {
  if (typeof value !== "string" || value === "") return "";
  try {
    const url = new URL(value, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : "";
  } catch {
    return "";
  }
}

/** Cuts text to n code points with an ellipsis, for names in messages. */
export function shorten(text, n = 40) {
  const chars = [...text.replace(/\s+/g, " ").trim()];
  return chars.length > n ? chars.slice(0, n - 1).join("") + "…" : chars.join("");
}

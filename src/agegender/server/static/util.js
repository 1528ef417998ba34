// Small helpers shared by the page's modules: DOM, the API key, requests, downloads.
"use strict";

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const KEY_STORE = "agegender.apiKey";

/** Create an element: el("td", {className: "num"}, "text", child). */
export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function apiKey() {
  try {
    return localStorage.getItem(KEY_STORE) || "";
  } catch {
    return "";
  }
}

export function saveKey(value) {
  if (value) localStorage.setItem(KEY_STORE, value);
  else localStorage.removeItem(KEY_STORE);
}

export function authHeaders() {
  const key = apiKey();
  return key ? { "X-API-Key": key } : {};
}

/** The server's error message from a JSON error body, with a hint the visitor can act on. */
export function serverMessage(status, statusText, body) {
  let message = `${status} ${statusText || ""}`.trim();
  if (body && body.error && body.error.message) message = body.error.message;
  if (status === 401) message += " (enter the API key under About)";
  return message;
}

/** An Error for a request that never reached the server. */
export function unreachable() {
  const err = new Error(
    `Could not reach the server at ${location.host}: check that it is still running and that this device is online.`);
  err.unreachable = true;
  return err;
}

/** fetch() with the API key; throws an Error with the server's message on failure. */
export async function api(path, options = {}) {
  let res;
  try {
    res = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw unreachable();
  }
  if (!res.ok) {
    let body = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    const err = new Error(serverMessage(res.status, res.statusText, body));
    err.status = res.status;
    throw err;
  }
  return res;
}

export function setStatus(node, text, kind = "") {
  node.hidden = !text;
  node.textContent = text || "";
  node.className = `status ${kind}`.trim();
}

const spoken = { queue: [], timer: 0 };
const ANNOUNCE_GAP_MS = 400; // between two messages, so that a screen reader reads each one
const ANNOUNCE_KEEP = 6; // messages kept in the region (older ones are removed, not re-read)

/**
 * Tell screen readers something, after what was said before: each message is a new
 * paragraph appended to the polite live region (aria-relevant="additions"), so that a
 * later message never replaces an earlier one. The region itself is never hidden or
 * emptied: it stays in the accessibility tree.
 */
export function announce(text) {
  if (!text) return;
  spoken.queue.push(text);
  if (!spoken.timer) speakNext();
}

function speakNext() {
  const region = $("#announcer");
  const text = spoken.queue.shift();
  if (!region || text === undefined) {
    spoken.timer = 0;
    return;
  }
  region.append(el("p", {}, text));
  while (region.childElementCount > ANNOUNCE_KEEP) region.firstElementChild.remove();
  spoken.timer = setTimeout(speakNext, ANNOUNCE_GAP_MS);
}

export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function stem(name) {
  const base = (name || "photo").split(/[\\/]/).pop();
  return base.replace(/\.[^.]+$/, "") || "photo";
}

export { percent as pct } from "./labels.js"; // at most 99%: one rounding for the page
export const dash = (s) => String(s).replace("-", "\u2013");
// a null label: perceived gender undetermined (below the server's gender_min_confidence)
export const genderClass = (f) => (f.gender && f.gender.label ? f.gender.label : "unknown");

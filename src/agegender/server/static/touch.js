// Phones: pinch to zoom the picture, and a bottom sheet that shows the selected face's
// card over the lower part of the screen so that the picture stays in view.
"use strict";

import { $, el } from "./util.js";

/** Phone layout (the cards are below the picture, out of view). */
export const narrow = () => window.matchMedia("(max-width: 560px)").matches;

/**
 * Pinch with two fingers on `scroller` to zoom: the picture is scaled with a CSS
 * transform while the fingers move, then `commit(zoom, clientX, clientY)` lays it out
 * at the new zoom around the fingers' midpoint. `zoomOf()` gives the zoom now.
 */
export function initPinch(scroller, target, zoomOf, commit, { min = 1, max = 4 } = {}) {
  let start = null;
  const span = (t) => Math.hypot(t[0].clientX - t[1].clientX, t[0].clientY - t[1].clientY);
  const mid = (t) => [(t[0].clientX + t[1].clientX) / 2, (t[0].clientY + t[1].clientY) / 2];
  scroller.addEventListener("touchstart", (e) => {
    if (e.touches.length !== 2) return;
    const [mx, my] = mid(e.touches);
    const r = target.getBoundingClientRect();
    start = { d: Math.max(1, span(e.touches)), z: zoomOf(), zoom: zoomOf(), mx, my };
    target.style.transformOrigin = `${mx - r.left}px ${my - r.top}px`;
  }, { passive: true });
  scroller.addEventListener("touchmove", (e) => {
    if (!start || e.touches.length !== 2) return;
    e.preventDefault(); // no scroll while pinching
    start.zoom = Math.max(min, Math.min(max, (start.z * span(e.touches)) / start.d));
    [start.mx, start.my] = mid(e.touches);
    target.style.transform = `scale(${start.zoom / start.z})`;
  }, { passive: false });
  const end = (e) => {
    if (!start || e.touches.length >= 2) return;
    const { zoom, mx, my } = start;
    start = null;
    target.style.transform = "";
    commit(Math.round(zoom * 10) / 10, mx, my);
  };
  scroller.addEventListener("touchend", end);
  scroller.addEventListener("touchcancel", end);
}

/**
 * The bottom sheet: a copy of card `card` (its thumbnail redrawn), with Previous, Next
 * and Close. `go(step)` selects another face (step -1 or 1), `go(0)` closes.
 */
export function openSheet(card, go) {
  const sheet = $("#sheet");
  const copy = card.cloneNode(true);
  copy.removeAttribute("aria-pressed");
  copy.classList.remove("selected");
  copy.tabIndex = -1;
  copy.setAttribute("aria-hidden", "true"); // the region's own text below says it
  const from = card.querySelector("canvas");
  const to = copy.querySelector("canvas");
  if (from && to) to.getContext("2d").drawImage(from, 0, 0);
  const body = el("div", { className: "sheet-card" }, copy);
  const text = el("p", { className: "visually-hidden" }, card.getAttribute("aria-label") || card.textContent);
  const nav = el("div", { className: "sheet-nav" },
    el("button", { type: "button", className: "btn", onclick: () => go(-1) }, "Previous"),
    el("button", { type: "button", className: "btn", onclick: () => go(1) }, "Next"),
    el("button", { type: "button", className: "btn ghost", onclick: () => go(0) }, "Close"));
  sheet.replaceChildren(nav, body, text);
  sheet.hidden = false;
  document.body.classList.add("sheet-open");
  document.body.style.setProperty("--sheet-h", `${sheet.offsetHeight}px`);
}

export function closeSheet() {
  const sheet = $("#sheet");
  if (!sheet || sheet.hidden) return;
  sheet.hidden = true;
  sheet.replaceChildren();
  document.body.classList.remove("sheet-open");
}

/** Scroll the page so that element `m` is above the sheet (and below the top bar). */
export function keepAboveSheet(m) {
  const sheet = $("#sheet");
  if (!m || !sheet || sheet.hidden) return;
  const r = m.getBoundingClientRect();
  const top = ($(".topbar")?.getBoundingClientRect().bottom || 0) + 8;
  const bottom = sheet.getBoundingClientRect().top - 8;
  if (r.bottom > bottom) window.scrollBy({ top: r.bottom - bottom + (bottom - top) / 3, behavior: "instant" });
  else if (r.top < top) window.scrollBy({ top: r.top - top - (bottom - top) / 3, behavior: "instant" });
}

// The Photo result: the picture with boxes and numbered markers (labels placed without
// collisions), one card per face, and selection between markers and cards.
"use strict";

import { SAVED_PALETTE, canvasBoxes, drawAnnotated, drawBoxes, drawLeaders, faceSentence, labelTexts } from "./draw.js";
import { placeLabels } from "./place.js";
import { drawing, keep } from "./settings.js";
import { closeSheet, initPinch, keepAboveSheet, narrow, openSheet } from "./touch.js";
import { $, $$, announce, dash, download, el, genderClass, pct, stem } from "./util.js";

/**
 * The result shown: entry {bitmap, result, name} with the faces the settings keep (its
 * `pending` is true while the photo is analyzed); source: the entry as the server answered;
 * previous: the last answered entry, shown again if a pending photo fails; selected: face
 * index or -1.
 */
export const shown = { entry: null, source: null, previous: null, staleWhy: "", selected: -1, spots: [], boxes: [], zoom: 1 };
const ZOOMS = [1, 2, 3, 4]; // the buttons' steps; a pinch zooms anywhere between
// label forms: full, short, the tag alone, the tag alone made small, smaller still (the
// last resort of a crowd: placeLabels' nearestFree)
const LEVELS = 5;

const MAX_ZOOM = 4; // small photos are shown up to 4x larger
const SAVE_MIN_SIDE = 1200; // a saved picture is at least this large (small photos upscaled)
const SAVE_MAX_SIDE = 8192;

// ----------------------------------------------------------------------------- layout

/** Size the canvas to the space available (CSS pixels), at the screen's resolution. */
function fit() {
  const { bitmap } = shown.entry;
  const stage = $("#stage");
  const cs = getComputedStyle(stage);
  const availW = Math.max(120, stage.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight));
  const availH = Math.max(240, Math.min(window.innerHeight * 0.78, window.innerHeight - 150));
  const s = Math.min(availW / bitmap.width, availH / bitmap.height, MAX_ZOOM) * shown.zoom;
  const cw = Math.max(1, Math.floor(bitmap.width * s));
  const ch = Math.max(1, Math.floor(bitmap.height * s));
  const dpr = window.devicePixelRatio || 1;
  const canvas = $("#photo-canvas");
  const wrap = $("#picture");
  wrap.style.width = `${cw}px`;
  wrap.style.height = `${ch}px`;
  canvas.style.width = `${cw}px`;
  canvas.style.height = `${ch}px`;
  canvas.width = Math.round(cw * dpr);
  canvas.height = Math.round(ch * dpr);
  return { cw, ch, dpr };
}

/** Markers: one button per face, placed in CSS pixels over the picture. */
function placeMarkers(cw, ch) {
  const { result } = shown.entry;
  const layer = $("#markers");
  const markers = $$(".marker", layer);
  const boxes = canvasBoxes(result.faces, cw / result.width, cw);
  shown.boxes = boxes;
  if (markers.length !== result.faces.length) return; // between a new result and its markers
  layer.classList.toggle("off", !drawing().labels);
  if (!drawing().labels) { // labels off: the cards (and a tap on a face) still select
    shown.spots = [];
    $("#markers-note").hidden = true;
    return;
  }
  const sizes = markers.map(() => []);
  // measure each form of each label (DOM sizes: the fonts the visitor sees)
  for (let level = 0; level < LEVELS; level++) {
    markers.forEach((m) => {
      m.hidden = false; // hidden ones measure 0
      m.dataset.level = String(level);
      m.querySelector(".txt").textContent = m._texts[level];
    });
    markers.forEach((m, i) => sizes[i].push({ w: Math.ceil(m.offsetWidth) + 1, h: Math.ceil(m.offsetHeight) + 1 }));
  }
  // no marker may cover another face (in a crowd the small tag may sit on its own face)
  // and few leader lines: the full text may go 2 rings away, the short form 1, the tag
  // alone only next to its box; the small tag next to it, on its own face, or further away
  const spots = placeLabels(boxes, sizes, cw, ch, { gap: 2, noCover: true, rings: [2, 1, 0, 400, 400] });
  markers.forEach((m, i) => {
    const s = spots[i];
    m.hidden = !s;
    if (!s) return;
    m.dataset.level = String(s.level);
    m.querySelector(".txt").textContent = m._texts[s.level];
    m.style.left = `${s.x}px`;
    m.style.top = `${s.y}px`;
  });
  const hidden = spots.filter((s) => !s).length;
  $("#markers-note").hidden = !hidden;
  $("#markers-note").textContent = hidden
    ? `${hidden} face${hidden === 1 ? " has" : "s have"} no room for a marker at this size; see the cards below.`
    : "";
  shown.spots = spots;
}

/** Draw the picture, the boxes and the leader lines (the labels themselves are buttons). */
function paint() {
  const { bitmap, result } = shown.entry;
  const canvas = $("#photo-canvas");
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  canvas.dataset.boxes = String(result.faces.length);
  const k = canvas.width / parseFloat(canvas.style.width);
  const scale = canvas.width / result.width;
  const boxes = canvasBoxes(result.faces, scale, canvas.width);
  const lw = Math.max(1.5, 2 * k);
  drawBoxes(ctx, result.faces, boxes, { scale, lw, selected: shown.selected, draw: drawing() });
  const spots = shown.spots.map((s) => s && { ...s, x: s.x * k, y: s.y * k, w: s.w * k, h: s.h * k });
  drawLeaders(ctx, boxes, spots, { lw: 1.5 * k });
}

/** Zoom to z (1: fit), keeping the point at (clientX, clientY) in place (default: the centre). */
function setZoom(z, clientX = null, clientY = null, { relayout = true } = {}) {
  const old = shown.zoom;
  shown.zoom = Math.max(ZOOMS[0], Math.min(z, ZOOMS[ZOOMS.length - 1]));
  $("#zoom-out").disabled = shown.zoom <= ZOOMS[0];
  $("#zoom-in").disabled = shown.zoom >= ZOOMS[ZOOMS.length - 1];
  $("#zoom-level").textContent = shown.zoom === 1 ? "fit" : `${Number(shown.zoom.toFixed(1))}×`;
  if (old === shown.zoom || !relayout) return;
  const sc = $("#picture-scroll");
  const r = sc.getBoundingClientRect();
  const px = clientX === null ? sc.clientWidth / 2 : clientX - r.left;
  const py = clientY === null ? sc.clientHeight / 2 : clientY - r.top;
  const cx = (sc.scrollLeft + px) / Math.max(1, sc.scrollWidth);
  const cy = (sc.scrollTop + py) / Math.max(1, sc.scrollHeight);
  layout();
  sc.scrollLeft = cx * sc.scrollWidth - px;
  sc.scrollTop = cy * sc.scrollHeight - py;
}

export function layout() {
  if (!shown.entry) return;
  const { cw, ch } = fit();
  placeMarkers(cw, ch);
  paint();
}

// ----------------------------------------------------------------------------- selection

/** Select face i (or -1: none); from "marker" or "card" says which to scroll into view. */
export function select(i, { from = "", focus = false } = {}) {
  if (!shown.entry) return;
  shown.selected = i;
  $$(".marker").forEach((m) => {
    const on = Number(m.dataset.face) === i;
    m.setAttribute("aria-pressed", String(on));
    m.classList.toggle("selected", on);
  });
  $$(".face-card").forEach((c) => {
    const on = Number(c.dataset.face) === i;
    c.setAttribute("aria-pressed", String(on));
    c.classList.toggle("selected", on);
  });
  paint();
  if (i < 0) {
    closeSheet();
    return;
  }
  const card = $(`.face-card[data-face="${i}"]`);
  const m = $(`.marker[data-face="${i}"]`);
  const marker = m && !m.hidden && drawing().labels ? m : null; // one on screen, or none
  if (from === "marker" && card && narrow()) {
    // on a phone the cards are below the picture: the card comes up as a sheet instead
    const n = shown.entry.result.faces.length;
    openSheet(card, (step) => (step ? select((i + step + n) % n, { from: "marker" }) : select(-1)));
    if (marker) {
      marker.scrollIntoView({ block: "nearest", inline: "nearest" }); // within the picture
      keepAboveSheet(marker);
    }
  } else if (from === "marker" && card) card.scrollIntoView({ block: "nearest", behavior: "smooth" });
  if (from === "card" && marker) marker.scrollIntoView({ block: "nearest", behavior: "smooth" });
  if (focus) (from === "card" ? card : marker)?.focus();
}

function onKey(e, i, kind) {
  const n = shown.entry.result.faces.length;
  const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
  if (step) {
    e.preventDefault();
    select((i + step + n) % n, { from: kind === "marker" ? "card" : "marker", focus: true });
    if (kind === "marker") $(`.marker[data-face="${shown.selected}"]`)?.focus();
    else $(`.face-card[data-face="${shown.selected}"]`)?.focus();
  } else if (e.key === "Escape") {
    select(-1);
  }
}

/** A click or tap on the picture selects the face under it (or none). */
function pickAt(ev) {
  if (!shown.entry) return;
  const rect = $("#photo-canvas").getBoundingClientRect();
  const x = ev.clientX - rect.left;
  const y = ev.clientY - rect.top;
  const hit = shown.boxes.findIndex((b) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h);
  select(hit, { from: "marker" });
}

// ----------------------------------------------------------------------------- cards

function thumb(bitmap, f, scaleX, scaleY) {
  const size = 72;
  const c = el("canvas", { className: "thumb", width: size * 2, height: size * 2 });
  c.setAttribute("aria-hidden", "true");
  const [x1, y1, x2, y2] = f.box;
  const side = Math.max(x2 - x1, y2 - y1) * 1.35;
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  c.getContext("2d").drawImage(bitmap, (cx - side / 2) * scaleX, (cy - side / 2) * scaleY,
    side * scaleX, side * scaleY, 0, 0, c.width, c.height);
  return c;
}

const AGE_SCALE = 90; // the interval bar spans 0..90 years

function ageBlock(f) {
  if (!f.age) return el("span", { className: "fc-age" }, "apparent age: –");
  const { years, low, high, group } = f.age;
  const bar = el("span", { className: "ibar" });
  bar.setAttribute("aria-hidden", "true");
  const seg = el("i");
  seg.style.left = `${(Math.min(low, AGE_SCALE) / AGE_SCALE) * 100}%`;
  seg.style.width = `${(Math.max(0, Math.min(high, AGE_SCALE) - Math.min(low, AGE_SCALE)) / AGE_SCALE) * 100}%`;
  const dot = el("b");
  dot.style.left = `${(Math.min(years, AGE_SCALE) / AGE_SCALE) * 100}%`;
  bar.append(seg, dot);
  return el("span", { className: "fc-age" },
    el("span", { className: "fc-k" }, "apparent age"),
    el("span", { className: "fc-v" }, el("span", { className: "big" }, String(Math.round(years))), " y"),
    el("span", { className: "sub" }, `80% interval ${Math.round(low)}\u2013${Math.round(high)} y`),
    bar,
    el("span", { className: "sub grp" }, `Adience group ${dash(group)}`));
}

function genderBlock(f) {
  if (!f.gender) return el("span", { className: "fc-gender" }, "perceived gender: –");
  const g = genderClass(f);
  const fill = el("i");
  fill.style.width = pct(f.gender.probability);
  const bar = el("span", { className: `bar ${g}` }, fill);
  bar.setAttribute("aria-hidden", "true");
  return el("span", { className: "fc-gender" },
    el("span", { className: "fc-k" }, "perceived gender"),
    el("span", { className: "fc-v" }, el("span", { className: `pill ${g}` }, f.gender.label || "undetermined"), " ",
      el("b", {}, pct(f.gender.probability))),
    bar);
}

function card(entry, f, i) {
  const { bitmap, result } = entry;
  const g = genderClass(f);
  const button = el("button", { type: "button", className: `face-card ${g}` },
    thumb(bitmap, f, bitmap.width / result.width, bitmap.height / result.height),
    el("span", { className: "fc-body" },
      el("span", { className: "fc-head" },
        el("span", { className: `idx ${g}` }, String(i + 1)),
        el("span", { className: "fc-title" }, `Face ${i + 1}`),
        el("span", { className: "fc-score" }, `detection score ${f.score.toFixed(2)}`)),
      ageBlock(f),
      genderBlock(f)));
  button.dataset.face = String(i);
  button.setAttribute("aria-pressed", "false");
  button.addEventListener("click", () => select(shown.selected === i ? -1 : i, { from: "card" }));
  button.addEventListener("keydown", (e) => onKey(e, i, "card"));
  return el("li", {}, button);
}

function marker(f, i) {
  const g = genderClass(f);
  // its name is its visible text, with "Face" before and the whole sentence after (hidden)
  const more = faceSentence(f, i + 1).replace(/^Face \d+/, "");
  const m = el("button", { type: "button", className: `marker ${g}` },
    el("span", { className: "visually-hidden" }, "Face "),
    el("span", { className: "num" }, String(i + 1)), el("span", { className: "txt" }),
    el("span", { className: "visually-hidden" }, more));
  m._texts = [...labelTexts(f), "", ""];
  m.dataset.face = String(i);
  m.setAttribute("aria-pressed", "false");
  m.addEventListener("click", (e) => {
    e.stopPropagation();
    select(shown.selected === i ? -1 : i, { from: "marker" });
  });
  m.addEventListener("keydown", (e) => onKey(e, i, "marker"));
  return m;
}

// ----------------------------------------------------------------------------- show

/** The picture and the result area shown, nothing selected, at fit; the pending note gone. */
function open(entry) {
  shown.entry = entry;
  shown.selected = -1;
  closeSheet();
  setZoom(1, null, null, { relayout: false }); // the caller lays out once its markers exist
  document.body.classList.add("has-result");
  const area = $("#photo-result");
  area.hidden = false;
  area.classList.remove("stale");
  area.classList.toggle("pending", Boolean(entry.pending));
  area.setAttribute("aria-busy", String(Boolean(entry.pending)));
  // data-source names the photo whose answer is shown; data-pending the one on its way
  if (entry.pending) {
    delete area.dataset.source;
    area.dataset.pending = entry.name;
  } else {
    area.dataset.source = entry.name;
    delete area.dataset.pending;
  }
  $(".pending-note")?.remove();
  $("#dl-json").disabled = $("#dl-image").disabled = Boolean(entry.pending);
  $("#photo-summary").textContent = `${entry.name} \u00b7 ${entry.width || entry.result.width}\u00d7${entry.height || entry.result.height}`;
}

/**
 * Show a photo at once while it is sent and analyzed: entry = {bitmap, name}. Its answer
 * replaces it (showResult); if it fails, dropPending shows the previous result again.
 */
export function showPending(entry) {
  if (shown.source) shown.previous = shown.source;
  shown.source = null;
  const { width, height } = entry.bitmap;
  open({ ...entry, result: { width, height, faces: [] }, pending: true });
  $("#photo-title").textContent = "Analyzing\u2026";
  $("#photo-canvas").setAttribute("aria-label", `${entry.name}: being analyzed`);
  $("#markers").replaceChildren();
  $("#face-cards").replaceChildren();
  $("#no-faces").hidden = true;
  $("#picture").append(el("span", { className: "pending-note" }, "Analyzing\u2026"));
  layout();
}

/** The pending photo failed or was cancelled: the previous result again (marked), or none. */
export function dropPending(why = "") {
  if (!shown.entry?.pending) return;
  const previous = shown.previous;
  shown.entry = null;
  $(".pending-note")?.remove();
  if (!previous) {
    delete $("#photo-result").dataset.pending;
    $("#photo-result").hidden = true;
    $("#photo-result").classList.remove("pending");
    $("#photo-result").setAttribute("aria-busy", "false");
    document.body.classList.remove("has-result");
    return;
  }
  showResult(previous, { quiet: true });
  if (why) markStale(why);
}

/** Show the result shown again under the settings now in force (they changed). */
export function refresh() {
  const entry = shown.source;
  if (!entry || shown.entry?.pending) return;
  const stale = shown.staleWhy;
  showResult(entry, { quiet: true });
  if (stale) markStale(stale); // still the previous result
  const { faces, filtered } = shown.entry.result;
  announce(filtered ? `Showing ${faces.length} of the ${filtered.faces_found} faces found.`
    : `Showing all ${faces.length} face${faces.length === 1 ? "" : "s"} found.`);
}

/** "3 more hidden by the settings", for a result the settings filtered. */
const hiddenNote = (result) => `${result.filtered.faces_found - result.faces.length} more hidden by the settings`;

/** Show one analyzed photo: entry = {bitmap, result, name}; the settings choose the faces. */
export function showResult(entry, { quiet = false } = {}) {
  shown.source = entry;
  shown.previous = entry;
  shown.staleWhy = "";
  open({ ...entry, result: keep(entry.result) });
  const { result } = shown.entry;
  const faces = result.faces;
  const n = faces.length;
  $("#photo-title").textContent = `${n} face${n === 1 ? "" : "s"}`;
  if (result.filtered) $("#photo-summary").textContent += ` \u00b7 ${hiddenNote(result)}`;
  $("#photo-canvas").setAttribute("aria-label",
    `${entry.name}: the photo with ${n} face${n === 1 ? "" : "s"} marked and numbered; the cards list them.`);
  const layer = $("#markers");
  layer.replaceChildren(...faces.map((f, i) => marker(f, i)));
  $("#face-cards").replaceChildren(...faces.map((f, i) => card(entry, f, i)));
  $("#no-faces").hidden = n !== 0;
  layout();
  requestAnimationFrame(layout); // again once laid out (scroll bars may have come or gone)
  if (quiet) return;
  const more = result.filtered ? ` (${hiddenNote(result)})` : "";
  announce(`${entry.name}: ${n === 0 ? "no face found" : `${n} face${n === 1 ? "" : "s"} found`}${more}. ` +
    faces.slice(0, 5).map((f, i) => faceSentence(f, i + 1)).join(". "));
}

/** Mark the result shown as out of date (e.g. after a failed upload of another photo). */
export function markStale(why) {
  if (!shown.entry) return;
  shown.staleWhy = why;
  $("#photo-result").classList.add("stale");
  const { result } = shown.entry;
  const hidden = result.filtered ? ` \u00b7 ${hiddenNote(result)}` : "";
  $("#photo-summary").textContent = `${shown.entry.name} (previous result: ${why})${hidden}`;
}

/** The annotated picture at full resolution (small photos upscaled), as a JPEG blob. */
export function annotatedBlob(entry) {
  const { bitmap, result } = entry;
  const long = Math.max(bitmap.width, bitmap.height);
  const s = Math.min(SAVE_MAX_SIDE / long, Math.max(1, SAVE_MIN_SIDE / long));
  const c = el("canvas", { width: Math.round(bitmap.width * s), height: Math.round(bitmap.height * s) });
  const ctx = c.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, c.width, c.height);
  const fontPx = Math.max(13, Math.round(Math.max(c.width, c.height) / 85));
  // the light theme's colours: the saved picture does not depend on the viewer's theme
  drawAnnotated(ctx, result.faces, { scale: c.width / result.width, fontPx, palette: SAVED_PALETTE, draw: drawing() });
  return new Promise((resolve) => c.toBlob(resolve, "image/jpeg", 0.92));
}

export function initResult() {
  $("#zoom-in").addEventListener("click", () => setZoom(Math.floor(shown.zoom) + 1));
  $("#zoom-out").addEventListener("click", () => setZoom(Math.ceil(shown.zoom) - 1));
  initPinch($("#picture-scroll"), $("#picture"), () => shown.zoom, setZoom, { min: ZOOMS[0], max: ZOOMS[ZOOMS.length - 1] });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#sheet").hidden) select(-1); });
  $("#photo-canvas").addEventListener("click", pickAt);
  $("#markers").addEventListener("click", (e) => { if (e.target === e.currentTarget) pickAt(e); });
  $("#dl-json").addEventListener("click", () => {
    const entry = shown.entry;
    if (!entry) return;
    const blob = new Blob([JSON.stringify(entry.result, null, 2) + "\n"], { type: "application/json" });
    download(blob, `${stem(entry.name)}.json`);
  });
  $("#dl-image").addEventListener("click", async () => {
    const entry = shown.entry;
    if (!entry) return;
    const blob = await annotatedBlob(entry);
    if (blob) download(blob, `${stem(entry.name)}.annotated.jpg`);
  });
  let timer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(timer);
    timer = setTimeout(layout, 120);
  });
}

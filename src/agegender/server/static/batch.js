// Photos in a queue: one or many (several files, a folder), analyzed one at a time, with
// progress and cancel; a gallery of thumbnails with face counts opens each result;
// all results export as CSV (one row per face, the CLI's columns) and JSON.
"use strict";

import { dropPending, markStale, showPending, showResult, shown } from "./photo.js";
import { inReadingOrder } from "./place.js";
import { ensureDetector, keep } from "./settings.js";
import { decode, limits, prepare, send, toOriginal } from "./upload.js";
import { $, announce, download, el, setStatus } from "./util.js";

const IMAGE_EXT = /\.(jpe?g|png|webp|bmp|gif|tiff?|avif|heic|heif)$/i;
const RETRIES_MS = [1500, 3000, 6000]; // when the server cannot be reached
const PREVIEW_SIDE = 2048; // the long side of the server's preview of a photo not decodable here

const queue = { items: [], busy: false, abort: null, openFirst: false };
let nextId = 1;

const isImage = (f) => (f.type ? f.type.startsWith("image/") : IMAGE_EXT.test(f.name || ""));
const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener("abort", () => { clearTimeout(t); reject(Object.assign(new Error("Cancelled."), { name: "AbortError" })); }, { once: true });
});

// ----------------------------------------------------------------------------- adding

/** Queue files (from the picker, a drop or a paste); files that are not images are named. */
export function addFiles(files) {
  const list = [...files];
  const images = list.filter(isImage);
  const skipped = list.length - images.length;
  if (!images.length) {
    const why = list.length === 1
      ? `${list[0].name || "That file"} is not an image: choose a JPEG, PNG, WebP, BMP, GIF, TIFF, AVIF or HEIC file.`
      : "None of those files is an image.";
    setStatus($("#photo-status"), why, "error");
    announce(why);
    return;
  }
  const left = skipped ? `${skipped} file${skipped === 1 ? " is" : "s are"} not an image and ${skipped === 1 ? "was" : "were"} left out.` : "";
  setStatus($("#photo-status"), left);
  announce(left);
  queue.openFirst = true;
  for (const file of images) {
    queue.items.push({ id: nextId++, file, name: file.webkitRelativePath || file.name || "pasted image", state: "waiting" });
  }
  renderGallery();
  run();
}

/** Every file of a dropped folder (and its subfolders), through the entries API. */
async function filesOfEntry(entry) {
  if (entry.isFile) return [await new Promise((resolve, reject) => entry.file(resolve, reject))];
  if (!entry.isDirectory) return [];
  const reader = entry.createReader();
  const out = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) break;
    for (const e of batch) out.push(...(await filesOfEntry(e)));
  }
  return out;
}

export async function filesOfDrop(dataTransfer) {
  const entries = [...(dataTransfer.items || [])].map((it) => it.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.some((e) => e.isDirectory)) return [...dataTransfer.files];
  const out = [];
  for (const e of entries) out.push(...(await filesOfEntry(e)));
  return out;
}

// ----------------------------------------------------------------------------- running

function progress(item, text, fraction = null) {
  $("#photo-progress").hidden = false;
  const bar = $("#photo-bar");
  if (fraction === null) bar.removeAttribute("value");
  else bar.value = fraction;
  const left = queue.items.filter((i) => i.state === "waiting").length;
  $("#photo-progress-text").textContent = text + (left ? ` (${left} more waiting)` : "");
  item.note = text;
}

/** A Blob of a base64 data: URL (no fetch: the page's CSP allows none of data: URLs). */
function dataUrlBlob(url) {
  const [head, b64] = url.split(",", 2);
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: head.slice(5).split(";")[0] });
}

async function analyzeOne(item, signal) {
  const { file } = item;
  progress(item, `Preparing ${item.name}…`);
  const bitmap = await decode(file);
  // the photo chosen is shown at once, while it is sent and analyzed
  if (bitmap && queue.openFirst) showPending({ bitmap, name: item.name });
  let prep = await prepare(file, bitmap);
  const name = file.name || "pasted.png";
  const onProgress = (p) => {
    if (p.phase === "upload") {
      const f = p.total ? p.loaded / p.total : 0;
      progress(item, `Uploading ${item.name}: ${Math.round(f * 100)}% of ${(p.total / 1e6).toFixed(1)} MB${prep.scaled ? ` (reduced to ${prep.width}\u00d7${prep.height})` : ""}`, f);
    } else {
      progress(item, `Analyzing ${item.name}…`);
    }
  };
  for (let attempt = 0; ; attempt++) {
    try {
      // a photo this browser cannot decode (TIFF): the answer carries a downscaled preview
      const url = bitmap ? "/v1/analyze" : `/v1/analyze?preview=${PREVIEW_SIDE}`;
      const answer = await send(url, prep.blob, name, { onProgress, signal });
      if (bitmap) return { bitmap, result: inReadingOrder(toOriginal(answer, bitmap.width, bitmap.height)), name: item.name };
      const preview = answer.preview ? await decode(dataUrlBlob(answer.preview)) : null;
      if (!preview) throw new Error(`${item.name}: the server read this photo but sent no picture of it to show.`);
      delete answer.preview; // not part of the result that is exported
      return { bitmap: preview, result: inReadingOrder(answer), name: item.name };
    } catch (err) {
      if (err.status === 413 && bitmap && !prep.shrunk) {
        // this server's limits are below the ones we knew: send it smaller, once
        const px = (prep.width || bitmap.width) * (prep.height || bitmap.height);
        limits.maxBytes = Math.min(limits.maxBytes, Math.floor(prep.blob.size * 0.5));
        limits.maxPixels = Math.min(limits.maxPixels, Math.floor(px * 0.5));
        prep = { ...(await prepare(file, bitmap)), shrunk: true };
        continue;
      }
      if (!err.unreachable || attempt >= RETRIES_MS.length) throw err;
      const wait = RETRIES_MS[attempt];
      const why = `Could not reach the server: retrying in ${wait / 1000} s ` +
        `(attempt ${attempt + 1} of ${RETRIES_MS.length}). If this goes on, check that the server is running.`;
      setStatus($("#photo-status"), why, "error");
      if (attempt === 0) announce(why);
      progress(item, `Waiting to retry ${item.name}…`);
      await sleep(wait, signal);
      setStatus($("#photo-status"), "");
    }
  }
}

async function run() {
  if (queue.busy) return;
  queue.busy = true;
  $("#photo-cancel").hidden = false;
  try {
    let item;
    while ((item = queue.items.find((i) => i.state === "waiting"))) {
      item.state = "working";
      renderGallery();
      const ctl = new AbortController();
      queue.abort = ctl;
      try {
        item.entry = await analyzeOne(item, ctl.signal);
        item.state = "done";
        ensureDetector(); // the models are loaded now: the settings' floors are known
        item.thumb = await thumbUrl(item.entry.bitmap);
        if (queue.openFirst) {
          queue.openFirst = false;
          open(item); // announces the result in full
        } else {
          const n = keep(item.entry.result).faces.length;
          announce(`${item.name}: ${n === 0 ? "no face found" : `${n} face${n === 1 ? "" : "s"} found`}.`);
        }
      } catch (err) {
        item.state = err.name === "AbortError" ? "cancelled" : "error";
        item.error = err.message || String(err);
        const why = item.state === "error" ? "the photo you just chose could not be analyzed" : "";
        if (item.state === "error") {
          setStatus($("#photo-status"), `${item.name}: ${item.error}`, "error");
          announce(`${item.name}: ${item.error}`);
        }
        if (shown.entry?.pending) dropPending(why);
        else if (why && queue.openFirst) markStale(why);
      }
      renderGallery();
    }
  } finally {
    queue.busy = false;
    queue.abort = null;
    $("#photo-progress").hidden = true;
    $("#photo-cancel").hidden = true;
  }
  const done = queue.items.filter((i) => i.state === "done").length;
  // after each photo's own announcement (announce() keeps the order)
  if (queue.items.length > 1) announce(`${done} of ${queue.items.length} photos analyzed.`);
}

/** Cancel the photo being sent and every one still waiting. */
export function cancelAll() {
  for (const i of queue.items) if (i.state === "waiting") { i.state = "cancelled"; i.error = "Cancelled."; }
  queue.abort?.abort();
  setStatus($("#photo-status"), "Cancelled. Choose or drop the photos again to analyze them.");
  announce("Cancelled.");
  renderGallery();
}

// ----------------------------------------------------------------------------- gallery

function thumbUrl(bitmap) {
  const side = 160;
  const s = Math.min(1, side / Math.max(bitmap.width, bitmap.height));
  const c = el("canvas", { width: Math.max(1, Math.round(bitmap.width * s)), height: Math.max(1, Math.round(bitmap.height * s)) });
  c.getContext("2d").drawImage(bitmap, 0, 0, c.width, c.height);
  return new Promise((resolve) => c.toBlob((b) => resolve(b ? URL.createObjectURL(b) : ""), "image/jpeg", 0.8));
}

function open(item) {
  if (!item.entry) return;
  showResult(item.entry);
  renderGallery();
}

function caption(item) {
  if (item.state === "done") {
    const n = keep(item.entry.result).faces.length;
    return `${n} face${n === 1 ? "" : "s"}`;
  }
  return { waiting: "waiting", working: "analyzing…", error: "error", cancelled: "cancelled" }[item.state];
}

/** Draw the gallery again (e.g. after the settings changed its face counts). */
export function renderGallery() {
  const items = queue.items;
  $("#gallery").hidden = items.length < 2;
  const done = items.filter((i) => i.state === "done").length;
  $("#gallery-title").textContent = `${items.length} photos \u00b7 ${done} analyzed`;
  $("#export-csv").disabled = $("#export-json").disabled = !done;
  const list = $("#gallery-list");
  list.replaceChildren(...items.map((item) => {
    const current = shown.source && item.entry === shown.source;
    const pic = item.thumb ? el("img", { src: item.thumb, alt: "" }) : el("span", { className: "ph" });
    const b = el("button", { type: "button", className: `shot ${item.state}`, disabled: item.state !== "done" },
      pic, el("span", { className: "shot-name" }, item.name), el("span", { className: "shot-n" }, caption(item)));
    b.title = item.error || item.name;
    b.dataset.state = item.state;
    if (item.state === "done") b.dataset.faces = String(keep(item.entry.result).faces.length);
    if (item.error) b.append(el("span", { className: "visually-hidden" }, `: ${item.error}`));
    if (current) b.setAttribute("aria-current", "true");
    b.addEventListener("click", () => {
      queue.openFirst = false;
      open(item);
      $("#photo-result").scrollIntoView({ block: "start", behavior: "smooth" });
    });
    return el("li", {}, b);
  }));
}

// ----------------------------------------------------------------------------- export

const CSV_COLUMNS = ["source", "face", "x1", "y1", "x2", "y2", "score", "age_years", "age_low", "age_high",
  "age_group", "gender", "gender_probability", "error"];

function csvCell(v) {
  const s = v === undefined || v === null ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per face (face: the number of its marker, from 1); a photo with no face or an error, one row. */
export function toCsv(items) {
  const rows = [CSV_COLUMNS.join(",")];
  for (const item of items) {
    if (item.state !== "done" && item.state !== "error") continue;
    const faces = item.state === "done" ? keep(item.entry.result).faces : [];
    const base = { source: item.name, error: item.state === "error" ? item.error : "" };
    const list = faces.length ? faces.map((f, i) => ({
      ...base, face: i + 1, x1: f.box[0], y1: f.box[1], x2: f.box[2], y2: f.box[3], score: f.score,
      ...(f.age ? { age_years: f.age.years, age_low: f.age.low, age_high: f.age.high, age_group: f.age.group } : {}),
      ...(f.gender ? { gender: f.gender.label, gender_probability: f.gender.probability } : {}),
    })) : [base];
    for (const r of list) rows.push(CSV_COLUMNS.map((c) => csvCell(r[c])).join(","));
  }
  return rows.join("\r\n") + "\r\n";
}

function toJson(items) {
  return items.filter((i) => i.state === "done" || i.state === "error").map((i) => (i.state === "done"
    ? { ...keep(i.entry.result), source: i.name }
    : { source: i.name, faces: [], error: { type: "Error", message: i.error } }));
}

export function initBatch() {
  $("#photo-cancel").addEventListener("click", cancelAll);
  $("#export-csv").addEventListener("click", () =>
    download(new Blob([toCsv(queue.items)], { type: "text/csv" }), "agegender-results.csv"));
  $("#export-json").addEventListener("click", () =>
    download(new Blob([JSON.stringify(toJson(queue.items), null, 2) + "\n"], { type: "application/json" }), "agegender-results.json"));
  $("#gallery-clear").addEventListener("click", () => {
    if (queue.busy) cancelAll();
    for (const i of queue.items) if (i.thumb) URL.revokeObjectURL(i.thumb);
    queue.items = queue.items.filter((i) => i.state === "working");
    renderGallery();
  });
}

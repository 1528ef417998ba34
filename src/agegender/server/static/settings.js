// The Photo tab's settings: which faces to show (minimum detection score, minimum face
// size) and what to draw (boxes, landmarks, labels). They apply in this browser to the
// answers already received, so a change shows at once, without sending the photos again;
// exports and the saved picture follow them. Kept in this browser (local storage).
"use strict";

import { loadLimits } from "./upload.js";
import { $ } from "./util.js";

const KEY = "agegender.photoSettings";
const DEFAULTS = Object.freeze({ threshold: 0, minFace: 0, boxes: true, landmarks: true, labels: true });
const MAX_MIN_FACE = 4000;
const SETTLE_MS = 250; // a slider moved by the arrow keys shows its faces once it rests

/** The settings in force; threshold 0 and minFace 0: every face the server found. */
export const settings = { ...DEFAULTS };
/** The server detector's own threshold and smallest face (from /healthz), when known. */
export const detector = { threshold: null, minFace: null };

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "{}");
    for (const k of Object.keys(DEFAULTS)) if (typeof saved[k] === typeof DEFAULTS[k]) settings[k] = saved[k];
  } catch {
    /* unreadable: the defaults */
  }
  settings.threshold = Math.min(0.99, Math.max(0, settings.threshold));
  settings.minFace = Math.min(MAX_MIN_FACE, Math.max(0, Math.round(settings.minFace)));
}

function save() {
  try {
    localStorage.setItem(KEY, JSON.stringify(settings));
  } catch {
    /* private mode: not kept */
  }
}

/** Whether the settings hide any face a server answer may hold. */
export const filtering = () => settings.threshold > (detector.threshold ?? 0) || settings.minFace > (detector.minFace ?? 0);

/**
 * A server answer with only the faces the settings keep (score at least the threshold,
 * shorter box side at least minFace pixels of the photo). When faces were left out it says
 * so: "filtered": {threshold, min_face, faces_found}.
 */
export function keep(result) {
  if (!filtering()) return result;
  const faces = result.faces.filter((f) => f.score >= settings.threshold &&
    Math.min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= settings.minFace);
  if (faces.length === result.faces.length) return result;
  return { ...result, faces, filtered: { threshold: settings.threshold, min_face: settings.minFace, faces_found: result.faces.length } };
}

/** What to draw: {boxes, landmarks, labels}. */
export const drawing = () => ({ boxes: settings.boxes, landmarks: settings.landmarks, labels: settings.labels });

/** The detector's own values (the floor of the score slider); from /healthz's "detector". */
export function setDetector(info) {
  if (!info || typeof info.threshold !== "number") return;
  detector.threshold = info.threshold;
  detector.minFace = typeof info.min_face === "number" ? info.min_face : null;
  $("#photo-threshold").min = String(Math.min(0.99, info.threshold));
  if (detector.minFace !== null) $("#photo-minface").min = String(detector.minFace);
  $("#photo-threshold-floor").textContent =
    `The server reports faces scored ${info.threshold.toFixed(2)} or more` +
    (detector.minFace ? ` and at least ${detector.minFace} px (of the photo as sent)` : "") + ".";
  show();
  // the Live tab's slider has the same floor (live.js listens)
  document.dispatchEvent(new CustomEvent("agegender:detector", { detail: info }));
}

/** /healthz again when the detector's values were not known yet (a server that loads its
 * models on the first analysis has none to report before it). */
export async function ensureDetector() {
  if (detector.threshold === null) setDetector((await loadLimits())?.detector);
}

function show() {
  // what the slider can show: never below its floor, so that the number read is its value
  const t = Math.max(settings.threshold, detector.threshold ?? 0, Number($("#photo-threshold").min) || 0);
  $("#photo-threshold").value = String(t);
  $("#photo-threshold-out").textContent = t.toFixed(2);
  $("#photo-minface").value = String(Math.max(settings.minFace, detector.minFace ?? 0));
  $("#draw-boxes").checked = settings.boxes;
  $("#draw-landmarks").checked = settings.landmarks;
  $("#draw-labels").checked = settings.labels;
  $("#photo-settings-reset").disabled = Object.keys(DEFAULTS).every((k) => settings[k] === DEFAULTS[k]);
}

/** Wire the controls; onChange(what) runs after each change ("faces" or "drawing"). */
export function initSettings(onChange) {
  load();
  show();
  let timer = 0;
  const settle = () => {
    clearTimeout(timer);
    timer = setTimeout(() => onChange("faces"), SETTLE_MS);
  };
  const threshold = $("#photo-threshold");
  threshold.addEventListener("input", () => { $("#photo-threshold-out").textContent = Number(threshold.value).toFixed(2); });
  threshold.addEventListener("change", () => {
    const v = Number(threshold.value);
    settings.threshold = detector.threshold !== null && v <= detector.threshold ? 0 : v;
    save();
    show();
    settle();
  });
  const minFace = $("#photo-minface");
  minFace.addEventListener("change", () => {
    const v = Math.round(Number(minFace.value));
    settings.minFace = Number.isFinite(v) && v > (detector.minFace ?? 0) ? Math.min(MAX_MIN_FACE, v) : 0;
    save();
    show();
    settle();
  });
  for (const [id, k] of [["#draw-boxes", "boxes"], ["#draw-landmarks", "landmarks"], ["#draw-labels", "labels"]]) {
    $(id).addEventListener("change", (e) => {
      settings[k] = e.target.checked;
      save();
      show();
      onChange("drawing");
    });
  }
  $("#photo-settings-reset").addEventListener("click", () => {
    Object.assign(settings, DEFAULTS);
    save();
    show();
    onChange("faces");
  });
}

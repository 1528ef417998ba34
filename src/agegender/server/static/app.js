// agegender web app: Photo (upload, drop, paste), Live (webcam over a WebSocket), About.
// Plain browser JavaScript modules, no dependencies, nothing loaded from the internet.
"use strict";

import { initKey, loadModels } from "./about.js";
import { fitStage, initLive, stopLive } from "./live.js";
import { initResult, markStale, showResult } from "./photo.js";
import { $, api, setStatus } from "./util.js";

// ----------------------------------------------------------------------------- tabs

const TABS = ["photo", "live", "about"];

function showTab(name, { focus = false } = {}) {
  if (!TABS.includes(name)) name = "photo";
  for (const t of TABS) {
    const tab = $(`#tab-${t}`);
    const on = t === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`#${t}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (name !== "live") stopLive();
  else requestAnimationFrame(fitStage);
  if (name === "about") loadModels();
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
}

function initTabs() {
  for (const t of TABS) $(`#tab-${t}`).addEventListener("click", () => showTab(t));
  $(".tabs").addEventListener("keydown", (e) => {
    const i = TABS.findIndex((t) => $(`#tab-${t}`).getAttribute("aria-selected") === "true");
    if (e.key === "ArrowRight") showTab(TABS[(i + 1) % TABS.length], { focus: true });
    if (e.key === "ArrowLeft") showTab(TABS[(i + TABS.length - 1) % TABS.length], { focus: true });
  });
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
  showTab(location.hash.slice(1) || "photo");
}

// ----------------------------------------------------------------------------- photo upload

const photo = { busy: false };

async function loadBitmap(blob) {
  try {
    return await createImageBitmap(blob, { imageOrientation: "from-image" });
  } catch {
    return null; // e.g. TIFF, which browsers cannot decode: the server draws it instead
  }
}

async function analyzePhoto(file) {
  if (!file || photo.busy) return;
  const status = $("#photo-status");
  if (file.type && !file.type.startsWith("image/")) {
    setStatus(status, `${file.name || "That file"} is not an image.`, "error");
    return;
  }
  photo.busy = true;
  setStatus(status, `Analyzing ${file.name || "the pasted image"}…`, "busy");
  const form = new FormData();
  form.append("image", file, file.name || "pasted.png");
  try {
    const [bitmap, res] = await Promise.all([loadBitmap(file), api("/v1/analyze", { method: "POST", body: form })]);
    const result = await res.json();
    let shownBitmap = bitmap;
    let drawn = false;
    if (!shownBitmap) {
      const again = new FormData();
      again.append("image", file, file.name || "image");
      const jpeg = await (await api("/v1/annotate", { method: "POST", body: again })).blob();
      shownBitmap = await createImageBitmap(jpeg);
      drawn = true;
    }
    showResult({ bitmap: shownBitmap, result, name: file.name || "pasted", serverDrawn: drawn });
    setStatus(status, "");
  } catch (err) {
    setStatus(status, err.message || String(err), "error");
    markStale("this is not the photo you just chose");
  } finally {
    photo.busy = false;
  }
}

function initPhoto() {
  const drop = $("#drop");
  const input = $("#file");
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  input.addEventListener("change", () => {
    analyzePhoto(input.files[0]);
    input.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    analyzePhoto(e.dataTransfer.files[0]);
  });
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData?.items || [])].find((it) => it.kind === "file" && it.type.startsWith("image/"));
    if (!item) return;
    e.preventDefault();
    showTab("photo");
    analyzePhoto(item.getAsFile());
  });
  initResult();
}

// ----------------------------------------------------------------------------- start

initPhoto();
initLive();
initKey();
initTabs();

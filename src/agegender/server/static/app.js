// agegender web app: Photo (upload, drop, paste), Live (webcam over a WebSocket), About.
// Plain browser JavaScript modules, no dependencies, nothing loaded from the internet.
"use strict";

import { initKey, loadModels } from "./about.js";
import { fitStage, initLive, stopLive } from "./live.js";
import { addFiles, filesOfDrop, initBatch, renderGallery } from "./batch.js";
import { initResult, layout, refresh } from "./photo.js";
import { initSettings, setDetector } from "./settings.js";
import { loadLimits } from "./upload.js";
import { $ } from "./util.js";

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
  // #live names the Live panel: a reload would scroll the page down to it (past the tabs)
  if ("scrollRestoration" in history) history.scrollRestoration = "manual";
  showTab(location.hash.slice(1) || "photo");
  window.scrollTo(0, 0);
  requestAnimationFrame(() => window.scrollTo(0, 0));
}

// ----------------------------------------------------------------------------- photo input

function initPhoto() {
  const drop = $("#drop");
  const input = $("#file");
  const folder = $("#folder");
  drop.addEventListener("click", () => input.click());
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      input.click();
    }
  });
  $("#choose-folder").addEventListener("click", () => folder.click());
  // sample photos shipped with the package (public domain): analyzed like a chosen file
  for (const b of document.querySelectorAll("button.sample")) {
    b.addEventListener("click", async () => {
      const name = b.dataset.sample;
      const res = await fetch(`/static/samples/${name}`);
      if (!res.ok) return;
      const blob = await res.blob();
      addFiles([new File([blob], name, { type: blob.type || "image/jpeg" })]);
    });
  }
  for (const picker of [input, folder]) {
    picker.addEventListener("change", () => {
      addFiles(picker.files);
      picker.value = "";
    });
  }
  // drops anywhere on the Photo tab count (on the shown picture too)
  const panel = $("#photo");
  for (const type of ["dragenter", "dragover"]) {
    panel.addEventListener(type, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) panel.addEventListener(type, () => drop.classList.remove("over"));
  panel.addEventListener("drop", async (e) => {
    e.preventDefault();
    e.stopPropagation();
    addFiles(await filesOfDrop(e.dataTransfer));
  });
  // a file dropped anywhere else must not make the browser navigate away
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  document.addEventListener("paste", (e) => {
    const files = [...(e.clipboardData?.items || [])]
      .filter((it) => it.kind === "file" && it.type.startsWith("image/")).map((it) => it.getAsFile());
    if (!files.length) return;
    e.preventDefault();
    showTab("photo");
    addFiles(files);
  });
  initResult();
  initBatch();
  initSettings((what) => {
    if (what === "drawing") {
      layout();
      return;
    }
    refresh();
    renderGallery();
  });
  // the detector's own threshold and smallest face: the floors of both tabs' settings
  loadLimits().then((health) => setDetector(health?.detector));
}

// ----------------------------------------------------------------------------- start

initPhoto();
initLive();
initKey();
initTabs();

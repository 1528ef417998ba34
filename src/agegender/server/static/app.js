// agegender web app: Photo (upload, drop, paste), Live (webcam over a WebSocket), About.
// Plain browser JavaScript, no dependencies, nothing loaded from the internet.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const KEY_STORE = "agegender.apiKey";
const LIVE_WIDTH = 640; // frames are downscaled to this width before they are sent
const LIVE_QUALITY = 0.7; // JPEG quality of live frames
const MAX_CANVAS_SIDE = 2048; // the photo preview is drawn at most this large

// ----------------------------------------------------------------------------- helpers

/** Create an element: el("td", {className: "num"}, "text", child). */
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c);
  return node;
}

function apiKey() {
  try {
    return localStorage.getItem(KEY_STORE) || "";
  } catch {
    return "";
  }
}

function authHeaders() {
  const key = apiKey();
  return key ? { "X-API-Key": key } : {};
}

/** fetch() with the API key; throws an Error with the server's message on failure. */
async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { ...authHeaders(), ...(options.headers || {}) } });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      if (body && body.error) message = body.error.message;
    } catch {
      /* not JSON */
    }
    if (res.status === 401) message += " (enter the API key under About)";
    const err = new Error(message);
    err.status = res.status;
    throw err;
  }
  return res;
}

function setStatus(node, text, kind = "") {
  node.hidden = !text;
  node.textContent = text || "";
  node.className = `status ${kind}`.trim();
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function stem(name) {
  const base = (name || "photo").split(/[\\/]/).pop();
  return base.replace(/\.[^.]+$/, "") || "photo";
}

// ----------------------------------------------------------------------------- labels and drawing

const pct = (p) => `${Math.round(p * 100)}%`;
const dash = (s) => String(s).replace("-", "\u2013");
const genderClass = (f) => (f.gender ? f.gender.label : "unknown");

/** "F 97% · 31y (25–32)": perceived gender, apparent age and Adience group. */
function faceLabel(f) {
  const parts = [];
  if (f.gender) parts.push(`${f.gender.label === "male" ? "M" : "F"} ${pct(f.gender.probability)}`);
  if (f.age) parts.push(`${Math.round(f.age.years)}y (${dash(f.age.group)})`);
  return parts.length ? parts.join(" \u00b7 ") : `face ${f.score.toFixed(2)}`;
}

function colors() {
  const css = getComputedStyle(document.documentElement);
  return {
    female: css.getPropertyValue("--female").trim() || "#db2777",
    male: css.getPropertyValue("--male").trim() || "#2563eb",
    unknown: css.getPropertyValue("--unknown").trim() || "#ca8a04",
  };
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  if (ctx.roundRect) ctx.roundRect(x, y, w, h, r);
  else ctx.rect(x, y, w, h);
}

/**
 * Draw each face's box, landmarks and label. Boxes come in the analyzed image's pixels;
 * `scale` maps them to canvas pixels, `mirror` flips them horizontally (selfie view).
 * Sets canvas.dataset.boxes to the number of boxes drawn.
 */
function drawFaces(ctx, faces, { scale = 1, mirror = false, fontPx = 14, highlight = -1 } = {}) {
  const W = ctx.canvas.width;
  const H = ctx.canvas.height;
  const palette = colors();
  const boxes = faces.map((f, i) => {
    let [x1, y1, x2, y2] = f.box.map((v) => v * scale);
    if (mirror) [x1, x2] = [W - x2, W - x1];
    return { f, i, x1, y1, x2, y2, color: palette[genderClass(f)] || palette.unknown };
  });
  ctx.save();
  const lw = Math.max(2, fontPx / 6);
  for (const b of boxes) {
    const strong = b.i === highlight;
    ctx.lineWidth = strong ? lw * 2 : lw;
    ctx.strokeStyle = b.color;
    ctx.shadowColor = "rgba(0,0,0,0.35)";
    ctx.shadowBlur = lw * 2;
    roundRect(ctx, b.x1, b.y1, b.x2 - b.x1, b.y2 - b.y1, Math.min(12, (b.x2 - b.x1) / 8));
    ctx.stroke();
    ctx.shadowBlur = 0;
    if (b.f.landmarks) {
      ctx.fillStyle = b.color;
      for (const [lx, ly] of b.f.landmarks) {
        const x = mirror ? W - lx * scale : lx * scale;
        ctx.beginPath();
        ctx.arc(x, ly * scale, lw * 0.9, 0, Math.PI * 2);
        ctx.fill();
      }
    }
  }
  ctx.font = `600 ${fontPx}px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif`;
  ctx.textBaseline = "middle";
  for (const b of boxes) {
    const text = faceLabel(b.f);
    const padX = fontPx * 0.5;
    const h = Math.round(fontPx * 1.65);
    const w = ctx.measureText(text).width + 2 * padX;
    let y = b.y1 - h - lw;
    if (y < 0) y = Math.min(b.y2 + lw, H - h);
    const x = Math.max(0, Math.min(b.x1 - lw / 2, W - w));
    ctx.fillStyle = b.color;
    ctx.shadowColor = "rgba(0,0,0,0.3)";
    ctx.shadowBlur = 6;
    roundRect(ctx, x, y, w, h, h / 2);
    ctx.fill();
    ctx.shadowBlur = 0;
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x + padX, y + h / 2 + 0.5);
  }
  ctx.restore();
  ctx.canvas.dataset.boxes = String(faces.length);
}

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

// ----------------------------------------------------------------------------- photo

const photo = { bitmap: null, result: null, name: "photo", busy: false };

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
    let shown = bitmap;
    let drawn = false;
    if (!shown) {
      const again = new FormData();
      again.append("image", file, file.name || "image");
      const jpeg = await (await api("/v1/annotate", { method: "POST", body: again })).blob();
      shown = await createImageBitmap(jpeg);
      drawn = true;
    }
    photo.bitmap = shown;
    photo.result = result;
    photo.name = file.name || "pasted";
    photo.serverDrawn = drawn;
    renderPhoto();
    setStatus(status, "");
  } catch (err) {
    setStatus(status, err.message || String(err), "error");
  } finally {
    photo.busy = false;
  }
}

function paintPhoto(highlight = -1) {
  const canvas = $("#photo-canvas");
  const { bitmap, result } = photo;
  const s = Math.min(1, MAX_CANVAS_SIDE / Math.max(bitmap.width, bitmap.height));
  canvas.width = Math.round(bitmap.width * s);
  canvas.height = Math.round(bitmap.height * s);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  if (photo.serverDrawn) {
    canvas.dataset.boxes = String(result.faces.length);
    return;
  }
  const shownWidth = canvas.clientWidth || canvas.width;
  // labels about 13 CSS pixels tall, smaller on a small preview (phones)
  const cssFont = Math.min(13.5, Math.max(9, shownWidth / 36));
  const fontPx = Math.round(cssFont * (canvas.width / shownWidth));
  drawFaces(ctx, result.faces, { scale: canvas.width / result.width, fontPx, highlight });
}

function renderPhoto() {
  const { result } = photo;
  document.body.classList.add("has-result");
  $("#photo-result").hidden = false;
  paintPhoto();
  requestAnimationFrame(() => paintPhoto()); // again once laid out: labels sized to the screen
  const n = result.faces.length;
  $("#photo-title").textContent = `${n} face${n === 1 ? "" : "s"}`;
  $("#photo-summary").textContent = `${result.source} · ${result.width}×${result.height}`;
  const tbody = $("#faces tbody");
  tbody.replaceChildren();
  result.faces.forEach((f, i) => {
    const g = genderClass(f);
    const age = f.age
      ? [el("span", { className: "big" }, `${Math.round(f.age.years)}`), " y",
         el("span", { className: "sub" }, `${Math.round(f.age.low)}–${Math.round(f.age.high)}`,
            el("span", { className: "grp" }, `group ${dash(f.age.group)}`))]
      : ["–"];
    const gender = f.gender
      ? [el("span", { className: `pill ${g}` }, f.gender.label), " ", el("b", {}, pct(f.gender.probability)),
         el("span", { className: `bar ${g}` }, barOf(f.gender.probability))]
      : ["–"];
    const row = el("tr", {},
      el("td", {}, el("span", { className: `idx ${g}` }, String(i + 1))),
      el("td", {}, ...age),
      el("td", {}, ...gender),
      el("td", { className: "num" }, f.score.toFixed(2)));
    row.dataset.face = String(i);
    row.addEventListener("mouseenter", () => { row.classList.add("hl"); paintPhoto(i); });
    row.addEventListener("mouseleave", () => { row.classList.remove("hl"); paintPhoto(); });
    tbody.append(row);
  });
  $("#faces").hidden = n === 0;
  $("#no-faces").hidden = n !== 0;
}

function barOf(p) {
  const fill = el("i");
  fill.style.width = pct(p);
  return fill;
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
  // a file dropped anywhere else must not make the browser navigate away
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  document.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData?.items || [])].find((it) => it.kind === "file" && it.type.startsWith("image/"));
    if (!item) return;
    e.preventDefault();
    showTab("photo");
    analyzePhoto(item.getAsFile());
  });
  $("#dl-json").addEventListener("click", () => {
    if (!photo.result) return;
    const blob = new Blob([JSON.stringify(photo.result, null, 2) + "\n"], { type: "application/json" });
    download(blob, `${stem(photo.name)}.json`);
  });
  $("#dl-image").addEventListener("click", () => {
    if (!photo.result) return;
    paintPhoto();
    $("#photo-canvas").toBlob((b) => b && download(b, `${stem(photo.name)}.annotated.jpg`), "image/jpeg", 0.92);
  });
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => photo.result && paintPhoto(), 150);
  });
}

// ----------------------------------------------------------------------------- live

const live = {
  stream: null, ws: null, running: false, inFlight: false, last: null,
  sentAt: 0, lastReplyAt: 0, fps: 0, raf: 0, grab: document.createElement("canvas"),
};

function liveError(err) {
  const messages = {
    NotAllowedError: "Camera permission was denied. Allow the camera for this site and try again.",
    NotFoundError: "No camera was found.",
    NotReadableError: "The camera is in use by another application.",
    OverconstrainedError: "That camera is not available any more; choose another one.",
  };
  setStatus($("#live-status"), messages[err?.name] || err?.message || String(err), "error");
}

async function listCameras() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const select = $("#camera");
  const current = select.value;
  const cams = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
  select.replaceChildren(el("option", { value: "" }, "Default camera"));
  cams.forEach((d, i) => select.append(el("option", { value: d.deviceId }, d.label || `Camera ${i + 1}`)));
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

async function startLive() {
  if (live.running) return;
  setStatus($("#live-status"), "");
  if (!navigator.mediaDevices?.getUserMedia) {
    liveError(new Error("This browser gives no camera to this page: the camera needs https:// or localhost."));
    return;
  }
  const id = $("#camera").value;
  const video = $("#video");
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: id ? { deviceId: { exact: id } } : { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    video.srcObject = live.stream;
    await video.play();
  } catch (err) {
    stopLive();
    liveError(err);
    return;
  }
  await listCameras();
  const used = live.stream.getVideoTracks()[0]?.getSettings().deviceId;
  if (used) $("#camera").value = used;
  $("#video-stage").style.aspectRatio = `${video.videoWidth || 4} / ${video.videoHeight || 3}`;
  $("#live-placeholder").hidden = true;
  $("#live-start").disabled = true;
  $("#live-stop").disabled = false;
  live.running = true;
  live.fps = 0;
  live.last = null;
  openSocket();
  live.raf = requestAnimationFrame(renderLive);
}

function stopLive() {
  live.running = false;
  cancelAnimationFrame(live.raf);
  if (live.ws) {
    live.ws.onclose = null;
    live.ws.close();
    live.ws = null;
  }
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  live.stream = null;
  live.inFlight = false;
  live.last = null;
  const video = $("#video");
  if (video) video.srcObject = null;
  const overlay = $("#overlay");
  if (overlay) {
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    overlay.dataset.boxes = "0";
  }
  if ($("#live-start")) {
    $("#live-start").disabled = false;
    $("#live-stop").disabled = true;
    $("#live-placeholder").hidden = false;
    $("#fps").textContent = "–";
    $("#latency").textContent = "–";
    $("#live-count").textContent = "–";
  }
}

function openSocket() {
  const key = apiKey();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/v1/stream${key ? `?key=${encodeURIComponent(key)}` : ""}`);
  live.ws = ws;
  live.inFlight = false;
  ws.onopen = () => sendFrame();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.frame === undefined) {
      // refused before streaming (API key, rate limit, origin)
      liveError(new Error(msg.error ? msg.error.message : "the server refused the stream"));
      stopLive();
      return;
    }
    const now = performance.now();
    live.inFlight = false;
    if (msg.error) {
      setStatus($("#live-status"), msg.error.message, "error");
    } else {
      live.last = { ...msg, at: now };
      if (live.lastReplyAt) {
        const inst = 1000 / Math.max(1, now - live.lastReplyAt);
        live.fps = live.fps ? live.fps * 0.8 + inst * 0.2 : inst;
      }
      live.lastReplyAt = now;
      $("#fps").textContent = live.fps ? live.fps.toFixed(1) : "–";
      $("#latency").textContent = `${Math.round(now - live.sentAt)} ms`;
      $("#live-count").textContent = String(msg.faces.length);
    }
    sendFrame();
  };
  ws.onclose = (ev) => {
    if (!live.running) return;
    stopLive();
    liveError(new Error(ev.reason || `The stream closed (code ${ev.code}).`));
  };
}

function sendFrame() {
  const ws = live.ws;
  const video = $("#video");
  if (!live.running || live.inFlight || !ws || ws.readyState !== WebSocket.OPEN) return;
  if (video.readyState < 2 || !video.videoWidth) {
    setTimeout(sendFrame, 50);
    return;
  }
  const w = Math.min(LIVE_WIDTH, video.videoWidth);
  const h = Math.round((video.videoHeight * w) / video.videoWidth);
  const grab = live.grab;
  if (grab.width !== w || grab.height !== h) {
    grab.width = w;
    grab.height = h;
  }
  grab.getContext("2d").drawImage(video, 0, 0, w, h);
  live.inFlight = true; // one frame in flight at a time: the next is sent on the answer
  live.sentAt = performance.now();
  grab.toBlob((blob) => {
    if (blob && live.ws === ws && ws.readyState === WebSocket.OPEN) ws.send(blob);
    else live.inFlight = false;
  }, "image/jpeg", LIVE_QUALITY);
}

function renderLive() {
  if (!live.running) return;
  const canvas = $("#overlay");
  const rect = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  const W = Math.round(rect.width * dpr);
  const H = Math.round(rect.height * dpr);
  if (canvas.width !== W || canvas.height !== H) {
    canvas.width = W;
    canvas.height = H;
  }
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, W, H);
  const last = live.last;
  if (last && performance.now() - last.at < 2000 && last.width) {
    const cssFont = Math.min(13, Math.max(9, rect.width / 36)); // smaller on phones
    const fontPx = Math.round(cssFont * dpr);
    drawFaces(ctx, last.faces, { scale: W / last.width, mirror: $("#mirror").checked, fontPx });
  } else {
    canvas.dataset.boxes = "0";
  }
  live.raf = requestAnimationFrame(renderLive);
}

function initLive() {
  $("#live-start").addEventListener("click", startLive);
  $("#live-stop").addEventListener("click", () => stopLive());
  $("#mirror").addEventListener("change", (e) => $("#video-stage").classList.toggle("mirror", e.target.checked));
  $("#camera").addEventListener("change", async () => {
    if (!live.running) return;
    stopLive();
    await startLive();
  });
  navigator.mediaDevices?.addEventListener?.("devicechange", listCameras);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopLive();
  });
  listCameras().catch(() => {});
}

// ----------------------------------------------------------------------------- about

let modelsLoaded = false;

async function loadModels() {
  if (modelsLoaded) return;
  const status = $("#models-status");
  try {
    const data = await (await api("/v1/models")).json();
    const inUse = new Set(Object.values(data.in_use || {}));
    const tbody = $("#models tbody");
    tbody.replaceChildren();
    for (const m of data.models) {
      const name = el("td", {}, el("code", {}, m.name));
      if (inUse.has(m.name)) name.append(el("span", { className: "badge" }, "in use"));
      tbody.append(el("tr", {},
        name,
        el("td", {}, m.task),
        el("td", {}, m.license),
        el("td", { className: "src", title: m.source }, m.source),
        el("td", { className: m.available ? "yes" : "no" }, m.available ? "yes" : "no")));
    }
    status.textContent = `${data.models.length} models; "in use" marks the ones this server runs.`;
    modelsLoaded = true;
  } catch (err) {
    status.textContent = `Could not list the models: ${err.message}`;
  }
}

function initKey() {
  const input = $("#api-key");
  const status = $("#key-status");
  input.value = apiKey();
  status.textContent = apiKey() ? "A key is saved in this browser." : "No key saved.";
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(KEY_STORE, input.value.trim());
    status.textContent = input.value.trim() ? "Saved in this browser." : "No key saved.";
    modelsLoaded = false;
    loadModels();
  });
  $("#key-clear").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORE);
    input.value = "";
    status.textContent = "Cleared.";
  });
  $("#origin").textContent = location.origin;
}

// ----------------------------------------------------------------------------- start

initPhoto();
initLive();
initKey();
initTabs();

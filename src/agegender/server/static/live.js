// The Live tab: webcam frames over the WebSocket, answers drawn over the video.
// The server tracks faces per connection: each person keeps a track id and one
// steadying answer. A lost connection is retried with backoff ("reconnecting…").
"use strict";

import { drawAnnotated } from "./draw.js";
import { $, apiKey, el, setStatus } from "./util.js";

const LIVE_WIDTH = 640; // frames are downscaled to this width before they are sent
const LIVE_QUALITY = 0.7; // JPEG quality of live frames

const EVIDENCE = 3; // a new track shows its answer once it was in this many answers
const LASTED = 5; // "people": the tracks that were in at least this many answers
const EASE_MS = 70; // boxes glide to each new answer with this time constant

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000]; // then every 8 s
const NO_RETRY = new Set([4401, 4403]); // wrong key, foreign origin: retrying cannot help
const IDLE_CODE = 4408; // the server closed a stream that sent nothing for stream_idle_timeout

const live = {
  stream: null, ws: null, running: false, inFlight: false, last: null,
  sentAt: 0, lastReplyAt: 0, fps: 0, raf: 0, grab: document.createElement("canvas"),
  retries: 0, retryTimer: 0, frames: 0, seen: new Map(), boxes: new Map(), paintedAt: 0,
  file: null,
};

/** People: distinct tracks that lasted (in LASTED answers or more), not every track id. */
const people = () => [...live.seen.values()].filter((n) => n >= LASTED).length;

/** The page's detection options, as the stream's config message. */
function options() {
  const t = Number($("#live-threshold").value);
  const m = Math.max(0, Math.round(Number($("#live-minface").value) || 0));
  return { threshold: t, min_face: m };
}

function sendOptions() {
  if (live.ws && live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify(options()));
}

/** Keep the stage (and so Start/Stop and the numbers above it) within the window. */
export function fitStage() {
  const stage = $("#video-stage");
  if (!stage || stage.offsetParent === null) return;
  const top = stage.getBoundingClientRect().top + window.scrollY; // from the top of the page
  const room = window.innerHeight - top - 16;
  stage.style.setProperty("--stage-max-h", `${Math.max(200, room)}px`);
}

/** The Live status line; the stage is refitted as the line comes and goes. */
function liveStatus(text, kind = "") {
  setStatus($("#live-status"), text, kind);
  requestAnimationFrame(fitStage);
}

function liveError(err) {
  const messages = {
    NotAllowedError: "Camera permission was denied. Allow the camera for this site and try again.",
    NotFoundError: "No camera was found.",
    NotReadableError: "The camera is in use by another application.",
    OverconstrainedError: "That camera is not available any more; choose another one.",
  };
  liveStatus(messages[err?.name] || err?.message || String(err), "error");
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

export async function startLive() {
  if (live.running) return;
  liveStatus("");
  if (!navigator.mediaDevices?.getUserMedia) {
    liveError(new Error("This browser gives no camera to this page: the camera needs https:// or localhost."));
    return;
  }
  const id = $("#camera").value;
  const video = $("#video");
  try {
    if (live.file) {
      // a video file as the source: played in a loop, sent like camera frames
      video.srcObject = null;
      video.src = URL.createObjectURL(live.file);
      video.loop = true;
      await video.play();
    } else {
      live.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: id ? { deviceId: { exact: id } } : { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
      });
      video.srcObject = live.stream;
      await video.play();
    }
  } catch (err) {
    stopLive();
    liveError(live.file ? new Error(`${live.file.name}: this browser cannot play that video (${err?.message || err}).`) : err);
    return;
  }
  if (!live.file) {
    await listCameras();
    const used = live.stream.getVideoTracks()[0]?.getSettings().deviceId;
    if (used) $("#camera").value = used;
  }
  $("#video-stage").style.setProperty("--arw", String(video.videoWidth || 4));
  $("#video-stage").style.setProperty("--arh", String(video.videoHeight || 3));
  fitStage();
  $("#live-placeholder").hidden = true;
  $("#live-start").disabled = true;
  $("#live-stop").disabled = false;
  $("#live-stop").focus();
  live.running = true;
  live.fps = 0;
  live.last = null;
  live.frames = 0;
  live.seen = new Map();
  live.boxes = new Map();
  live.retries = 0;
  openSocket();
  live.raf = requestAnimationFrame(renderLive);
}

export function stopLive() {
  const wasRunning = live.running;
  live.running = false;
  cancelAnimationFrame(live.raf);
  clearTimeout(live.retryTimer);
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
  if (video) {
    video.pause();
    video.srcObject = null;
    if (video.src) {
      URL.revokeObjectURL(video.src);
      video.removeAttribute("src");
      video.load();
    }
  }
  const overlay = $("#overlay");
  if (overlay) {
    overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
    overlay.dataset.boxes = "0";
  }
  $("#live-start").disabled = false;
  $("#live-stop").disabled = true;
  $("#live-placeholder").hidden = false;
  $("#fps").textContent = "–";
  $("#latency").textContent = "–";
  $("#live-count").textContent = "–";
  $("#live-people").textContent = "–";
  if (wasRunning && document.activeElement === $("#live-stop")) $("#live-start").focus();
}

function openSocket() {
  const key = apiKey();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/v1/stream${key ? `?key=${encodeURIComponent(key)}` : ""}`);
  live.ws = ws;
  live.inFlight = false;
  ws.onopen = () => {
    if (live.retries) {
      liveStatus("Reconnected. Track ids start again from 1.", "");
      setTimeout(() => { if ($("#live-status").textContent.startsWith("Reconnected")) liveStatus(""); }, 3000);
    }
    live.retries = 0;
    $("#overlay").dataset.connected = "1";
    sendOptions();
    sendFrame();
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if ("config" in msg) {
      if (msg.error) liveStatus(msg.error.message, "error");
      return;
    }
    if (msg.error?.type === "StreamIdleError") return; // closed for idling (4408): reconnects
    if (msg.frame === undefined) {
      // refused before streaming (API key, rate limit, origin)
      liveError(new Error(msg.error ? msg.error.message : "the server refused the stream"));
      return;
    }
    const now = performance.now();
    live.inFlight = false;
    if (msg.error) {
      liveStatus(msg.error.message, "error");
    } else {
      onAnswer(msg, now);
    }
    sendFrame();
  };
  ws.onclose = (ev) => {
    if (!live.running || live.ws !== ws) return;
    live.ws = null;
    live.inFlight = false;
    live.last = null;
    $("#overlay").dataset.connected = "0";
    $("#fps").textContent = "–";
    $("#latency").textContent = "–";
    live.fps = 0;
    live.lastReplyAt = 0;
    if (NO_RETRY.has(ev.code)) {
      const why = $("#live-status").textContent;
      stopLive();
      liveError(new Error(why || ev.reason || `The server refused the stream (code ${ev.code}).`));
      return;
    }
    const wait = BACKOFF_MS[Math.min(live.retries, BACKOFF_MS.length - 1)];
    live.retries += 1;
    const why = ev.code === IDLE_CODE
      ? "the server closed the stream after it received no frame for a while (was the camera or the video paused?)"
      : "the connection to the server was lost";
    liveStatus(
      `Reconnecting… ${why} (attempt ${live.retries}, next try in ` +
      `${(wait / 1000).toFixed(1)} s). If this goes on, check that the server is running.`, "busy reconnecting");
    live.retryTimer = setTimeout(() => { if (live.running) openSocket(); }, wait);
  };
}

function onAnswer(msg, now) {
  live.last = { ...msg, at: now };
  live.frames += 1;
  for (const f of msg.faces) if (f.track_id > 0) live.seen.set(f.track_id, (live.seen.get(f.track_id) || 0) + 1);
  if (live.lastReplyAt) {
    const inst = 1000 / Math.max(1, now - live.lastReplyAt);
    live.fps = live.fps ? live.fps * 0.8 + inst * 0.2 : inst;
  }
  live.lastReplyAt = now;
  const overlay = $("#overlay");
  overlay.dataset.frames = String(live.frames);
  overlay.dataset.ids = msg.faces.map((f) => f.track_id).sort((a, b) => a - b).join(",");
  overlay.dataset.seen = String(live.seen.size);
  $("#fps").textContent = live.fps ? live.fps.toFixed(1) : "–";
  $("#latency").textContent = `${Math.round(now - live.sentAt)} ms`;
  $("#live-count").textContent = String(msg.faces.length);
  $("#live-people").textContent = String(people());
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
  const now = performance.now();
  if (last && now - last.at < 2000 && last.width) {
    const cssFont = Math.min(13, Math.max(10, rect.width / 40));
    const faces = glide(last.faces, now - (live.paintedAt || now));
    const names = faces.map((f, i) => (f.track_id > 0 ? f.track_id : i + 1));
    drawAnnotated(ctx, faces, { scale: W / last.width, mirror: $("#mirror").checked, fontPx: Math.round(cssFont * dpr), names });
    canvas.dataset.paints = String(Number(canvas.dataset.paints || 0) + 1);
  } else {
    canvas.dataset.boxes = "0";
    live.boxes.clear();
  }
  live.paintedAt = now;
  live.raf = requestAnimationFrame(renderLive);
}

/**
 * The faces as drawn now: each track's box and landmarks glide from where they were drawn
 * towards its latest answer (display rate, between answers); a track seen in fewer than
 * EVIDENCE answers shows its box and number only, not yet an answer.
 */
function glide(faces, dt) {
  const a = 1 - Math.exp(-Math.max(0, dt) / EASE_MS);
  const kept = new Map();
  const out = faces.map((f) => {
    const id = f.track_id > 0 ? f.track_id : null;
    const target = [...f.box, ...(f.landmarks || []).flat()];
    const was = id !== null ? live.boxes.get(id) : null;
    const now = was && was.length === target.length ? was.map((v, k) => v + (target[k] - v) * a) : target;
    if (id !== null) kept.set(id, now);
    const moving = now.some((v, k) => Math.abs(v - target[k]) > 0.5);
    if (moving) $("#overlay").dataset.tweens = String(Number($("#overlay").dataset.tweens || 0) + 1);
    const g = { ...f, box: now.slice(0, 4) };
    if (f.landmarks) g.landmarks = f.landmarks.map((_, k) => [now[4 + 2 * k], now[5 + 2 * k]]);
    if (id !== null && (live.seen.get(id) || 0) < EVIDENCE) {
      g.age = null; // not enough evidence yet: box and number only
      g.gender = null;
    }
    return g;
  });
  live.boxes = kept;
  const overlay = $("#overlay");
  overlay.dataset.pending = String(out.filter((g) => !g.age && !g.gender).length);
  return out;
}

/** The server detector's own threshold (from /healthz) is the slider's floor: below it, nothing changes. */
function setLiveFloor(info) {
  if (!info || typeof info.threshold !== "number") return;
  const slider = $("#live-threshold");
  slider.min = String(Math.min(0.99, info.threshold));
  if (Number(slider.value) < info.threshold) slider.value = String(info.threshold);
  $("#live-threshold-out").textContent = Number(slider.value).toFixed(2);
}

export function initLive() {
  document.addEventListener("agegender:detector", (e) => setLiveFloor(e.detail));
  $("#live-start").addEventListener("click", startLive);
  $("#live-stop").addEventListener("click", () => stopLive());
  $("#mirror").addEventListener("change", (e) => $("#video-stage").classList.toggle("mirror", e.target.checked));
  const out = $("#live-threshold-out");
  $("#live-threshold").addEventListener("input", (e) => { out.textContent = Number(e.target.value).toFixed(2); });
  $("#live-threshold").addEventListener("change", sendOptions);
  $("#live-minface").addEventListener("change", sendOptions);
  window.addEventListener("resize", fitStage);
  $("#live-file").addEventListener("change", async (e) => {
    live.file = e.target.files?.[0] || null;
    $("#live-source").textContent = live.file ? `Video file: ${live.file.name}` : "";
    $("#live-file-clear").hidden = !live.file;
    if (live.file && $("#mirror").checked) $("#mirror").click(); // a file is not a selfie
    if (live.running) stopLive();
    if (live.file) await startLive();
  });
  const clearFile = () => {
    live.file = null;
    $("#live-file").value = "";
    $("#live-source").textContent = "";
    $("#live-file-clear").hidden = true;
  };
  $("#live-file-clear").addEventListener("click", () => {
    clearFile();
    stopLive();
  });
  $("#camera").addEventListener("change", async () => {
    if (live.file) clearFile();
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

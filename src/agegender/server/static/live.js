// The Live tab: webcam frames over the WebSocket, answers drawn over the video.
"use strict";

import { drawAnnotated } from "./draw.js";
import { $, apiKey, el, setStatus } from "./util.js";

const LIVE_WIDTH = 640; // frames are downscaled to this width before they are sent
const LIVE_QUALITY = 0.7; // JPEG quality of live frames

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

export async function startLive() {
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
  $("#video-stage").style.setProperty("--ar", `${video.videoWidth || 4} / ${video.videoHeight || 3}`);
  $("#live-placeholder").hidden = true;
  $("#live-start").disabled = true;
  $("#live-stop").disabled = false;
  $("#live-stop").focus();
  live.running = true;
  live.fps = 0;
  live.last = null;
  openSocket();
  live.raf = requestAnimationFrame(renderLive);
}

export function stopLive() {
  const wasRunning = live.running;
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
  $("#live-start").disabled = false;
  $("#live-stop").disabled = true;
  $("#live-placeholder").hidden = false;
  $("#fps").textContent = "–";
  $("#latency").textContent = "–";
  $("#live-count").textContent = "–";
  if (wasRunning && document.activeElement === $("#live-stop")) $("#live-start").focus();
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
    const cssFont = Math.min(13, Math.max(10, rect.width / 40));
    const names = last.faces.map((f, i) => (f.track_id > 0 ? f.track_id : i + 1));
    drawAnnotated(ctx, last.faces, { scale: W / last.width, mirror: $("#mirror").checked, fontPx: Math.round(cssFont * dpr), names });
  } else {
    canvas.dataset.boxes = "0";
  }
  live.raf = requestAnimationFrame(renderLive);
}

export function initLive() {
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

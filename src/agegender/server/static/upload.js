// Uploading one photo: shrink it in the browser to what the server accepts (the full
// resolution stays for the saved picture), send it with progress and a way to cancel,
// and turn every failure into a message the visitor can act on.
"use strict";

import { authHeaders, serverMessage, unreachable } from "./util.js";

/** The server's limits; /healthz may state its own ("limits"), else these defaults. */
export const limits = { maxBytes: 10_000_000, maxPixels: 40_000_000 };
// larger photos are sent at this size: on a 6x6 mosaic of a group photo (7680x5316, 216
// faces of about 64 px) the server finds the same faces from 3072 px as from the whole
// photo, ages within 0.8 y on average, no gender changed; 1.8x fewer pixels than 4096 and
// 1.5x fewer bytes (JPEG at 0.9: 2.2 MB instead of 3.5)
const MAX_SEND_SIDE = 3072;
const JPEG_QUALITY = 0.9;

/** Read the server's limits from /healthz; returns its answer (null when unreadable). */
export async function loadLimits() {
  try {
    const res = await fetch("/healthz");
    const body = await res.json();
    if (body.limits?.max_upload_bytes) limits.maxBytes = body.limits.max_upload_bytes;
    if (body.limits?.max_pixels) limits.maxPixels = body.limits.max_pixels;
    return body;
  } catch {
    return null; // keep the defaults
  }
}

const mb = (n) => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;

export async function decode(blob) {
  try {
    return await createImageBitmap(blob, { imageOrientation: "from-image" });
  } catch {
    return null; // e.g. TIFF, which browsers cannot decode: the server draws it instead
  }
}

function toJpeg(bitmap, w, h, quality) {
  const c = document.createElement("canvas");
  c.width = w;
  c.height = h;
  const ctx = c.getContext("2d");
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(bitmap, 0, 0, w, h);
  return new Promise((resolve) => c.toBlob(resolve, "image/jpeg", quality));
}

/**
 * What to send for a photo: {blob, width, height, scaled} (scaled: the size sent differs
 * from the photo's). Photos within the limits go as they are; larger ones (pixels, bytes,
 * or a side above 3072 px), and HEIC ones this browser can decode, as a JPEG small enough. Throws an Error with advice when the
 * browser cannot decode a file that is too large to send as it is.
 */
export async function prepare(file, bitmap) {
  const within = file.size <= limits.maxBytes;
  if (!bitmap) {
    if (within) return { blob: file, scaled: false };
    throw new Error(`${file.name || "This file"} is ${mb(file.size)}, above this server's limit of ` +
      `${mb(limits.maxBytes)}, and this browser cannot shrink this kind of file: save it as a JPEG or PNG and try again.`);
  }
  const { width: W, height: H } = bitmap;
  let s = Math.min(1, MAX_SEND_SIDE / Math.max(W, H), Math.sqrt(limits.maxPixels / (W * H)));
  // a HEIC this browser decodes (Safari) goes as a JPEG: a server may not read HEIC
  const heif = /^image\/hei[cf]/i.test(file.type) || /\.hei[cf]$/i.test(file.name || "");
  if (within && s === 1 && !heif) return { blob: file, width: W, height: H, scaled: false };
  for (let attempt = 0; attempt < 6; attempt++) {
    const w = Math.max(1, Math.floor(W * s));
    const h = Math.max(1, Math.floor(H * s));
    const blob = await toJpeg(bitmap, w, h, JPEG_QUALITY - attempt * 0.05);
    if (blob && blob.size <= limits.maxBytes) return { blob, width: w, height: h, scaled: w !== W || h !== H };
    s *= 0.75;
  }
  throw new Error(`${file.name || "This photo"} could not be made smaller than ${mb(limits.maxBytes)}; try a smaller photo.`);
}

/**
 * POST a blob as the multipart field "image", with progress. Resolves to the parsed JSON
 * answer (or a Blob when as === "blob"); rejects with an Error carrying the server's
 * message, `unreachable` for network failures, or name "AbortError" when cancelled.
 */
export function send(url, blob, name, { onProgress = () => {}, signal = null, as = "json" } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.responseType = as === "blob" ? "blob" : "text";
    xhr.upload.onprogress = (e) => onProgress({ phase: "upload", loaded: e.loaded, total: e.lengthComputable ? e.total : blob.size });
    xhr.upload.onload = () => onProgress({ phase: "analyze" });
    xhr.onerror = () => reject(unreachable());
    xhr.ontimeout = () => reject(unreachable());
    xhr.onabort = () => reject(Object.assign(new Error("Cancelled."), { name: "AbortError" }));
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(as === "blob" ? xhr.response : JSON.parse(xhr.responseText));
        return;
      }
      let body = null;
      try {
        body = JSON.parse(as === "blob" ? await xhr.response.text() : xhr.responseText);
      } catch {
        /* not JSON */
      }
      let message = serverMessage(xhr.status, xhr.statusText, body);
      if (xhr.status === 429 || xhr.status === 503) {
        const wait = xhr.getResponseHeader("Retry-After");
        message += wait ? ` Try again in ${wait} s.` : " Try again in a moment.";
      }
      reject(Object.assign(new Error(message), { status: xhr.status }));
    };
    if (signal) {
      if (signal.aborted) {
        reject(Object.assign(new Error("Cancelled."), { name: "AbortError" }));
        return;
      }
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    const form = new FormData();
    form.append("image", blob, name);
    xhr.send(form);
  });
}

/** A result for the photo as chosen: boxes and landmarks scaled from the size sent. */
export function toOriginal(result, width, height) {
  if (!width || (result.width === width && result.height === height)) return result;
  const sx = width / result.width;
  const sy = height / result.height;
  const r2 = (v) => Math.round(v * 10) / 10;
  return {
    ...result,
    width,
    height,
    analyzed_size: [result.width, result.height],
    faces: result.faces.map((f) => ({
      ...f,
      box: [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy].map(r2),
      ...(f.landmarks ? { landmarks: f.landmarks.map(([x, y]) => [r2(x * sx), r2(y * sy)]) } : {}),
    })),
  };
}

// Drawing faces on a canvas: boxes, landmarks, numbered labels placed without collisions.
"use strict";

import { labelTexts, tagOf } from "./labels.js";
import { anchorOn, exitOf, placeLabels } from "./place.js";
import { dash, genderClass, pct } from "./util.js";

export { labelTexts };

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** A sentence for screen readers: "Face 2: perceived female (97%), apparent age 31 (80% interval 25 to 38, Adience group 25–32)". */
export function faceSentence(f, n) {
  const parts = [];
  if (f.gender) parts.push(`perceived ${f.gender.label || "gender undetermined"} (${pct(f.gender.probability)})`);
  if (f.age) {
    parts.push(`apparent age ${Math.round(f.age.years)} (80% interval ${Math.round(f.age.low)} to ` +
      `${Math.round(f.age.high)}, Adience group ${dash(f.age.group)})`);
  }
  parts.push(`detection score ${f.score.toFixed(2)}`);
  return `Face ${n}: ${parts.join(", ")}`;
}

/** The colours of a saved picture: the light theme's, whatever the viewer's theme. */
export const SAVED_PALETTE = Object.freeze({
  female: "#a8326e", male: "#005a9c", unknown: "#7a5c00",
  onFemale: "#ffffff", onMale: "#ffffff", onUnknown: "#ffffff", selected: "#b45309",
});

export function colors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    female: v("--female", "#a8326e"), male: v("--male", "#005a9c"), unknown: v("--unknown", "#7a5c00"),
    onFemale: v("--on-female", "#fff"), onMale: v("--on-male", "#fff"), onUnknown: v("--on-unknown", "#fff"),
    selected: v("--selected", "#f59e0b"),
  };
}

export function faceColor(palette, f) {
  const g = genderClass(f);
  return { fill: palette[g] || palette.unknown, text: palette[`on${g[0].toUpperCase()}${g.slice(1)}`] || "#fff" };
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  if (ctx.roundRect) ctx.roundRect(x, y, w, h, r);
  else ctx.rect(x, y, w, h);
}

/** Face boxes in canvas pixels: [{x, y, w, h}], mirrored for a selfie view if asked. */
export function canvasBoxes(faces, scale, W, mirror = false) {
  return faces.map((f) => {
    let [x1, y1, x2, y2] = f.box.map((v) => v * scale);
    if (mirror) [x1, x2] = [W - x2, W - x1];
    return { x: x1, y: y1, w: x2 - x1, h: y2 - y1 };
  });
}

/**
 * Boxes and landmarks; the selected face drawn thicker, with an outer ring.
 * Female boxes are solid, male ones dashed, so the box does not tell by colour alone.
 */
export function drawBoxes(ctx, faces, boxes, { scale = 1, mirror = false, lw = 2, selected = -1, palette = colors(),
  draw = { boxes: true, landmarks: true } } = {}) {
  const W = ctx.canvas.width;
  ctx.save();
  faces.forEach((f, i) => {
    const b = boxes[i];
    const { fill } = faceColor(palette, f);
    const strong = i === selected;
    ctx.setLineDash(genderClass(f) === "male" ? [lw * 3, lw * 1.5] : []);
    ctx.lineWidth = strong ? lw * 2 : lw;
    ctx.strokeStyle = fill;
    ctx.shadowColor = "rgba(0,0,0,0.45)";
    ctx.shadowBlur = lw * 2;
    if (draw.boxes) {
      roundRect(ctx, b.x, b.y, b.w, b.h, Math.min(10, b.w / 8));
      ctx.stroke();
    }
    if (strong) { // the selection ring, with or without boxes
      ctx.setLineDash([]);
      ctx.lineWidth = lw;
      ctx.strokeStyle = palette.selected;
      roundRect(ctx, b.x - lw * 2, b.y - lw * 2, b.w + lw * 4, b.h + lw * 4, Math.min(12, b.w / 6));
      ctx.stroke();
    }
    ctx.shadowBlur = 0;
    if (draw.landmarks && f.landmarks && b.w > lw * 12) {
      ctx.fillStyle = fill;
      for (const [lx, ly] of f.landmarks) {
        const x = mirror ? W - lx * scale : lx * scale;
        ctx.beginPath();
        ctx.arc(x, ly * scale, Math.max(1, lw * 0.8), 0, Math.PI * 2);
        ctx.fill();
      }
    }
  });
  ctx.restore();
}

/** Leader lines from each label placed away from its box back to the box. */
export function drawLeaders(ctx, boxes, spots, { lw = 1.5, color = "#fff" } = {}) {
  ctx.save();
  ctx.lineWidth = lw;
  for (let i = 0; i < boxes.length; i++) {
    const s = spots[i];
    if (!s || !s.leader) continue;
    const [ax, ay] = anchorOn(boxes[i], s);
    const [ex, ey] = exitOf(s, boxes[i]);
    for (const [c, w] of [["rgba(0,0,0,0.6)", lw * 2.6], [color, lw]]) {
      ctx.strokeStyle = c;
      ctx.lineWidth = w;
      ctx.beginPath();
      ctx.moveTo(ex, ey);
      ctx.lineTo(ax, ay);
      ctx.stroke();
    }
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(ax, ay, lw * 1.6, 0, Math.PI * 2);
    ctx.fill();
  }
  ctx.restore();
}

/**
 * Everything on the canvas itself: boxes, landmarks, and a numbered label per face placed
 * without collisions (for the saved picture and the Live overlay). `names[i]` is the
 * marker's text (the face's number, or a track id); `draw` turns boxes, landmarks and
 * labels on or off. Sets canvas.dataset.boxes. Returns the label spots (canvas pixels).
 */
export function drawAnnotated(ctx, faces, { scale = 1, mirror = false, fontPx = 14, selected = -1, names = null, palette = colors(),
  draw = { boxes: true, landmarks: true, labels: true } } = {}) {
  const W = ctx.canvas.width;
  const H = ctx.canvas.height;
  const lw = Math.max(1.5, fontPx / 7);
  const boxes = canvasBoxes(faces, scale, W, mirror);
  drawBoxes(ctx, faces, boxes, { scale, mirror, lw, selected, palette, draw });
  ctx.canvas.dataset.boxes = String(faces.length);
  if (!draw.labels) return faces.map(() => null);
  ctx.save();
  ctx.font = `650 ${fontPx}px ${FONT}`;
  ctx.textBaseline = "middle";
  const padX = fontPx * 0.45;
  const h = Math.round(fontPx * 1.5);
  const tags = faces.map((f, i) => (names ? String(names[i]) : tagOf(f, i)));
  const texts = faces.map((f) => labelTexts(f));
  const sizes = faces.map((f, i) => {
    const numW = Math.max(h, ctx.measureText(tags[i]).width + 2 * padX);
    return texts[i].map((t) => ({ w: Math.ceil(t ? numW + ctx.measureText(t).width + 2 * padX : numW), h, numW }));
  });
  const spots = placeLabels(boxes, sizes, W, H, { gap: lw });
  drawLeaders(ctx, boxes, spots, { lw: Math.max(1, lw * 0.7) });
  faces.forEach((f, i) => {
    const s = spots[i];
    if (!s) return;
    const { fill, text } = faceColor(palette, f);
    const numW = sizes[i][s.level].numW;
    ctx.shadowColor = "rgba(0,0,0,0.35)";
    ctx.shadowBlur = 4;
    ctx.fillStyle = fill;
    roundRect(ctx, s.x, s.y, s.w, s.h, h / 2);
    ctx.fill();
    ctx.shadowBlur = 0;
    if (i === selected) {
      ctx.strokeStyle = palette.selected;
      ctx.lineWidth = lw;
      roundRect(ctx, s.x, s.y, s.w, s.h, h / 2);
      ctx.stroke();
    }
    // the number on a dark disc, the text on the gender colour
    ctx.fillStyle = "rgba(0,0,0,0.55)";
    roundRect(ctx, s.x, s.y, numW, s.h, h / 2);
    ctx.fill();
    ctx.fillStyle = "#fff";
    ctx.textAlign = "center";
    ctx.fillText(tags[i], s.x + numW / 2, s.y + h / 2 + 0.5);
    const t = texts[i][s.level];
    if (t) {
      ctx.textAlign = "left";
      ctx.fillStyle = text;
      ctx.fillText(t, s.x + numW + padX, s.y + h / 2 + 0.5);
    }
  });
  ctx.restore();
  return spots;
}

// Collision-free label placement: every face's label goes next to its box, inside the
// picture, never over another label; where no spot next to the box is free, it goes
// further away (with a leader line back to the box) or in a shorter form.
"use strict";

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

function overlapArea(a, b) {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Distance from point (x, y) to the rectangle r (0 inside). */
function distToRect(x, y, r) {
  const dx = Math.max(r.x - x, 0, x - (r.x + r.w));
  const dy = Math.max(r.y - y, 0, y - (r.y + r.h));
  return Math.hypot(dx, dy);
}

/** Candidate top-left corners for a w x h label around box b, nearest first. */
function* candidates(b, w, h, gap, W, H, maxRing, onOwn = false) {
  const cx = b.x + b.w / 2;
  const cy = b.y + b.h / 2;
  // next to the box: above, below, right, left, then inside its top edge
  yield [b.x, b.y - h - gap];
  yield [cx - w / 2, b.y - h - gap];
  yield [b.x + b.w - w, b.y - h - gap];
  yield [b.x, b.y + b.h + gap];
  yield [cx - w / 2, b.y + b.h + gap];
  yield [b.x + b.w - w, b.y + b.h + gap];
  yield [b.x + b.w + gap, b.y];
  yield [b.x + b.w + gap, cy - h / 2];
  yield [b.x - w - gap, b.y];
  yield [b.x - w - gap, cy - h / 2];
  yield [b.x + gap, b.y + gap];
  if (onOwn) yield [cx - w / 2, cy - h / 2]; // centred on its own face (a pin)
  // further away, on rings around the box: these get a leader line
  const step = Math.max(4, h * 0.75);
  for (let ring = 1; ring <= maxRing; ring++) {
    const r = ring * step;
    const n = 12 + 4 * ring;
    for (let k = 0; k < n; k++) {
      const a = (k / n) * Math.PI * 2 - Math.PI / 2; // starting above
      const x = cx + Math.cos(a) * (b.w / 2 + gap + r + w / 2) - w / 2;
      const y = cy + Math.sin(a) * (b.h / 2 + gap + r + h / 2) - h / 2;
      yield [x, y];
    }
    if (r > W + H) return;
  }
}

/**
 * A free spot for a w x h tag near box b anywhere in the picture, covering no other face:
 * the last resort of a crowd, where the rings around the box missed the gaps between the
 * labels already placed. Walks a grid (a third of the tag's height) outward from the face
 * in square rings and takes the nearest free cell of the first ring that has one; gives up
 * (null) when budget.checks, shared by a whole placement, runs out.
 */
function nearestFree(b, i, w, h, boxes, placed, W, H, budget) {
  const step = Math.max(1, h / 3);
  const x0 = b.x + b.w / 2 - w / 2;
  const y0 = b.y + b.h / 2 - h / 2;
  const free = (x, y) => {
    if (x < 0 || y < 0 || x + w > W || y + h > H) return false;
    budget.checks -= placed.length + boxes.length;
    const r = { x, y, w, h };
    return !placed.some((p) => overlaps(r, p)) && !boxes.some((o, j) => j !== i && overlapArea(r, o) > 0);
  };
  const rings = Math.ceil(Math.max(W, H) / step);
  for (let k = 0; k <= rings && budget.checks > 0; k++) {
    let best = null;
    const consider = (dx, dy) => {
      const d = Math.hypot(dx, dy);
      if ((!best || d < best.d) && free(x0 + dx * step, y0 + dy * step)) best = { d, dx, dy };
    };
    for (let t = -k; t <= k; t++) {
      consider(t, -k);
      if (k) consider(t, k);
      if (Math.abs(t) < k) {
        consider(-k, t);
        consider(k, t);
      }
    }
    if (best) return { x: x0 + best.dx * step, y: y0 + best.dy * step, w, h };
  }
  return null;
}

/**
 * Place one label per face.
 *
 * boxes: [{x, y, w, h}] in the picture's coordinates (any unit); sizes[i]: the label's
 * possible sizes for face i, longest form first ([{w, h}, ...]); W, H: the picture.
 * Returns, per face, {level, x, y, w, h, leader} (level: index into sizes[i]; leader:
 * whether the label is away from its box and needs a line back to it), or null for a
 * face whose shortest label finds no free spot at all.
 *
 * noCover (the page's markers): no form, not even the tag alone, may cover another
 * face; the tag alone may instead sit on its own face, or, where the rings find no free
 * spot, on the nearest free spot of the picture (nearestFree), and sizes[i]'s last form
 * (the smallest tag) is used only there. When faces are still left without a spot, they
 * are placed first in a second try. Off by default (the Python mirror,
 * agegender.labels.place_labels, places the saved pictures' labels that way).
 */
export function placeLabels(boxes, sizes, W, H, { gap = 2, rings = [3, 6, 400], noCover = false } = {}) {
  // top to bottom, then left to right: neighbours compete in a stable order
  const order = boxes.map((_, i) => i).sort((i, j) => boxes[i].y - boxes[j].y || boxes[i].x - boxes[j].x);
  const out = placeInOrder(order, boxes, sizes, W, H, { gap, rings, noCover });
  const left = order.filter((i) => !out[i]);
  if (!noCover || !left.length) return out;
  // a crowd where some face found no spot: those faces first, once, if that leaves fewer out
  const again = placeInOrder([...left, ...order.filter((i) => out[i])], boxes, sizes, W, H, { gap, rings, noCover });
  return again.filter((s) => !s).length < left.length ? again : out;
}

// checks of a spot against the labels and faces that the last resort may make in one
// placement (a few hundred milliseconds at most, whatever the crowd)
const LAST_RESORT_CHECKS = 4e6;

function placeInOrder(order, boxes, sizes, W, H, { gap, rings, noCover }) {
  const placed = [];
  const budget = { checks: LAST_RESORT_CHECKS };
  const out = new Array(boxes.length).fill(null);
  for (const i of order) {
    const b = boxes[i];
    const levels = sizes[i];
    // with noCover the smallest form is kept for the last resort (nearestFree)
    const n = noCover && levels.length > 1 ? levels.length - 1 : levels.length;
    let best = null;
    for (let level = 0; level < n && !best; level++) {
      const { w, h } = levels[level];
      if (w > W || h > H) continue;
      const maxRing = level === n - 1 ? rings[rings.length - 1] : rings[Math.min(level, rings.length - 1)];
      let bestCost = Infinity;
      let tried = 0;
      const last = level === n - 1;
      const onOwn = noCover && last;
      for (let [x, y] of candidates(b, w, h, gap, W, H, maxRing, onOwn)) {
        tried++;
        x = Math.max(0, Math.min(x, W - w));
        y = Math.max(0, Math.min(y, H - h));
        const r = { x, y, w, h };
        if (placed.some((p) => overlaps(r, p))) continue;
        // cost: distance from the box, plus a lot for covering another face
        let cover = 0;
        for (let j = 0; j < boxes.length; j++) if (j !== i) cover += overlapArea(r, boxes[j]);
        // only the last resort (the number alone) may cover another face
        if (cover > 0 && (noCover || !last)) continue;
        const own = overlapArea(r, b);
        const cost = distToRect(x + w / 2, y + h / 2, b) + (8 * cover) / h + (2 * own) / h;
        if (cost < bestCost) {
          bestCost = cost;
          best = { level, x, y, w, h };
        }
        // the adjacent spots are enough when one is free and covers nothing
        if (tried === 11 && best && bestCost <= h + gap + w / 2 && cover === 0) break;
        // a pin on its own face beats a spot further away with a leader line
        if (onOwn && tried === 12 && best) break;
      }
    }
    // the last resort of a crowd: the nearest free spot anywhere, in the last two forms
    for (let level = n - 1; noCover && !best && level >= 0 && level < levels.length; level++) {
      const spot = nearestFree(b, i, levels[level].w, levels[level].h, boxes, placed, W, H, budget);
      if (spot) best = { level, ...spot };
    }
    if (best) {
      const near = distToRect(best.x + best.w / 2, best.y + best.h / 2, b);
      const touches = best.x <= b.x + b.w + gap + 1 && best.x + best.w >= b.x - gap - 1 &&
        best.y <= b.y + b.h + gap + 1 && best.y + best.h >= b.y - gap - 1;
      best.leader = !touches && near > 0;
      placed.push(best);
      out[i] = best;
    }
  }
  return out;
}

/** The point of rectangle b nearest to the centre of rectangle r (a leader line's end). */
export function anchorOn(b, r) {
  const cx = r.x + r.w / 2;
  const cy = r.y + r.h / 2;
  return [Math.max(b.x, Math.min(cx, b.x + b.w)), Math.max(b.y, Math.min(cy, b.y + b.h))];
}

/** The point of rectangle r nearest to rectangle b's centre (where a leader leaves a label). */
export function exitOf(r, b) {
  const cx = b.x + b.w / 2;
  const cy = b.y + b.h / 2;
  return [Math.max(r.x, Math.min(cx, r.x + r.w)), Math.max(r.y, Math.min(cy, r.y + r.h))];
}

export { overlaps };

/**
 * Reading order of face boxes ([x1, y1, x2, y2]): rows from top to bottom, left to right
 * within a row. A face joins the row being built when its centre lies within half the
 * row's median face height of the row's centre line. Returns the indexes in that order.
 */
export function readingOrder(boxes) {
  const c = boxes.map(([x1, y1, x2, y2], i) => ({ i, x: (x1 + x2) / 2, y: (y1 + y2) / 2, h: y2 - y1 }));
  c.sort((a, b) => a.y - b.y || a.x - b.x);
  const rows = [];
  for (const f of c) {
    const row = rows[rows.length - 1];
    if (row) {
      const hs = row.map((r) => r.h).sort((a, b) => a - b);
      const mid = row.reduce((s, r) => s + r.y, 0) / row.length;
      if (Math.abs(f.y - mid) <= hs[hs.length >> 1] / 2) {
        row.push(f);
        continue;
      }
    }
    rows.push([f]);
  }
  return rows.flatMap((row) => row.sort((a, b) => a.x - b.x).map((f) => f.i));
}

/** The result with its faces in reading order (the page numbers them in that order). */
export function inReadingOrder(result) {
  if (!result || !Array.isArray(result.faces) || result.faces.length < 2) return result;
  return { ...result, faces: readingOrder(result.faces.map((f) => f.box)).map((i) => result.faces[i]) };
}

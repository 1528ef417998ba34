"""The one label grammar: the text drawn next to each face, and where it goes.

The web page (``server/static/labels.js`` and ``place.js``), ``agegender analyze --out``,
``/v1/annotate`` and the annotated video all draw the same label, from a face's JSON
answer (:meth:`agegender.faces.Faces.to_dict`, so that every writer rounds the same
numbers):

* a **tag**: the face's number (1, 2, ... in reading order of the answer) or, in video,
  its track id;
* a **text**, in three forms, longest first: ``"F 97% · 31 y (25-38)"`` (perceived gender
  and the probability of that label, capped at 99%; apparent age in years and its 80%
  interval), ``"F · 31 y"``, and ``""`` (the tag alone, for crowds). ``?`` stands for an
  undetermined perceived gender. Numbers round half up (JavaScript's ``Math.round``).

:func:`place_labels` puts one label per face next to its box, inside the picture and over
no other label, in a shorter form or further away (with a leader line) where the space is
taken; only the tag alone may cover another face. ``tests/server/test_browser_labels_same.py``
checks that the page's JavaScript gives the same texts and spots.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

SEP = " \u00b7 "  # a middle dot between the gender and the age parts
GENDER_LETTER = {"male": "M", "female": "F"}
MAX_PERCENT = 99  # a model's probability is never shown as certainty


def half_up(x: float) -> int:
    """``x`` rounded half up, as JavaScript's ``Math.round`` does (2.5 -> 3, -2.5 -> -2)."""
    return math.floor(x + 0.5)


def percent(p: float) -> str:
    """A probability as a whole percent, at most 99%: ``0.996 -> "99%"``."""
    return f"{min(MAX_PERCENT, half_up(p * 100))}%"


def label_texts(face: dict[str, Any]) -> tuple[str, str, str]:
    """The three forms of a face's label text (see the module), from its JSON answer."""
    gender = face.get("gender")
    age = face.get("age")
    g = (GENDER_LETTER.get(gender.get("label") or "", "?")) if gender else ""
    years = f"{half_up(age['years'])} y" if age else ""
    full = [
        f"{g} {percent(gender['probability'])}" if gender else "",
        f"{years} ({half_up(age['low'])}-{half_up(age['high'])})" if age else "",
    ]
    full_text = SEP.join(t for t in full if t)
    short_text = SEP.join(t for t in (g, years) if t)
    score = f"{float(face['score']):.2f}"
    return (full_text or f"score {score}", short_text or score, "")


def tag_of(face: dict[str, Any], index: int) -> str:
    """The tag of face ``index`` (from 0): its track id when it has one, else its number."""
    track = face.get("track_id")
    return str(track) if isinstance(track, int) and track > 0 else str(index + 1)


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Spot:
    """Where a label goes: ``level`` indexes its forms; ``leader``: away from its box."""

    level: int
    x: float
    y: float
    w: float
    h: float
    leader: bool = False


def _overlaps(a: Rect | Spot, b: Rect | Spot) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def _overlap_area(a: Rect, b: Rect) -> float:
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return w * h if w > 0 and h > 0 else 0.0


def _dist_to_rect(x: float, y: float, r: Rect) -> float:
    dx = max(r.x - x, 0.0, x - (r.x + r.w))
    dy = max(r.y - y, 0.0, y - (r.y + r.h))
    return math.hypot(dx, dy)


def _candidates(
    b: Rect, w: float, h: float, gap: float, W: float, H: float, max_ring: int
) -> Iterator[tuple[float, float]]:
    cx, cy = b.x + b.w / 2, b.y + b.h / 2
    # next to the box: above, below, right, left, then inside its top edge
    yield b.x, b.y - h - gap
    yield cx - w / 2, b.y - h - gap
    yield b.x + b.w - w, b.y - h - gap
    yield b.x, b.y + b.h + gap
    yield cx - w / 2, b.y + b.h + gap
    yield b.x + b.w - w, b.y + b.h + gap
    yield b.x + b.w + gap, b.y
    yield b.x + b.w + gap, cy - h / 2
    yield b.x - w - gap, b.y
    yield b.x - w - gap, cy - h / 2
    yield b.x + gap, b.y + gap
    # further away, on rings around the box: these get a leader line
    step = max(4.0, h * 0.75)
    for ring in range(1, max_ring + 1):
        r = ring * step
        n = 12 + 4 * ring
        for k in range(n):
            a = (k / n) * math.pi * 2 - math.pi / 2  # starting above
            yield (
                cx + math.cos(a) * (b.w / 2 + gap + r + w / 2) - w / 2,
                cy + math.sin(a) * (b.h / 2 + gap + r + h / 2) - h / 2,
            )
        if r > W + H:
            return


def place_labels(
    boxes: Sequence[Rect],
    sizes: Sequence[Sequence[tuple[float, float]]],
    W: float,
    H: float,
    *,
    gap: float = 2.0,
    rings: Sequence[int] = (3, 6, 400),
) -> list[Spot | None]:
    """One spot per face (``None``: no room even for the tag), as ``placeLabels`` in
    ``place.js``: ``sizes[i]`` are the (w, h) of face i's label forms, longest first."""
    placed: list[Spot] = []
    out: list[Spot | None] = [None] * len(boxes)
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i].y, boxes[i].x))
    for i in order:
        b = boxes[i]
        levels = sizes[i]
        best: Spot | None = None
        for level, (w, h) in enumerate(levels):
            if best is not None:
                break
            if w > W or h > H:
                continue
            last = level == len(levels) - 1
            max_ring = rings[-1] if last else rings[min(level, len(rings) - 1)]
            best_cost = math.inf
            for tried, (x0, y0) in enumerate(_candidates(b, w, h, gap, W, H, max_ring), 1):
                x = max(0.0, min(x0, W - w))
                y = max(0.0, min(y0, H - h))
                r = Rect(x, y, w, h)
                if any(_overlaps(r, p) for p in placed):
                    continue
                cover = sum(_overlap_area(r, o) for j, o in enumerate(boxes) if j != i)
                if cover > 0 and not last:  # only the tag alone may cover another face
                    continue
                cost = _dist_to_rect(x + w / 2, y + h / 2, b) + 8 * cover / h + 2 * _overlap_area(r, b) / h
                if cost < best_cost:
                    best_cost, best = cost, Spot(level, x, y, w, h)
                if tried == 11 and best is not None and best_cost <= h + gap + w / 2 and cover == 0:
                    break
        if best is not None:
            near = _dist_to_rect(best.x + best.w / 2, best.y + best.h / 2, b)
            touches = (
                best.x <= b.x + b.w + gap + 1
                and best.x + best.w >= b.x - gap - 1
                and best.y <= b.y + b.h + gap + 1
                and best.y + best.h >= b.y - gap - 1
            )
            best = Spot(best.level, best.x, best.y, best.w, best.h, not touches and near > 0)
            placed.append(best)
            out[i] = best
    return out


def anchor_on(b: Rect, r: Spot) -> tuple[float, float]:
    """The point of box ``b`` nearest to the centre of label ``r`` (a leader line's end)."""
    cx, cy = r.x + r.w / 2, r.y + r.h / 2
    return max(b.x, min(cx, b.x + b.w)), max(b.y, min(cy, b.y + b.h))


def exit_of(r: Spot, b: Rect) -> tuple[float, float]:
    """The point of label ``r`` nearest to box ``b``'s centre (where a leader leaves it)."""
    cx, cy = b.x + b.w / 2, b.y + b.h / 2
    return max(r.x, min(cx, r.x + r.w)), max(r.y, min(cy, r.y + r.h))

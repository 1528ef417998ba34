"""Drawing results: boxes, landmarks and labels on a *new* image (the input is untouched).

The label is the one grammar of :mod:`agegender.labels` (the web page draws the same text
in the same places): a tag (the face's number, or its track id in video) and
``"F 97% · 31 y (25-38)"``, shortened or moved away with a leader line where faces crowd,
always inside the picture.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .faces import Faces
from .io.images import Channels, as_rgb
from .labels import Rect, Spot, anchor_on, exit_of, label_texts, place_labels, tag_of

# the web page's light-theme colours (style.css): white text on each has AA contrast
_FEMALE = (168, 50, 110)
_MALE = (0, 90, 156)
_UNKNOWN = (122, 92, 0)
_TAG = (32, 32, 32)
_WHITE = (255, 255, 255)


def label_of(faces: Faces, i: int, *, gender_min_confidence: float | None = None) -> str:
    """Face ``i``'s label as drawn, tag first: ``"1 F 97% · 31 y (25-38)"``."""
    face = faces.to_dict(gender_min_confidence=gender_min_confidence)[i]
    return f"{tag_of(face, i)} {label_texts(face)[0]}"


def _color(face: dict[str, Any]) -> tuple[int, int, int]:
    label = (face.get("gender") or {}).get("label")
    return {"male": _MALE, "female": _FEMALE}.get(label or "", _UNKNOWN)


def annotate(
    image: Any,
    faces: Faces,
    *,
    channels: Channels | None = None,
    gender_min_confidence: float | None = None,
) -> Any:
    """A new image with each face's box, landmarks and label (perceived gender, apparent age).

    Takes what :func:`agegender.analyze` takes and returns the type it was given: a numpy
    array in, a numpy array in the same channel order out; a PIL image (or a path, or
    bytes) in, a PIL image out. Drawing works on one copy of the pixels (an RGB PIL image
    is copied once, an array once into PIL's own buffer). ``gender_min_confidence``: below
    it a perceived gender is drawn as ``?`` (default: the faces' own).
    """
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    if isinstance(image, Image.Image) and image.mode == "RGB" and channels is None:
        out = ImageOps.exif_transpose(image)  # a new image, upright, as analyze() saw it
    else:
        out = Image.fromarray(as_rgb(image, channels=channels))  # copies: the input stays
    draw = ImageDraw.Draw(out)
    w, h = out.size
    # the page's saved picture: a font of 1/85 of the long side, at least 13 px
    font_px = max(13, round(max(w, h) / 85))
    line = max(2, round(font_px / 7))
    try:
        font: Any = ImageFont.load_default(size=font_px)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    dicts = faces.to_dict(gender_min_confidence=gender_min_confidence)
    boxes = [Rect(b[0], b[1], b[2] - b[0], b[3] - b[1]) for b in (f["box"] for f in dicts)]
    for i, face in enumerate(dicts):
        b, color = boxes[i], _color(face)
        draw.rectangle([b.x, b.y, b.x + b.w, b.y + b.h], outline=color, width=line)
        if face["landmarks"] is not None and b.w > line * 12:
            for x, y in face["landmarks"]:
                draw.ellipse([x - line, y - line, x + line, y + line], fill=color)
    pad = font_px * 0.45
    tall = round(font_px * 1.5)
    tags = [tag_of(f, i) for i, f in enumerate(dicts)]
    texts = [label_texts(f) for f in dicts]
    sizes = []
    for tag, forms in zip(tags, texts):
        tag_w = max(tall, draw.textlength(tag, font=font) + 2 * pad)
        widths = [tag_w + draw.textlength(t, font=font) + 2 * pad if t else tag_w for t in forms]
        sizes.append([(float(np.ceil(x)), float(tall)) for x in widths])
    spots = place_labels(boxes, sizes, w, h, gap=line)
    for i, s in enumerate(spots):
        if s is not None and s.leader:
            _leader(draw, boxes[i], s, line)
    for i, s in enumerate(spots):
        if s is None:
            continue
        tag_w = max(tall, draw.textlength(tags[i], font=font) + 2 * pad)
        r = tall / 2
        draw.rounded_rectangle([s.x, s.y, s.x + s.w, s.y + s.h], r, fill=_color(dicts[i]))
        draw.rounded_rectangle([s.x, s.y, s.x + tag_w, s.y + s.h], r, fill=_TAG)
        mid = s.y + s.h / 2
        draw.text((s.x + tag_w / 2, mid), tags[i], fill=_WHITE, font=font, anchor="mm")
        if texts[i][s.level]:
            draw.text((s.x + tag_w + pad, mid), texts[i][s.level], fill=_WHITE, font=font, anchor="lm")
    if isinstance(image, np.ndarray):
        arr = np.asarray(out)
        return np.ascontiguousarray(arr[..., ::-1]) if channels == "BGR" else arr
    return out


def _leader(draw: Any, box: Rect, spot: Spot, line: int) -> None:
    """A line from a label placed away from its box back to the box (dark under white)."""
    ax, ay = anchor_on(box, spot)
    ex, ey = exit_of(spot, box)
    draw.line([ex, ey, ax, ay], fill=(0, 0, 0), width=line + 2)
    draw.line([ex, ey, ax, ay], fill=_WHITE, width=max(1, line - 1))
    draw.ellipse([ax - line, ay - line, ax + line, ay + line], fill=_WHITE)

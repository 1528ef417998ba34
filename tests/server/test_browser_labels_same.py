"""The page and the Python writers (``--out``, ``/v1/annotate``, the annotated video) use
one label grammar: the page's labels.js and place.js give the same texts, tags and
spots as agegender.labels for the same faces."""

from __future__ import annotations

import itertools
from dataclasses import asdict
from typing import Any

import numpy as np
import pytest

from agegender.labels import Rect, label_texts, place_labels, tag_of
from tests.server.browser_kit import ServerThread, open_page

pytestmark = pytest.mark.browser


def _faces() -> list[dict[str, Any]]:
    """Edge cases of rounding and the cap, undetermined and missing parts, track ids."""
    out: list[dict[str, Any]] = []
    probs = [0.5, 0.5049, 0.505, 0.905, 0.9949, 0.995, 0.9999, 1.0]
    years = [0.0, 0.5, 4.49, 30.5, 31.5, 99.5]
    for k, (p, y) in enumerate(itertools.product(probs, years)):
        face: dict[str, Any] = {"box": [0, 0, 10, 10], "score": 0.5 + k / 200, "landmarks": None,
                                "age": {"years": y, "low": max(0.0, y - 6.5), "high": y + 7.5, "group": "25-32"},
                                "gender": {"label": ("male", "female", None)[k % 3], "probability": p}}
        if k % 5 == 0:
            face["track_id"] = k
        out.append(face)
    out.append({"box": [0, 0, 1, 1], "score": 0.935, "landmarks": None})
    out.append({"box": [0, 0, 1, 1], "score": 0.9, "landmarks": None, "gender": {"label": "male", "probability": 0.7}})
    out.append({"box": [0, 0, 1, 1], "score": 0.9, "landmarks": None, "track_id": 0,
                "age": {"years": 7.5, "low": 2.5, "high": 12.5, "group": "4-6"}})
    return out


def _crowd() -> tuple[list[Rect], list[list[tuple[float, float]]]]:
    rng = np.random.default_rng(3)
    boxes = [Rect(float(x), float(y), float(s), float(s) * 1.2)
             for x, y, s in zip(rng.uniform(0, 370, 60), rng.uniform(0, 260, 60), rng.uniform(12, 40, 60))]
    sizes = [[(float(w), 18.0), (float(w) / 2.5, 18.0), (18.0, 18.0)] for w in rng.uniform(90, 160, 60)]
    return boxes, sizes


def test_page_and_python_give_the_same_labels(server: ServerThread, browser: Any) -> None:
    faces = _faces()
    boxes, sizes = _crowd()
    context, page, log = open_page(browser, server.url, "desktop")
    try:
        js = page.evaluate(
            """async ([faces, boxes, sizes]) => {
              const L = await import('/static/labels.js');
              const P = await import('/static/place.js');
              const sz = sizes.map((forms) => forms.map(([w, h]) => ({w, h})));
              return {texts: faces.map((f) => L.labelTexts(f)), tags: faces.map((f, i) => L.tagOf(f, i)),
                      spots: P.placeLabels(boxes, sz, 400, 300, {gap: 2})};
            }""",
            [faces, [asdict(b) for b in boxes], sizes],
        )
    finally:
        context.close()
    log.check()
    assert js["texts"] == [list(label_texts(f)) for f in faces]
    assert js["tags"] == [tag_of(f, i) for i, f in enumerate(faces)]
    py = [None if s is None else asdict(s) for s in place_labels(boxes, sizes, 400, 300, gap=2)]
    assert sum(s is not None for s in py) > 40  # a real crowd, most faces placed
    assert len(js["spots"]) == len(py)
    for a, b in zip(js["spots"], py):
        assert (a is None) == (b is None), (a, b)
        if a is not None and b is not None:
            assert a["level"] == b["level"] and a["leader"] == b["leader"], (a, b)
            assert all(abs(a[k] - b[k]) < 1e-6 for k in "xywh"), (a, b)

import logging

import numpy as np
import pytest

from agegender.detect import AUTO_ORDER, Detector, create_detector, detector_names
from agegender.detect import base as base_module
from agegender.detect.base import BaseDetector, View
from agegender.detect.cascade import CascadeDetector
from agegender.errors import UnknownModelError


class Fixed(BaseDetector):
    """Returns a fixed list of boxes and counts its calls."""

    def __init__(self, boxes, name):
        super().__init__(pad=0.0, max_side=None)
        self.boxes, self.name, self.calls = np.asarray(boxes, np.float32).reshape(-1, 4), name, 0

    def _detect_raw(self, view: View):
        self.calls += 1
        n = len(self.boxes)
        return self.boxes, np.full(n, 0.9, np.float32), np.full((n, 5, 2), np.nan, np.float32)


def test_fallback_only_where_the_first_finds_nothing():
    img = np.zeros((100, 100, 3), np.uint8)
    first, then = Fixed([], "a"), Fixed([[10, 10, 60, 60]], "b")
    cas = CascadeDetector(first, then)
    assert isinstance(cas, Detector) and not isinstance(cas, BaseDetector)
    assert len(cas.detect(img)) == 1 and then.calls == 1 and cas.name == "a-b"
    first.boxes = np.array([[20, 20, 70, 70]], np.float32)
    faces = cas.detect(img)
    assert then.calls == 1 and faces.boxes[0, 0] == 20  # second detector not run again


def test_batch_falls_back_on_the_misses_only():
    class Some(Fixed):
        def _detect_raw(self, view: View):
            self.calls += 1
            found = view.image[0, 0, 0] > 0  # images with a lit corner "have a face"
            boxes = self.boxes if found else self.boxes[:0]
            n = len(boxes)
            return boxes, np.full(n, 0.9, np.float32), np.full((n, 5, 2), np.nan, np.float32)

    first, then = Some([[20, 20, 70, 70]], "a"), Fixed([[10, 10, 60, 60]], "b")
    imgs = [np.zeros((100, 100, 3), np.uint8) for _ in range(3)]
    imgs[1][0, 0] = 255
    out = CascadeDetector(first, then).detect_batch(imgs)
    assert [f.boxes[0, 0] for f in out] == [10, 20, 10] and then.calls == 2


def test_yunet_is_the_pip_default_then_hog_mtcnn(no_mirror):
    assert AUTO_ORDER.index("yunet") < AUTO_ORDER.index("hog-mtcnn") < AUTO_ORDER.index("mtcnn")
    assert create_detector("auto").name == "yunet"  # ships inside agegender
    det = create_detector("hog-mtcnn")
    # MTCNN is the fallback: its files are checked when it first runs, not up front
    assert ("mtcnn", "detect") not in det.required_models()


def test_old_cascade_name_is_a_deprecated_alias(caplog: pytest.LogCaptureFixture):
    import agegender.detect as detect

    detect._warned.discard("hog+mtcnn")
    with caplog.at_level(logging.WARNING, logger="agegender.detect"):
        a = create_detector("hog+mtcnn")
        b = create_detector("hog+mtcnn")
    assert a.name == b.name == "hog-mtcnn"
    warnings = [r for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(warnings) == 1 and "hog-mtcnn" in warnings[0].getMessage()


@pytest.mark.parametrize("name", ["yunet+hog", "mtcnn+hog", "hog+"])
def test_no_generic_plus_parsing(name: str):
    with pytest.raises(UnknownModelError, match="no detector named"):
        create_detector(name)


def test_one_list_of_names():
    names = detector_names()
    assert names[0] == "auto" and len(set(names)) == len(names)
    assert set(AUTO_ORDER) <= set(names)
    assert "hog+mtcnn" not in names  # aliases are not listed
    assert all(isinstance(n, str) and "+" not in n for n in names)


def test_one_nms_over_union_or_smaller_box():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 9, 9], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    # the nested box overlaps by 64/100 of the union, by all of the smaller box
    assert base_module.nms(boxes, scores, 0.7).tolist() == [0, 1, 2]
    assert base_module.nms(boxes, scores, 0.7, over="min").tolist() == [0, 2]

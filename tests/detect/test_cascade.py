import numpy as np

from agegender.detect import AUTO_ORDER, create_detector
from agegender.detect.base import BaseDetector, View
from agegender.detect.cascade import CascadeDetector


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
    assert len(cas.detect(img)) == 1 and then.calls == 1 and cas.name == "a+b"
    first.boxes = np.array([[20, 20, 70, 70]], np.float32)
    faces = cas.detect(img)
    assert then.calls == 1 and faces.boxes[0, 0] == 20  # second detector not run again


def test_hog_mtcnn_is_the_pip_default(no_mirror):
    assert AUTO_ORDER.index("hog+mtcnn") < AUTO_ORDER.index("mtcnn")
    det = create_detector("auto")
    assert det.name == "hog+mtcnn"

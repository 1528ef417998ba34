"""track_video / TrackedFrames: ``for frame in agegender.track_video(analyzer, clip)`` on
short synthetic clips, first with a fake analyzer (public steps only), then with the real
models on a clip made from a shared photo."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import agegender
from agegender.errors import InputError
from agegender.faces import Faces
from agegender.track import Frame, TrackedFrames, track_video
from agegender.video import analyze_video

from .test_step import FakeAnalyzer, faces_at

N = 12


class MovingFace(FakeAnalyzer):
    """A face 2 px further right on each detection, for as many detections as asked."""

    def __init__(self) -> None:
        super().__init__([])
        self.calls = 0

    def detect(self, images: list[Any]) -> list[Faces]:
        self.calls += 1
        return [faces_at([10.0 + 2 * self.calls])]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "grey.mp4"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 120))
    for i in range(N):
        w.write(np.full((120, 160, 3), 10 * i, np.uint8))
    w.release()
    return path


def _video_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("agegender-video-")]


def test_every_analyzed_frame_with_stable_tracks(clip: Path) -> None:
    an = MovingFace()
    frames = list(track_video(an, clip, every=2, detect_every=3))  # type: ignore[arg-type]
    assert all(isinstance(f, Frame) for f in frames)
    assert [f.index for f in frames] == list(range(0, N, 2))
    np.testing.assert_allclose([f.seconds for f in frames], np.arange(0, N, 2) / 10.0, atol=1e-6)
    assert [f.detected for f in frames] == [i % 3 == 0 for i in range(N // 2)]
    assert an.calls == 2  # frames 0 and 3 of the analyzed ones
    assert frames[0].image.shape == (120, 160, 3) and frames[0].image.dtype == np.uint8
    assert frames[0].fresh.tolist() == [True] and not frames[1].fresh.any()
    # the tracker predicts on frames without detection; a confirmed track is one person
    ids = {int(t) for f in frames[3:] for t in (f.faces.track_id if f.faces.track_id is not None else [])}
    assert len(ids) == 1
    assert frames[-1].faces.age_years is not None  # the track's aggregate is shown
    assert frames[3].raw.age_years is not None and frames[4].raw.age_years is None
    assert not _video_threads()  # the source is closed when the iteration ends


def test_untracked_counters_stop_and_close(clip: Path) -> None:
    an = MovingFace()
    tf = TrackedFrames(an, clip, track=False, max_frames=5)  # type: ignore[arg-type]
    frames = list(tf)
    assert len(frames) == 5 and tf.analyzed == 5 and an.calls == 5
    assert all(f.faces is f.raw and f.raw.track_id is None for f in frames)
    assert tf.aggregator is None and tf.step.detections == 5 and tf.read_seconds > 0
    assert tf.started is not None and tf.fps == pytest.approx(10.0)

    with TrackedFrames(MovingFace(), clip) as tf:  # type: ignore[arg-type]
        first = next(iter(tf))
        assert first.index == 0 and _video_threads()
    assert not _video_threads() and tf.analyzed == 1  # left early: closed


@pytest.mark.parametrize(
    ("kw", "message"),
    [({"every": 0}, "every"), ({"detect_every": 0}, "detect_every"),
     ({"estimate_every": 0}, "estimate_every"), ({"max_frames": 0}, "max_frames")],
)
def test_bad_arguments_before_the_source_is_opened(kw: dict[str, int], message: str) -> None:
    with pytest.raises(InputError, match=message):
        track_video(MovingFace(), "/nonexistent/clip.mp4", **kw)  # type: ignore[arg-type]


def test_track_video_with_the_real_models(photos: Path, use_mirror: Path, tmp_path: Path) -> None:
    bgr = cv2.resize(cv2.imread(str(photos / "astronaut.png")), (256, 256))
    clip = tmp_path / "astronaut.mp4"
    w = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (256, 256))
    for i in range(6):
        w.write(np.roll(bgr, 2 * i, axis=1))
    w.release()
    analyzer = agegender.Analyzer(detector="yunet")
    frames = list(agegender.track_video(analyzer, clip))
    assert len(frames) == 6 and all(len(f.faces) == 1 for f in frames[2:])
    last = frames[-1].faces
    assert last.track_id is not None and 15 <= float(last.age_years[0]) <= 70  # type: ignore[index]
    # analyze_video iterates the same frames: the same per-frame answers
    dicts: list[dict[str, Any]] = []
    analyze_video(analyzer, clip, on_frame=dicts.append)
    assert [len(d["faces"]) for d in dicts] == [len(f.faces) for f in frames]
    np.testing.assert_allclose([d["faces"][0]["age"]["years"] for d in dicts[2:]],
                               [float(f.faces.age_years[0]) for f in frames[2:]], atol=0.051)  # type: ignore[index]

"""Video: reading/writing, bad inputs, and tracking real faces moving in short synthetic clips.

The clips are built here from the shared photos (faces pasted on a grey canvas,
moving and growing), written with cv2.VideoWriter, and read back as any video is.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from agegender.errors import InputError, VideoError
from agegender.io.images import decode_image
from agegender.io.video import VIDEO_EXTENSIONS, VideoWriter, is_video, open_video
from agegender.video import TRACK_CSV_COLUMNS, analyze_video, flicker_report
from agegender.video.analyze import DEFAULT_ESTIMATE_EVERY

FPS = 30.0

# Each actor: (crop, start (x, y), end (x, y), start height, end height) in a 640x480 frame.
# The two paths never overlap, so each face stays one track.
PATH_A = ((20, 40), (220, 120), 130, 170)
PATH_B = ((480, 300), (420, 40), 120, 160)


def _faces(photos: Path) -> tuple[np.ndarray, np.ndarray]:
    """Face crops: the astronaut (with some context) and Tom Hanks (already a crop)."""
    astronaut = decode_image(photos / "astronaut.png")[30:210, 140:305]
    tom = decode_image(photos / "Tom_Hanks_54745.png")
    return astronaut, tom


def _paste(frame: np.ndarray, crop: np.ndarray, xy: tuple[float, float], height: float) -> None:
    h = int(round(height))
    w = int(round(h * crop.shape[1] / crop.shape[0]))
    c = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
    x, y = int(round(xy[0])), int(round(xy[1]))
    frame[y : y + h, x : x + w] = c[: frame.shape[0] - y, : frame.shape[1] - x]


def make_clip(
    path: Path,
    actors: list[tuple[np.ndarray, tuple[Any, ...], tuple[int, int] | None]],
    n: int = 60,
    size: tuple[int, int] = (640, 480),
    scale: float = 1.0,
) -> Path:
    """Write an mp4: each actor = (crop, path, (first, last) frame present or None = always)."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (w, h))
    assert writer.isOpened()
    for i in range(n):
        frame = np.full((h, w, 3), 128, np.uint8)
        u = i / (n - 1)
        for crop, ((x0, y0), (x1, y1), s0, s1), present in actors:
            if present is not None and not present[0] <= i <= present[1]:
                continue
            xy = (scale * (x0 + (x1 - x0) * u), scale * (y0 + (y1 - y0) * u))
            _paste(frame, crop, xy, scale * (s0 + (s1 - s0) * u))
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def analyzer(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Analyzer (YuNet from the mirror, default age/gender models) for the module."""
    from agegender import Analyzer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGEGENDER_MIRROR", str(mirror))
        mp.setenv("AGEGENDER_HOME", str(tmp_path_factory.mktemp("home")))
        yield Analyzer(detector="yunet")


@pytest.fixture(scope="module")
def two_faces(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    astronaut, tom = _faces(photos)
    d = tmp_path_factory.mktemp("clips")
    return make_clip(d / "two.mp4", [(astronaut, PATH_A, None), (tom, PATH_B, None)])


@pytest.fixture(scope="module")
def two_faces_run(analyzer: Any, two_faces: Path, tmp_path_factory: pytest.TempPathFactory):
    """analyze_video on the two-face clip, tracking on, with the frame dicts and an output."""
    frames: list[dict[str, Any]] = []
    out = tmp_path_factory.mktemp("out") / "two.annotated.mp4"
    summary = analyze_video(analyzer, two_faces, on_frame=frames.append, out=out, include_raw=True)
    return summary, frames, out


# --------------------------------------------------------------------------- tracking
def test_two_moving_faces_give_two_stable_tracks(two_faces_run: Any) -> None:
    summary, frames, _ = two_faces_run
    assert summary.frames_read == summary.frames_analyzed == summary.detections == 60
    assert [t["track_id"] for t in summary.tracks] == [1, 2]
    for t in summary.tracks:
        assert t["frames"] >= 55, t  # on screen (and tracked) nearly all the time
        assert t["age"] is not None and t["gender"] is not None

    # ids stay with the same face as it moves: the track's box follows its own path
    start = {}
    for fr in frames:
        assert len(fr["faces"]) <= 2
        for f in fr["faces"]:
            cx = (f["box"][0] + f["box"][2]) / 2
            start.setdefault(f["track_id"], cx)
            side = "left" if start[f["track_id"]] < 320 else "right"
            assert (cx < 400) if side == "left" else (cx > 380), (fr["frame"], f)
    assert sorted(start) == [1, 2]

    # shown answers do not change over the last 2/3 of the clip
    for tid in (1, 2):
        late = [
            (f["age"]["group"], f["gender"]["label"])
            for fr in frames[20:]
            for f in fr["faces"]
            if f["track_id"] == tid
        ]
        assert len(late) >= 35
        assert len(set(late)) == 1, (tid, sorted(set(late)))
    # the astronaut is a woman, Tom Hanks a man: the stable answers say so
    by_x = {tid: x for tid, x in start.items()}
    left = min(by_x, key=by_x.get)  # type: ignore[arg-type]
    genders = {t["track_id"]: t["gender"]["label"] for t in summary.tracks}
    assert genders[left] == "female"
    assert genders[max(by_x, key=by_x.get)] == "male"  # type: ignore[arg-type]


def test_frame_dicts_are_json_ready_and_flicker_is_lower_tracked(two_faces_run: Any) -> None:
    summary, frames, _ = two_faces_run
    json.dumps(frames)
    fr = frames[30]
    assert fr["frame"] == 30 and fr["time"] == pytest.approx(1.0, abs=1e-3)
    f = fr["faces"][0]
    assert {"box", "score", "age", "gender", "track_id", "raw"} <= set(f)
    # raw: the model's answer where the face was estimated on that frame, else None
    raws = [f["raw"] for fr in frames for f in fr["faces"]]
    assert all(r is None or set(r) == {"age", "gender"} for r in raws)
    assert sum(r is not None for r in raws) == summary.estimates
    assert summary.flicker_tracked is not None and summary.flicker_raw is not None
    assert summary.flicker_tracked["gender"] <= summary.flicker_raw["gender"]
    assert summary.flicker_tracked["age_group"] <= summary.flicker_raw["age_group"]
    rep = flicker_report(frames, fps=FPS)
    assert rep["tracks"] == 2
    assert rep["tracked"] == summary.flicker_tracked
    assert rep["raw"] == summary.flicker_raw
    guessed = flicker_report(frames)  # fps from the frames' times
    assert guessed["raw"]["age_group"] == pytest.approx(rep["raw"]["age_group"], rel=0.01)
    assert set(summary.timings) == {"read", "detect", "track", "estimate", "aggregate", "output"}


def test_annotated_output_and_track_files(two_faces_run: Any, tmp_path: Path) -> None:
    summary, _, out = two_faces_run
    with open_video(out) as v:
        assert (v.width, v.height) == (640, 480)
        assert v.fps == pytest.approx(FPS)
        assert sum(1 for _ in v) == 60
    summary.write(tmp_path / "tracks.json")
    summary.write(tmp_path / "tracks.csv")
    d = json.loads((tmp_path / "tracks.json").read_text())
    assert d["frames_analyzed"] == 60 and len(d["tracks"]) == 2
    with open(tmp_path / "tracks.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == TRACK_CSV_COLUMNS
    assert [r["track_id"] for r in rows] == ["1", "2"]
    assert {r["gender"] for r in rows} == {"female", "male"}
    with pytest.raises(InputError, match=r"\.json or \.csv"):
        summary.write(tmp_path / "tracks.txt")


def test_face_entering_and_leaving_gives_one_track(
    analyzer: Any, photos: Path, tmp_path: Path
) -> None:
    _, tom = _faces(photos)
    clip = make_clip(tmp_path / "enter.mp4", [(tom, PATH_B, (10, 40))], n=60)
    frames: list[dict[str, Any]] = []
    s = analyze_video(analyzer, clip, on_frame=frames.append)
    assert len(s.tracks) == 1
    t = s.tracks[0]
    assert t["first_time"] == pytest.approx(10 / FPS, abs=0.1)
    assert t["last_time"] == pytest.approx(40 / FPS, abs=0.1)
    assert all(not fr["faces"] for fr in frames[:10] + frames[42:])


def test_detect_every_3_still_two_tracks(analyzer: Any, two_faces: Path) -> None:
    frames: list[dict[str, Any]] = []
    s = analyze_video(analyzer, two_faces, detect_every=3, on_frame=frames.append)
    assert s.frames_analyzed == 60 and s.detections == 20
    assert [t["track_id"] for t in s.tracks] == [1, 2]
    # predicted frames still show both faces, with their tracks' answers
    assert sum(len(fr["faces"]) == 2 for fr in frames) >= 55
    assert all("age" in f and "gender" in f for fr in frames for f in fr["faces"])


def test_estimate_every_estimates_less_for_the_same_answers(
    analyzer: Any, two_faces: Path, two_faces_run: Any
) -> None:
    summary, frames, _ = two_faces_run  # the default: estimate_every=DEFAULT_ESTIMATE_EVERY
    every: list[dict[str, Any]] = []
    s1 = analyze_video(analyzer, two_faces, estimate_every=1, on_frame=every.append)
    faces_seen = sum(len(fr["faces"]) for fr in every)
    assert s1.estimates == faces_seen  # every detection estimated
    # each track: on its first frame, then about every K-th frame (a quality gain may add some)
    k = DEFAULT_ESTIMATE_EVERY
    assert 2 * (60 // k) <= summary.estimates <= faces_seen / 3, summary.estimates
    assert [t["track_id"] for t in summary.tracks] == [t["track_id"] for t in s1.tracks]
    for t, t1 in zip(summary.tracks, s1.tracks, strict=True):
        assert t["gender"]["label"] == t1["gender"]["label"]
        assert abs(t["age"]["years"] - t1["age"]["years"]) < 3.0, (t, t1)
        assert t["age"]["frames"] < t1["age"]["frames"]  # evidence: fresh estimates only
    assert summary.flicker_tracked["age_group"] <= s1.flicker_tracked["age_group"]
    with pytest.raises(InputError, match="estimate_every"):
        analyze_video(analyzer, two_faces, estimate_every=0)


def test_no_track_every_and_stop(analyzer: Any, two_faces: Path) -> None:
    frames: list[dict[str, Any]] = []
    s = analyze_video(analyzer, two_faces, track=False, every=3, on_frame=frames.append)
    assert s.tracks == [] and s.flicker_tracked is None and not s.tracked
    assert s.frames_read == 60 and s.frames_analyzed == 20
    assert [fr["frame"] for fr in frames] == list(range(0, 60, 3))
    assert all("track_id" not in f for fr in frames for f in fr["faces"])
    assert sum(len(fr["faces"]) == 2 for fr in frames) >= 18

    seen: list[int] = []
    s = analyze_video(analyzer, two_faces, on_frame=lambda d: seen.append(d["frame"]) or len(seen) < 5)
    assert s.stopped and s.frames_analyzed == 5 and seen == [0, 1, 2, 3, 4]


def test_interrupt_and_opened_source(analyzer: Any, two_faces: Path) -> None:
    def interrupt(d: dict[str, Any]) -> None:
        if d["frame"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        analyze_video(analyzer, two_faces, on_frame=interrupt)
    s = analyze_video(analyzer, two_faces, on_frame=interrupt, stop_on_interrupt=True)
    assert s.stopped and s.frames_analyzed == 4 and len(s.tracks) == 2  # 0..3

    with open_video(two_faces, step=2) as video:
        s = analyze_video(analyzer, video, max_frames=10)
    assert s.frames_analyzed == 10 and s.stopped and s.tracks[0]["last_frame"] == 18


def test_show_without_display_warns_and_goes_on(
    analyzer: Any, two_faces: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with caplog.at_level(logging.WARNING, logger="agegender"):
        s = analyze_video(analyzer, two_faces, show=True, max_frames=3)
    assert s.frames_analyzed == 3
    assert "no display" in caplog.text


def test_bad_arguments(analyzer: Any, two_faces: Path) -> None:
    with pytest.raises(InputError, match="every"):
        analyze_video(analyzer, two_faces, every=0)
    with pytest.raises(InputError, match="detect_every"):
        analyze_video(analyzer, two_faces, detect_every=0)


# --------------------------------------------------------------------------- bad inputs
def _small_clip(path: Path, fourcc: str = "mp4v", n: int = 30) -> Path:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (320, 240))
    rng = np.random.default_rng(0)
    for i in range(n):
        frame = np.full((240, 320, 3), i * 8, np.uint8)
        frame[100:140, 10 * i % 280 : 10 * i % 280 + 40] = rng.integers(0, 255, (40, 40, 3))
        w.write(frame)
    w.release()
    return path


@pytest.mark.parametrize("ext,fourcc", [("mp4", "mp4v"), ("avi", "MJPG")])
def test_truncated_video_ends_early_or_fails_clearly(
    tmp_path: Path, ext: str, fourcc: str
) -> None:
    full = _small_clip(tmp_path / f"full.{ext}", fourcc)
    data = full.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: int(len(data) * 0.3)])
    try:
        v = open_video(cut)
        n = sum(1 for _ in v)
    except VideoError as e:
        assert "truncated" in str(e) and str(cut) in str(e)
    else:
        assert 0 < n < 30
        assert v.ended_early is not None and "truncated" in v.ended_early
        assert f"ended after {n} of the 30 frames" in v.ended_early


def test_a_whole_video_has_not_ended_early(tmp_path: Path) -> None:
    v = open_video(_small_clip(tmp_path / "full.avi", "MJPG"))
    assert sum(1 for _ in v) == 30 and v.ended_early is None


def test_truncated_video_through_analyze_video(
    analyzer: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    full = _small_clip(tmp_path / "full.avi", "MJPG")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.3)])
    with caplog.at_level(logging.WARNING, logger="agegender"):
        s = analyze_video(analyzer, cut)
    assert 0 < s.frames_read < 30 and s.frames_analyzed == s.frames_read and not s.stopped
    assert s.error is not None and "truncated" in s.error and s.to_dict()["error"] == s.error
    assert "truncated" in caplog.text


def test_garbage_missing_and_empty_files(tmp_path: Path) -> None:
    garbage = tmp_path / "x.mp4"
    garbage.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(VideoError, match=r"x\.mp4 cannot be opened as a video"):
        open_video(garbage)
    with pytest.raises(VideoError, match="not found"):
        open_video(tmp_path / "nope.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        open_video(tmp_path / "empty.mp4")
    with pytest.raises(VideoError, match="folder"):
        open_video(tmp_path)


def test_camera_that_does_not_exist() -> None:
    with pytest.raises(VideoError, match=r"no camera 7|camera 7 cannot be opened: is it connected"):
        open_video(7)


@pytest.mark.parametrize("index", [-1, -2, 100, 200, 10**9])
def test_camera_indexes_opencv_cannot_take_are_refused_before_it_sees_them(index: int) -> None:
    # -1 crashed the process inside OpenCV 5 (exit 139); 200 is camera 0 through V4L2
    with pytest.raises(VideoError, match=rf"no camera {index}: camera indexes are 0\.\.99"):
        open_video(index)


def test_video_writer_errors(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "such" / "out.mp4", fps=25)
    with pytest.raises(VideoError, match=r"\.mp4"):
        VideoWriter(tmp_path / "out.gif", fps=25)
    with pytest.raises(VideoError, match="frame rate"):
        VideoWriter(tmp_path / "out.mp4", fps=0)


@pytest.mark.parametrize("ext", [".mp4", ".avi"])
def test_video_writer_names_the_file_only_once_it_is_whole(tmp_path: Path, ext: str) -> None:
    out = tmp_path / f"out{ext}"
    rgb = np.full((120, 160, 3), 90, np.uint8)
    with VideoWriter(out, fps=10) as w:
        for _ in range(12):
            w.write(rgb)
        assert not out.exists() and w.partial.exists()  # written under a hidden name
    assert out.exists() and not w.partial.exists()
    with open_video(str(out)) as v:
        assert v.frame_count == 12


def test_video_writer_refuses_a_file_with_frames_missing(tmp_path: Path) -> None:
    """As after a full disk, where OpenCV's writer says nothing: the file holds fewer
    frames than were written, so it does not take the name asked for; what was written
    stays under its hidden name, which the error gives."""
    out = tmp_path / "out.mp4"
    w = VideoWriter(out, fps=10)
    w.write(np.full((120, 160, 3), 90, np.uint8))
    w.frames_written = 5  # four frames lost on the way
    with pytest.raises(VideoError, match=r"only 1 of its 5 frames were written .*is the disk full") as e:
        w.close()
    assert str(w.partial) in str(e.value)
    assert not out.exists() and w.partial.exists()


# --------------------------------------------------------------------------- reading
def test_open_video_reads_frames_times_and_step(tmp_path: Path) -> None:
    clip = _small_clip(tmp_path / "c.mp4")
    with open_video(str(clip)) as v:
        assert (v.width, v.height, v.frame_count, v.live) == (320, 240, 30, False)
        assert v.fps == pytest.approx(FPS)
        items = list(v)
    assert [i for i, _, _ in items] == list(range(30))
    assert items[15][1] == pytest.approx(0.5)
    assert items[0][2].shape == (240, 320, 3) and items[0][2].dtype == np.uint8
    with open_video(clip, step=4) as v:
        idx = [i for i, _, _ in v]
        assert v.frames_read == 30
    assert idx == list(range(0, 30, 4))
    # stopping early releases the source without waiting for the rest
    v = open_video(clip)
    for i, _, _ in v:
        if i == 2:
            break
    v.close()
    with pytest.raises(VideoError, match="once"):
        list(v)


def test_is_video_by_extension_and_content(tmp_path: Path, photos: Path) -> None:
    for ext in VIDEO_EXTENSIONS:
        assert is_video(f"clip{ext.upper()}")  # need not exist
    assert is_video("rtsp://cam.local/stream")
    assert is_video("https://example.org/a/b.mp4?x=1")
    assert not is_video("https://example.org/page.html")
    mp4 = _small_clip(tmp_path / "a.mp4")
    avi = _small_clip(tmp_path / "a.avi", "MJPG")
    for src, name in ((mp4, "mp4.bin"), (avi, "avi.dat")):
        renamed = tmp_path / name
        renamed.write_bytes(src.read_bytes())
        assert is_video(renamed)
    mkv = tmp_path / "noext"
    mkv.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(60))
    assert is_video(mkv)
    heic = tmp_path / "photo.bin"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(40))
    assert not is_video(heic)
    assert not is_video(photos / "group_t1.jpg")
    assert not is_video(photos / "astronaut.png")
    (tmp_path / "t.txt").write_text("hello")
    assert not is_video(tmp_path / "t.txt")
    assert not is_video(tmp_path / "missing")

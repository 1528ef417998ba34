"""The public API of the README's Python section, called as written there (on the shared
photos and a clip made from them)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import agegender


def test_all_names_are_importable() -> None:
    for name in agegender.__all__:
        assert getattr(agegender, name) is not None, name


def test_readme_calls(photos: Path, tmp_path: Path, use_mirror) -> None:
    photo = photos / "astronaut.png"
    faces = agegender.analyze(str(photo))
    assert len(faces) == 1
    bgr = cv2.imread(str(photo))
    same = agegender.analyze(bgr, channels="BGR")
    assert np.allclose(same.boxes, faces.boxes, atol=1.0)
    face = faces.to_dict()[0]
    assert 0 <= face["age"]["years"] <= 100 and face["gender"]["label"] in ("female", "male")
    assert 0.5 <= face["gender"]["probability"] <= 1.0

    picture = agegender.annotate(str(photo), faces)
    assert isinstance(picture, Image.Image)
    assert isinstance(agegender.annotate(bgr, faces, channels="BGR"), np.ndarray)

    analyzer = agegender.Analyzer(detector="yunet", tta="flip")
    results = list(analyzer.analyze_many([str(photos), str(tmp_path / "missing.jpg")]))
    assert all(isinstance(r, agegender.Result) for r in results)
    assert results[-1].error is not None and all(r.error is None for r in results[:-1])
    assert sum(len(r.faces) for r in results) >= 3

    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (512, 512))
    tile = cv2.resize(bgr, (512, 512))
    for _ in range(6):
        writer.write(tile)
    writer.release()
    summary = agegender.analyze_video(analyzer, str(clip), out=str(tmp_path / "clip.annotated.mp4"))
    assert summary.frames_analyzed == 6 and len(summary.tracks) == 1
    assert (tmp_path / "clip.annotated.mp4").stat().st_size > 0

    assert agegender.list_models("ssrnet-*", task="age") == [
        "ssrnet-age.imdb", "ssrnet-age.wiki", "ssrnet-age.morph2", "ssrnet-age.megaage-asian"]
    record = agegender.get_model("faceres-age")
    assert "non-commercial" in record.license and record.files
    detector = agegender.create_detector("hog-mtcnn")
    assert len(detector.detect(np.asarray(Image.open(photo).convert("RGB")))) == 1
    estimator = agegender.create_estimator("age", "cydral-age:2+ssrnet-age.imdb:1")
    assert [m.name for m in estimator.models] == ["cydral-age", "ssrnet-age.imdb"]
    assert np.allclose(estimator.weights, [2 / 3, 1 / 3])


def test_unknown_public_name_says_so() -> None:
    with pytest.raises(AttributeError, match="no attribute 'analyse'"):
        agegender.analyse  # noqa: B018

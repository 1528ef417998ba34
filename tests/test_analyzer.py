"""The whole pipeline on real faces from ../shared."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import agegender
from agegender import Analyzer
from tests.conftest import utk_sample


@pytest.fixture(scope="module")
def default_analyzer() -> Analyzer:
    return Analyzer()


def test_group_photo_has_six_faces(photos, default_analyzer):
    faces = default_analyzer.analyze(photos / "group_t1.jpg")
    assert len(faces) == 6
    assert faces.age_years is not None and faces.gender_p is not None
    assert np.all((faces.age_low <= faces.age_years) & (faces.age_years <= faces.age_high))


def test_astronaut_is_one_adult_woman(photos, default_analyzer):
    (face,) = default_analyzer.analyze(photos / "astronaut.png").to_dict()
    assert face["gender"]["label"] == "female"
    assert 25 <= face["age"]["years"] <= 55


def test_tom_hanks_is_one_man(photos, default_analyzer):
    (face,) = default_analyzer.analyze(photos / "Tom_Hanks_54745.png").to_dict()
    assert face["gender"]["label"] == "male"


def test_inputs_agree_across_types(photos, default_analyzer):
    path = photos / "astronaut.png"
    rgb = np.asarray(Image.open(path).convert("RGB"))
    a = default_analyzer.analyze(path)
    b = default_analyzer.analyze(path.read_bytes())
    c = default_analyzer.analyze(Image.open(path))
    d = default_analyzer.analyze(np.ascontiguousarray(rgb[..., ::-1]), channels="BGR")
    for other in (b, c, d):
        assert np.allclose(a.boxes, other.boxes) and np.allclose(a.age_years, other.age_years)


def test_module_level_analyze_and_annotate(photos):
    faces = agegender.analyze(photos / "Tom_Hanks_54745.png")
    img = Image.open(photos / "Tom_Hanks_54745.png").convert("RGB")
    before = np.asarray(img).copy()
    out = agegender.annotate(img, faces)
    assert out is not img and out.size == img.size
    assert np.array_equal(np.asarray(img), before)  # input untouched
    assert not np.array_equal(np.asarray(out), before)  # something drawn


def test_blank_image_has_no_faces(default_analyzer):
    faces = default_analyzer.analyze(np.full((240, 320, 3), 128, np.uint8), channels="RGB")
    assert len(faces) == 0 and faces.to_dict() == []


@pytest.mark.parametrize("detector", ["auto", "hog-mtcnn", "mtcnn", "hog", "yunet", "opencv-ssd"])
def test_other_detectors_find_the_group(photos, use_mirror, detector):
    faces = Analyzer(detector=detector, age_model=None, gender_model=None).analyze(
        photos / "group_t1.jpg"
    )
    assert len(faces) == 6


def test_utkface_floor(utkface, default_analyzer):
    """A floor against regressions (not our goal): >= 90% gender, MAE <= 8 on 300 test faces."""
    rows = utk_sample(utkface, 300)
    images = [np.asarray(Image.open(utkface / r["path"]).convert("RGB")) for r in rows]
    found, err, correct = 0, [], []
    for start in range(0, len(images), 50):
        for r, f in zip(rows[start : start + 50], default_analyzer.analyze_arrays(images[start : start + 50])):
            if len(f) == 0:
                continue
            found += 1
            i = int(np.argmax((f.boxes[:, 2] - f.boxes[:, 0]) * (f.boxes[:, 3] - f.boxes[:, 1])))
            err.append(abs(float(f.age_years[i]) - float(r["age"])))
            correct.append((f.gender_p[i] >= 0.5) == (r["gender"] == "male"))
    assert found >= 0.97 * len(rows)
    assert np.mean(correct) >= 0.90, f"gender accuracy {np.mean(correct):.3f}"
    assert np.mean(err) <= 8.0, f"MAE {np.mean(err):.2f}"


def test_annotate_stays_a_function_after_submodules_load():
    import agegender.annotation  # noqa: F401 - the CLI and the server import it
    import agegender.cli.main  # noqa: F401

    assert callable(agegender.annotate) and agegender.annotate.__name__ == "annotate"


def test_detect_size_reaches_the_detector_from_the_api_the_cli_and_the_server(photos):
    from agegender.cli import build_parser
    from agegender.cli._common import model_kwargs
    from agegender.errors import InputError
    from agegender.server.settings import ServerSettings

    an = Analyzer(detector="hog", detect_size=320, age_model=None, gender_model=None)
    assert an.detector.max_side == 320
    faces = an.analyze(str(photos / "astronaut.png"))  # 512 px: detected on a 320 px view
    assert len(faces) == 1 and faces.boxes[0, 2] > 200  # boxes mapped back to full size
    a = build_parser().parse_args(["analyze", "x.jpg", "--detect-size", "480"])
    assert model_kwargs(a)["detect_size"] == 480
    s = ServerSettings.from_env(env={"AGEGENDER_DETECT_SIZE": "800"})
    assert s.analyzer_options()["detect_size"] == 800
    with pytest.raises(InputError, match="detect_size must be at least 64"):
        Analyzer(detector="hog", detect_size=8)

"""Readers on small fixture files written into tmp_path, malformed rows included."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agegender.errors import InputError, SourceNotFoundError
from agegender.eval.readers import (
    LabelProblem,
    parse_age_range,
    read_adience,
    read_csv,
    read_dataset,
    read_fairface,
    read_utkface,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problem_at(problems: list[LabelProblem], line: int) -> LabelProblem:
    hits = [p for p in problems if p.line == line]
    assert hits, f"no problem reported at line {line}: {problems}"
    return hits[0]


# ----------------------------------------------------------------- ranges
@pytest.mark.parametrize(
    ("text", "expected"),
    [("25-32", (25, 32)), ("(25, 32)", (25, 32)), ("0-2", (0, 2)), ("70+", (70, 100)),
     ("more than 70", (70, 100)), (" (60, 100) ", (60, 100))],
)
def test_parse_age_range(text: str, expected: tuple[int, int]) -> None:
    assert parse_age_range(text) == expected


@pytest.mark.parametrize("text", ["abc", "32-25", "25", "(25 32)"])
def test_parse_age_range_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_age_range(text)


# ----------------------------------------------------------------- UTKFace
UTK_CSV = """path,age,gender,race,split
images/20_0_0_a.jpg,20,male,white,train
images/31_1_2_b.jpg,31,female,asian,test
images/x.jpg,abc,male,white,test
images/y.jpg,40,robot,white,test
images/z.jpg,50,male
images/61_1_c.jpg,61,,,test
"""


def test_utkface_labels_csv_split_and_problems(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "labels.csv", UTK_CSV)
    with caplog.at_level(logging.WARNING, logger="agegender.eval.readers"):
        ds = read_utkface(tmp_path, split="test")
    assert ds.format == "utkface"
    assert [s.age for s in ds.samples] == [31.0, 61.0]
    first, unknown = ds.samples
    assert first.path == tmp_path / "images/31_1_2_b.jpg"
    assert (first.gender, first.group, first.line) == ("female", "asian", 3)
    assert unknown.gender is None and unknown.group is None
    # malformed rows: bad age (line 4), bad gender (line 5), too few fields (line 6)
    labels = tmp_path / "labels.csv"
    assert {p.line for p in ds.problems} == {4, 5, 6}
    assert all(p.file == labels for p in ds.problems)
    assert "age 'abc'" in problem_at(ds.problems, 4).message
    assert "gender" in problem_at(ds.problems, 5).message
    assert str(problem_at(ds.problems, 4)).startswith(f"{labels}:4:")
    assert "labels.csv:4" in caplog.text
    assert len(read_utkface(tmp_path).samples) == 3  # split=None: all good rows


def test_utkface_unknown_split_and_missing_folder(tmp_path: Path) -> None:
    write(tmp_path / "labels.csv", UTK_CSV)
    with pytest.raises(InputError, match="splits there are"):
        read_utkface(tmp_path, split="validation")
    with pytest.raises(SourceNotFoundError):
        read_utkface(tmp_path / "nope")


def test_utkface_file_names(tmp_path: Path) -> None:
    for name in ["a/25_0_1_2017.jpg.chip.jpg", "b/3_1_4_2017.jpg", "61_1_2017.jpg.chip.jpg",
                 "xx_0_0_2017.jpg", "9_2_0_2017.jpg"]:
        write(tmp_path / name, "")
    write(tmp_path / "notes.txt", "not an image")
    ds = read_utkface(tmp_path)
    by_age = {s.age: s for s in ds.samples}
    assert set(by_age) == {25.0, 3.0}
    assert (by_age[25.0].gender, by_age[25.0].group) == ("male", "black")
    assert (by_age[3.0].gender, by_age[3.0].group) == ("female", "other")
    assert by_age[3.0].path == tmp_path / "b/3_1_4_2017.jpg"
    bad = {p.file.name: p.message for p in ds.problems}
    assert set(bad) == {"61_1_2017.jpg.chip.jpg", "xx_0_0_2017.jpg", "9_2_0_2017.jpg"}
    assert "gender code '2'" in bad["9_2_0_2017.jpg"]
    with pytest.raises(InputError, match="no labels.csv"):
        read_utkface(tmp_path, split="test")


def test_utkface_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="no images"):
        read_utkface(tmp_path)


def test_real_utkface_test_split(utkface: Path) -> None:
    ds = read_utkface(utkface, split="test")
    assert len(ds) == 1884 and not ds.problems
    assert all(s.age is not None for s in ds)


# ----------------------------------------------------------------- Adience
ADIENCE_HEADER = ("user_id\toriginal_image\tface_id\tage\tgender\tx\ty\tdx\tdy\ttilt_ang\t"
                  "fiducial_yaw_angle\tfiducial_score\n")


def test_adience_folds_labels_and_paths(tmp_path: Path) -> None:
    write(tmp_path / "fold_0_data.txt", ADIENCE_HEADER
          + "u1\ta.jpg\t1\t(25, 32)\tf\t0\t0\t10\t10\t0\t0\t50\n"
          + "u1\tb.jpg\t2\t35\tm\t0\t0\t10\t10\t0\t0\t50\n"
          + "u2\tc.jpg\t3\tNone\tu\t0\t0\t10\t10\t0\t0\t50\n"
          + "u2\td.jpg\t4\n"
          + "u2\te.jpg\t5\t(32, 25)\tm\t0\t0\t10\t10\t0\t0\t50\n"
          + "\n"
          + "u3\tf.jpg\t6\t(60, 100)\tx\t0\t0\t10\t10\t0\t0\t50\n")
    write(tmp_path / "fold_1_data.txt", ADIENCE_HEADER
          + "u9\tg.jpg\t7\t(0, 2)\tf\t0\t0\t10\t10\t0\t0\t50\n")
    write(tmp_path / "faces/u1/coarse_tilt_aligned_face.2.b.jpg", "")
    write(tmp_path / "aligned/u9/landmark_aligned_face.7.g.jpg", "")

    ds = read_adience(tmp_path)
    assert ds.format == "adience"
    a, b, c, g = ds.samples
    assert (a.age_range, a.age, a.gender, a.subject, a.fold, a.line) == ((25, 32), None,
                                                                         "female", "u1", 0, 2)
    assert (b.age, b.age_range, b.gender) == (35.0, None, "male")
    assert (c.age, c.age_range, c.gender) == (None, None, None)
    assert (g.fold, g.age_range) == (1, (0, 2))
    # image paths: aligned/ by default, faces/ when only that exists
    assert a.path == tmp_path / "aligned/u1/landmark_aligned_face.1.a.jpg"
    assert b.path == tmp_path / "faces/u1/coarse_tilt_aligned_face.2.b.jpg"
    assert g.path == tmp_path / "aligned/u9/landmark_aligned_face.7.g.jpg"
    # too few fields (line 5), reversed range (line 6), bad gender (line 8)
    fold0 = tmp_path / "fold_0_data.txt"
    assert [(p.file, p.line) for p in ds.problems] == [(fold0, 5), (fold0, 6), (fold0, 8)]
    assert "gender 'x'" in ds.problems[2].message

    only1 = read_adience(tmp_path, folds=1)
    assert [s.fold for s in only1] == [1]
    assert len(read_adience(tmp_path, folds="0,1")) == 4
    with pytest.raises(InputError, match="available folds"):
        read_adience(tmp_path, folds=[3])
    with pytest.raises(InputError, match="not a fold number"):
        read_adience(tmp_path, folds="first")


def test_adience_without_fold_files(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="fold_N_data.txt"):
        read_adience(tmp_path)


# ----------------------------------------------------------------- FairFace
FAIRFACE_CSV = """file,age,gender,race,service_test
val/1.jpg,3-9,Male,East Asian,False
val/2.jpg,more than 70,Female,White,True
val/3.jpg,70+,Female,Black,False
val/4.jpg,old,Male,White,False
val/5.jpg,0-2,Robot,White,False
val/6.jpg,20-29,Female,Indian,False
"""


def test_fairface(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "fairface_label_val.csv", FAIRFACE_CSV)
    ds = read_fairface(csv_path)
    assert [s.age_range for s in ds] == [(3, 9), (70, 100), (70, 100), (20, 29)]
    assert [s.gender for s in ds] == ["male", "female", "female", "female"]
    assert [s.group for s in ds] == ["East Asian", "White", "Black", "Indian"]
    assert all(s.age is None for s in ds)
    assert ds.samples[0].path == tmp_path / "val/1.jpg"
    assert [(p.file, p.line) for p in ds.problems] == [(csv_path, 5), (csv_path, 6)]
    images = tmp_path / "imgs"
    images.mkdir()
    assert read_fairface(csv_path, root=images).samples[0].path == images / "val/1.jpg"
    with pytest.raises(SourceNotFoundError):
        read_fairface(tmp_path / "missing.csv")


# ----------------------------------------------------------------- generic CSV
GENERIC_CSV = """Path,age,age_group,gender,group
a.jpg,23.5,,F,x
sub/b.jpg,,25-32,male,
c.jpg,,(60, 100),,y
d.jpg,200,,m,x
e.jpg,30,,m,x,extra
,30,,m,x
f.jpg,40,45-40,m,x
"""


def test_generic_csv(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "labels" / "mine.csv", GENERIC_CSV.replace("(60, 100)",
                                                                           '"(60, 100)"'))
    ds = read_csv(csv_path)
    a, b, c = ds.samples
    assert (a.age, a.age_range, a.gender, a.group) == (23.5, None, "female", "x")
    assert (b.age, b.age_range, b.gender, b.group) == (None, (25, 32), "male", None)
    assert (c.age_range, c.gender, c.group) == ((60, 100), None, "y")
    assert a.path == tmp_path / "labels" / "a.jpg"  # relative to the CSV's folder
    assert b.path == tmp_path / "labels" / "sub/b.jpg"
    # age out of range (5), extra field (6), empty path (7), reversed range (8)
    assert [p.line for p in ds.problems] == [5, 6, 7, 8]
    assert all(p.file == csv_path for p in ds.problems)
    assert "outside" in ds.problems[0].message and "fields" in ds.problems[1].message
    assert read_csv(csv_path, root=tmp_path).samples[0].path == tmp_path / "a.jpg"


def test_generic_csv_needs_path_column(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "x.csv", "age,gender\n3,m\n")
    with pytest.raises(InputError, match="missing column"):
        read_csv(csv_path)
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(InputError, match="empty"):
        read_csv(empty)


def test_generic_csv_split_and_fold(tmp_path: Path) -> None:
    csv_path = write(tmp_path / "x.csv", "path,age,split,fold\na.jpg,3,test,1\nb.jpg,4,train,x\n")
    ds = read_csv(csv_path, split="test")
    assert [(s.age, s.fold) for s in ds] == [(3.0, 1)]
    assert read_csv(csv_path).problems[0].line == 3


# ----------------------------------------------------------------- dispatch
def test_read_dataset_auto_detects(tmp_path: Path) -> None:
    utk = tmp_path / "utk"
    write(utk / "labels.csv", UTK_CSV)
    adience = tmp_path / "adience"
    write(adience / "fold_2_data.txt", ADIENCE_HEADER + "u\ta.jpg\t1\t(0, 2)\tm\n")
    names = tmp_path / "names"
    write(names / "4_0_1_2017.jpg", "")
    fair = write(tmp_path / "ff.csv", FAIRFACE_CSV)
    generic = write(tmp_path / "g.csv", "path,age\na.jpg,3\n")

    assert read_dataset(utk).format == "utkface"
    assert len(read_dataset(utk, split="test")) == 2
    assert len(read_dataset(utk / "labels.csv", split="train")) == 1
    assert read_dataset(adience).format == "adience"
    assert [s.fold for s in read_dataset(adience, split="2")] == [2]
    assert [s.fold for s in read_dataset(adience / "fold_2_data.txt")] == [2]
    assert read_dataset(names).format == "utkface"
    assert read_dataset(fair).format == "fairface"
    assert read_dataset(generic).format == "csv"
    assert read_dataset(fair, format="csv").format == "csv"  # 'file' is a path alias


def test_read_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="does not exist"):
        read_dataset(tmp_path / "missing")
    with pytest.raises(InputError, match="unknown data set format"):
        read_dataset(tmp_path, format="imdb")
    with pytest.raises(InputError, match="cannot tell the format"):
        read_dataset(tmp_path)  # an empty folder
    fair = write(tmp_path / "ff.csv", FAIRFACE_CSV)
    with pytest.raises(InputError, match="one CSV per split"):
        read_dataset(fair, split="val")
    odd = write(tmp_path / "odd.csv", "name,age\nx,3\n")
    with pytest.raises(InputError, match="cannot tell the format"):
        read_dataset(odd)

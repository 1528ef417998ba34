"""FairFace in eval: both layouts read, and the nine-bin figures (exact, one-off, per bin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agegender.errors import InputError
from agegender.eval.bins import FAIRFACE_BINS, bin_index, bins_section, match_bins
from agegender.eval.readers import read_dataset
from agegender.eval.report import build_report

OFFICIAL = {
    "train": "file,age,gender,race,service_test\ntrain/1.jpg,3-9,Male,White,False\n"
             "train/2.jpg,more than 70,Female,Black,True\n",
    "val": "file,age,gender,race,service_test\nval/1.jpg,20-29,Female,Indian,False\n",
}
OURS = ("path,age,gender,split,age_group_fairface,race,fairface_split\n"
        "images/train/1.jpg,,female,train,20-29,Black,train\n"
        "images/test/7.jpg,,male,test,0-2,East Asian,val\n"
        "images/test/8.jpg,,female,test,70+,White,val\n")


def test_official_layout_reads_each_split(tmp_path: Path) -> None:
    for split, text in OFFICIAL.items():
        (tmp_path / f"fairface_label_{split}.csv").write_text(text)
    ds = read_dataset(tmp_path, split="val")
    assert ds.format == "fairface"
    assert [(s.path, s.age_range, s.gender) for s in ds] == [
        (tmp_path / "val/1.jpg", (20, 29), "female")]
    assert [s.age_range for s in read_dataset(tmp_path)] == [(3, 9), (70, 100), (20, 29)]
    with pytest.raises(InputError, match="fairface_label_test.csv"):
        read_dataset(tmp_path, split="test")


def test_our_layout_reads_the_bins(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(OURS)
    ds = read_dataset(tmp_path, split="test")
    assert [(s.age, s.age_range, s.gender, s.group) for s in ds] == [
        (None, (0, 2), "male", "east asian"), (None, (70, 100), "female", "white")]


def test_bin_index_rounds_the_age_into_its_bin() -> None:
    years = np.array([0.0, 2.49, 2.5, 9.4, 19.6, 69.4, 95.0, np.nan])
    assert bin_index(years, FAIRFACE_BINS).tolist() == [0, 0, 1, 1, 3, 7, 8, -1]


def test_bins_section_exact_one_off_and_per_bin() -> None:
    ranges = np.array([[0, 2], [3, 9], [3, 9], [20, 29], [70, 100], [np.nan, np.nan]], float)
    years = np.array([1.0, 15.0, 40.0, 25.0, 66.0, 30.0])
    p_male = np.array([0.9, 0.2, 0.8, 0.3, 0.6, 0.5])
    male = np.array([1.0, 1.0, 0.0, 0.0, 1.0, np.nan])
    assert match_bins(ranges) == FAIRFACE_BINS
    s = bins_section(years, ranges, p_male, male, FAIRFACE_BINS)
    # true bins 0,1,1,3,8; predicted 0,2,4,3,7: exact 2/5, one-off 4/5
    assert s["n"] == 5
    assert s["exact"] == pytest.approx(0.4)
    assert s["one_off"] == pytest.approx(0.8)
    rows = {r["bin"]: r for r in s["per_bin"]}
    assert rows["3-9"]["n"] == 2 and rows["3-9"]["exact"] == 0.0 and rows["3-9"]["one_off"] == 0.5
    assert rows["3-9"]["gender_accuracy"] == 0.0  # p 0.2 for a boy, 0.8 for a girl
    assert rows["70+"]["one_off"] == 1.0
    assert np.asarray(s["confusion_matrix"])[1, 2] == 1


def test_other_ranges_are_not_fairface_bins() -> None:
    assert match_bins(np.array([[25, 32], [0, 2]], float)) is None


def test_report_has_the_bin_section(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(OURS)
    ds = read_dataset(tmp_path, split="test")
    preds = [{"found": True, "age_years": 1.2, "p_male": 0.7},
             {"found": True, "age_years": 61.0, "p_male": 0.4}]
    rep = build_report(preds, ds.samples, meta={})
    assert rep["age_bins"]["exact"] == 0.5 and rep["age_bins"]["one_off"] == 1.0
    assert rep["gender"]["accuracy"] == 1.0
    assert {g["name"] for g in rep["breakdown"]["group"]["groups"]} == {"east asian", "white"}

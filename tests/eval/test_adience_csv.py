"""Adience as a labels.csv beside its images (the layout of ../shared/data/adience)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agegender.cli import main
from agegender.errors import InputError, SourceNotFoundError
from agegender.eval.readers import read_adience, read_dataset
from tests.conftest import _need

HEADER = "path,age_group,gender,user_id,face_id,fold,age_raw\n"


def _write(root: Path, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "labels.csv").write_text(HEADER + body)
    return root


def test_labels_csv_rows_off_protocol_and_unlabeled(tmp_path: Path) -> None:
    root = _write(tmp_path / "adience", (
        'images/u1/a.jpg,25-32,female,u1,1,0,"(25, 32)"\n'
        "images/u1/b.jpg,,,u1,92,0,None\n"                    # no label at all: left out
        'images/u2/c.jpg,38-48,male,u2,3,0,"(38, 48)"\n'       # not an Adience group: no age
        'images/u3/d.jpg,0-2,male,u3,4,1,"(0, 2)"\n'
        'images/u3/e.jpg,0-2,boy,u3,4,0,"(0, 2)"\n'            # bad gender: a label problem
    ))
    ds = read_adience(root)
    assert ds.format == "adience"
    assert [s.path.name for s in ds.samples] == ["a.jpg", "c.jpg", "d.jpg"]
    a, c, d = ds.samples
    assert (a.age_range, a.gender, a.subject, a.fold) == ((25, 32), "female", "u1", 0)
    assert (c.age_range, c.gender) == (None, "male")
    assert a.path == root / "images/u1/a.jpg"
    assert len(ds.problems) == 1 and "boy" in ds.problems[0].message
    assert [s.path.name for s in read_adience(root, folds=1).samples] == ["d.jpg"]
    with pytest.raises(InputError, match="no rows for fold"):
        read_adience(root, folds=4)
    # --format auto tells it from a UTKFace labels.csv by its columns
    assert read_dataset(root).format == "adience"
    assert [s.fold for s in read_dataset(root, split="0")] == [0, 0]


def test_folder_with_neither_fold_files_nor_adience_csv(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("path,age,gender\nx.jpg,3,male\n")
    with pytest.raises(SourceNotFoundError, match="no labels.csv with the columns"):
        read_adience(tmp_path)


def test_eval_on_the_staged_fold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    adience = _need("data/adience")
    rc = main(["eval", str(adience), "--format", "adience", "--crops", "--limit", "24",
               "--report", str(tmp_path / "r")])
    assert rc == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["meta"]["format"] == "adience"
    assert report["adience"]["n"] == 24 and report["gender"]["n"] == 24
    assert report["adience"]["n_from_ranges"] == 24
    assert 0.0 <= report["adience"]["exact"] <= report["adience"]["one_off"] <= 1.0
    assert "Adience 8-group exact" in capsys.readouterr().out

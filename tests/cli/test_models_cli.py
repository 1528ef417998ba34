"""``agegender models list|show|verify`` as a user reads them (issue 23's small things)."""

from __future__ import annotations

import json

import pytest

from agegender.cli import main
from agegender.cli.models import fit_table


@pytest.mark.parametrize("columns", [80, 100, 160])
def test_list_fits_the_terminal_and_lists_detectors(capsys, monkeypatch, no_mirror, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= columns  # rows were 402 wide
    models, detectors = out.split("\nDETECTOR ")
    det_names = [ln.split()[0] for ln in detectors.splitlines()[1:] if ln[:1] not in (" ", "")]
    assert {"auto", "hog-mtcnn", "yunet", "mtcnn", "hog", "haar"} <= set(det_names)


def test_profile_column_uses_the_profiles_real_names(capsys, no_mirror):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    models = out.split("\nDETECTOR ")[0]
    rows = {ln.split()[0]: ln.split() for ln in models.splitlines()[1:]}
    assert rows["faceres"][3] == "accurate*"  # was 'default', which --profile refuses
    assert rows["cydral-age"][3] == "permissive*" and rows["hog"][3] == "permissive"
    assert " default " not in models
    from agegender.models.profiles import PROFILES

    marks = {m.rstrip("*") for r in rows.values() for m in r[3].split(",") if m != "-"}
    assert marks <= set(PROFILES)


def test_json_and_show_keep_the_full_text(capsys, no_mirror, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["models", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    haar = next(m for m in data["models"] if m["name"] == "haar")
    assert len(haar["license"]) > 80 and haar["files"]
    assert {d["name"] for d in data["detectors"]} >= {"auto", "hog-mtcnn"}
    assert main(["models", "show", "haar"]) == 0
    shown = capsys.readouterr().out
    assert f"license: {haar['license']}\n" in shown
    assert main(["models", "show", "faceres-age", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "faceres"
    assert main(["models", "show", "auto"]) == 0
    assert "the first present of yunet" in capsys.readouterr().out


def test_show_unknown_name_is_a_usage_error(capsys):
    assert main(["models", "show", "no-such-model"]) == 2
    assert "no model or detector named 'no-such-model'" in capsys.readouterr().err


def test_fit_table_cuts_the_widest_shrinkable_column_with_an_ellipsis():
    rows = [("A", "LONG", "SRC"), ("x", "y" * 50, "z" * 30)]
    lines = fit_table(rows, 40, (1, 2))
    assert all(len(ln) <= 40 for ln in lines)
    assert lines[1].split()[1].endswith("\u2026") and lines[1].split()[2].endswith("\u2026")
    assert fit_table(rows, 200, (1, 2))[1].split()[1] == "y" * 50  # room: nothing cut


def test_verify_tells_levi_hassner_users_how_to_add_their_weights(capsys, no_mirror):
    main(["models", "verify"])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("levi-hassner")]
    assert len(lines) == 2
    for ln in lines:
        assert "agegender models add levi-hassner --caffemodel PATH --task" in ln
        assert "models pull" not in ln  # their weights cannot be pulled

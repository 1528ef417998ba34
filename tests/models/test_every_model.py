"""Every registered model, one test each: its record, card, license, availability and
listing answer the same thing (parametrized over the registry, so a new record is checked
the day it is added)."""

from __future__ import annotations

import re

import pytest

from agegender import get_model, list_models
from agegender.errors import ModelUnavailableError
from agegender.models import records
from agegender.models.card import Card
from agegender.models.profiles import PERMISSIVE_MODELS, PROFILES

BUILT_IN = sorted(r.name for r in records() if r.origin == "built-in")
#: family-task[.weights]; detectors and landmark models are named by family alone
SCHEME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*-(age|gender)(\.[a-z0-9-]+)?$")
#: a network with several outputs is named by family[.weights]; names of its outputs resolve
MULTI = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9-]+)?$")


def test_the_registry_is_not_empty():
    assert len(BUILT_IN) >= 20
    assert {"faceres", "faceres.deep", "cydral-age", "cydral-gender", "yunet"} <= set(BUILT_IN)


@pytest.mark.parametrize("name", BUILT_IN)
def test_record_card_license_and_availability_agree(name: str, use_mirror) -> None:
    rec = get_model(name)
    assert rec.name == name
    assert rec.task in ("detect", "age", "gender", "landmarks", "multi")
    if rec.task == "multi":
        assert MULTI.match(name) and len(rec.tasks) > 1, name
        for task in rec.tasks:  # one valid card per output, one input and crop
            assert Card.parse(rec.card, task=task, where=name).size == Card.parse(
                rec.card, task=rec.tasks[0], where=name).size
    elif rec.task in ("age", "gender"):
        assert SCHEME.match(name), f"{name}: not family-task[.weights]"
        card = Card.parse(rec.card, task=rec.task, where=name)  # the card is valid for its task
        assert card.size[0] > 0 and card.size[1] > 0
    # the license says what it allows; the permissive profile only lists open models
    assert rec.license.strip() and rec.description.strip()
    if name in PERMISSIVE_MODELS:
        assert "non-commercial" not in rec.license.lower(), rec.license
    for prof in PROFILES.values():
        if name in (get_model(prof.age_model).name, get_model(prof.gender_model).name):
            assert ("non-commercial" in rec.license.lower()) == (not prof.commercial_use)
    # every file is pinned (sha256) or ships in a package
    for f in rec.files:
        assert f.package or (f.url and re.fullmatch(r"[0-9a-f]{64}", f.sha256 or "")), f
    # availability: the listing, available() and finding the files without the network agree
    listed = name in list_models(task=rec.task, available=True)
    try:
        rec.paths(fetch=False, convert=False)
        here = True
    except ModelUnavailableError:
        here = False
    assert rec.available() == here == listed
    assert (name in list_models(available=False)) == (not here)


@pytest.mark.parametrize(("old", "new"), [
    ("ssrnet-age-imdb", "ssrnet-age.imdb"),
    ("ssrnet-gender-morph", "ssrnet-gender.morph"),
    ("faceres-deep-age", "faceres.deep"),
])
def test_old_names_still_resolve_with_a_warning(old: str, new: str, caplog) -> None:
    from agegender.models import zoo

    zoo._warned.discard(old)
    with caplog.at_level("WARNING"):
        assert get_model(old).name == new
    assert f"{old!r} is deprecated" in caplog.text and repr(new) in caplog.text
    assert old not in list_models()  # listed under the new name only


def test_list_models_by_pattern_and_task() -> None:
    assert list_models("cydral-*") == ["cydral-age", "cydral-gender"]
    assert set(list_models("ssrnet-*", task="gender")) == {
        "ssrnet-gender.imdb", "ssrnet-gender.wiki", "ssrnet-gender.morph"}
    assert list_models("no-such-*") == []

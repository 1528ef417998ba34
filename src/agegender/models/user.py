"""Models added by the user (``agegender models add``): cards kept under AGEGENDER_HOME."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from . import store
from .card import record_from_card
from .record import Register

log = logging.getLogger(__name__)


def cards_dir() -> Path:
    return store.cache_dir().parent / "cards"


def load_user_cards(register: Register) -> None:
    """Register every card saved by ``agegender models add``; a broken card is skipped, logged."""
    d = cards_dir()
    if not d.is_dir():
        return
    for f in sorted(d.glob("*.json")):
        try:
            register(record_from_card(json.loads(f.read_text()), origin=str(f)), replace=True)
        except Exception as e:  # noqa: BLE001 - one bad card must not hide the others
            log.warning("skipping model card %s: %s", f, e)

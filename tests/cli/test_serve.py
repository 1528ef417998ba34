"""``agegender serve``: options given override the AGEGENDER_* variables, options not given
leave them in force, and ``--age-model none`` skips the task (as in ``analyze``)."""

from __future__ import annotations

from typing import Any

import pytest

import agegender.server
from agegender.cli import main
from agegender.server.settings import ServerSettings


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    got: dict[str, Any] = {}

    def fake_serve(host: str, port: int, **kw: Any) -> None:
        got.update(kw, host=host, port=port)

    monkeypatch.setattr(agegender.server, "serve", fake_serve)
    return got


def _settings(got: dict[str, Any], env: dict[str, str]) -> ServerSettings:
    kw = {k: v for k, v in got.items()
          if k not in ("host", "port", "log_level", "ssl_certfile", "ssl_keyfile")}
    return ServerSettings.from_env(env=env, **kw)


def test_options_not_given_leave_the_environment_in_force(captured: dict[str, Any]) -> None:
    assert main(["serve", "--port", "8123", "--log-level", "warning"]) == 0
    assert captured["port"] == 8123 and captured["log_level"] == "warning"
    s = _settings(captured, {"AGEGENDER_DETECTOR": "hog", "AGEGENDER_TTA": "flip"})
    assert (s.detector, s.tta) == ("hog", "flip")


def test_options_given_win_and_none_skips_the_task(captured: dict[str, Any]) -> None:
    assert main(["serve", "--detector", "mtcnn", "--age-model", "none"]) == 0
    s = _settings(captured, {"AGEGENDER_DETECTOR": "hog"})
    assert s.detector == "mtcnn"
    opts = s.analyzer_options()
    assert opts["age_model"] is None and opts["gender_model"] == "default"

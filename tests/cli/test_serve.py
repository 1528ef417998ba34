"""``agegender serve``: options given override the AGEGENDER_* variables, options not given
leave them in force, and ``--age-model none`` skips the task (as in ``analyze``); every
server limit has its flag, checked as its variable is."""

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


def test_every_server_limit_has_a_flag_over_its_variable(captured: dict[str, Any]) -> None:
    from agegender.server.settings import SERVER_OPTIONS

    argv = [
        "serve", "--max-upload-bytes", "5000000", "--request-timeout", "12.5",
        "--stream-idle-timeout", "30", "--cors-origins", "https://a.example,https://b.example",
        "--trust-proxy",
    ]  # fmt: skip
    assert main(argv) == 0
    env = {"AGEGENDER_MAX_UPLOAD_BYTES": "1000", "AGEGENDER_MAX_PENDING": "7"}
    s = _settings(captured, env)
    assert s.max_upload_bytes == 5_000_000 and s.request_timeout == 12.5  # the flags win
    assert s.stream_idle_timeout == 30.0 and s.trust_proxy is True
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.max_pending == 7  # not given: the variable stays in force
    flagged = {k for k in captured if k in {o.name for o in SERVER_OPTIONS}}
    assert flagged == {o.name for o in SERVER_OPTIONS if o.env}  # api_key: --api-key


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--max-pending", "0", "more than 0"),
        ("--request-timeout", "soon", "a number"),
        ("--stream-idle-timeout", "0", "more than 0"),
    ],
)
def test_a_bad_limit_is_a_usage_error(
    captured: dict[str, Any], capsys: pytest.CaptureFixture[str], flag: str, value: str, words: str
) -> None:
    with pytest.raises(SystemExit) as e:
        main(["serve", flag, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and words in err, err

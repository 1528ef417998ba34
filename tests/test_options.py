"""The one options schema (agegender.options): an option added there alone reaches the
command line (parser, checks, help), the server's settings (field, variable, checks) and
the options -> Analyzer mapping, with no other edit."""

from __future__ import annotations

import pytest

from agegender import options
from agegender.cli import build_parser
from agegender.cli._common import model_kwargs
from agegender.errors import InputError
from agegender.options import Option, check_values, get_option
from agegender.server import settings

TOY = Option("toy_level", int, 3, minimum=1, maximum=9, metavar="L",
             help="how playful the toy is")


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Option:
    monkeypatch.setattr(options, "ANALYZER_OPTIONS", [*options.ANALYZER_OPTIONS, TOY])
    return TOY


def test_a_toy_option_reaches_the_cli_parser_and_its_help(toy: Option, capsys) -> None:
    p = build_parser()
    a = p.parse_args(["analyze", "x.jpg", "--toy-level", "5"])
    assert a.toy_level == 5 and model_kwargs(a)["toy_level"] == 5
    assert model_kwargs(p.parse_args(["analyze", "x.jpg"]))["toy_level"] == 3
    with pytest.raises(SystemExit) as e:
        p.parse_args(["analyze", "x.jpg", "--toy-level", "12"])
    assert e.value.code == 2
    assert "--toy-level: must be within 1..9, got 12" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        p.parse_args(["analyze", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--toy-level L how playful the toy is (default: 3)" in out
    # serve: an option not given stays None, so the variable keeps its say
    assert p.parse_args(["serve"]).toy_level is None
    assert p.parse_args(["serve", "--toy-level", "4"]).toy_level == 4


def test_a_toy_option_reaches_the_server_settings_and_environment(toy: Option) -> None:
    cls = settings.build_settings_class()
    assert cls().toy_level == 3  # type: ignore[attr-defined]
    s = cls.from_env({"AGEGENDER_TOY_LEVEL": "7"})
    assert s.toy_level == 7 and s.analyzer_options()["toy_level"] == 7  # type: ignore[attr-defined]
    assert cls.from_env({"AGEGENDER_TOY_LEVEL": "7"}, toy_level=2).toy_level == 2  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="AGEGENDER_TOY_LEVEL='lots': expected a whole number"):
        cls.from_env({"AGEGENDER_TOY_LEVEL": "lots"})
    with pytest.raises(InputError, match="server setting toy_level must be within 1..9, got 0"):
        cls.from_env({"AGEGENDER_TOY_LEVEL": "0"})
    assert not hasattr(settings.ServerSettings(), "toy_level")  # built before the toy


def test_a_toy_option_is_checked_for_the_analyzer(toy: Option) -> None:
    assert check_values({"toy_level": "4", "other": object})["toy_level"] == 4
    with pytest.raises(InputError, match="toy_level must be within 1..9, got 10"):
        check_values({"toy_level": 10})


def test_the_schema_agrees_with_the_layers_above() -> None:
    from agegender.models.profiles import DEFAULT, PROFILES

    assert options.DEFAULT_MODEL == DEFAULT
    assert set(get_option("profile").choices) == set(PROFILES)
    for o in options.ANALYZER_OPTIONS:
        assert o.help and (o.default is not None or o.default_text), o.name


def test_variables_and_defaults_kept() -> None:
    s = settings.ServerSettings()
    env = {o.name: o.env_var for o in settings.settings_options().values()}
    assert env["detect_size"] == "AGEGENDER_DETECT_SIZE" and env["preload"] is None
    assert env["max_inflight_pixels"] == "AGEGENDER_MAX_INFLIGHT_PIXELS"
    assert (s.max_pixels, s.gender_min_confidence, s.max_inflight_pixels) == (
        40_000_000, 0.5, 80_000_000)
    assert (s.detector, s.age_model, s.tta, s.detect_size) == ("auto", "default", "none", None)
    assert settings.ServerSettings.from_env({"AGEGENDER_TRUST_PROXY": "yes"}).trust_proxy is True


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [("threshold", "0.25", 0.25), ("min_face", "2e1", 20), ("mask_background", "off", False),
     ("tta", "FLIP", "FLIP"), ("detect_size", 640.0, 640), ("detector", object, object)],
)
def test_parse_converts(name: str, value: object, expected: object) -> None:
    assert get_option(name).parse(value) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("threshold", "high", "expected a number within 0..1, got 'high'"),
     ("min_face", "-3", "must be 0 or more, got -3"),
     ("min_face", "2.5", "expected a whole number 0 or more"),
     ("max_pixels", "0", "must be more than 0 (a positive number of pixels), got 0"),
     ("detect_size", "8", "must be at least 64 pixels, got 8"),
     ("tta", "twice", "must be one of none, flip, oversample, got 'twice'"),
     ("mask_background", "maybe", "expected true or false"),
     ("threshold", True, "expected a number")],
)
def test_parse_refuses_with_what_is_allowed(name: str, value: object, message: str) -> None:
    with pytest.raises(ValueError) as e:
        get_option(name).parse(value)
    assert message in str(e.value)


def test_unknown_option_names_the_known_ones() -> None:
    with pytest.raises(InputError, match="unknown option 'colour'; known: detector"):
        get_option("colour")


def test_the_analyzer_signature_and_docstring_follow_the_schema() -> None:
    """The Analyzer lists its keywords by hand (for type checkers and help()): each is an
    option of the schema (or ``max_inflight_pixels``, the CLI's and server's budget) with the
    schema's default, and each is described in its docstring's Args."""
    import inspect

    from agegender import Analyzer

    params = inspect.signature(Analyzer.__init__).parameters
    keywords = {n: p for n, p in params.items() if n != "self"}
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in keywords.values())
    assert set(keywords) == set(options.option_names()) | {"max_inflight_pixels"}
    for o in options.ANALYZER_OPTIONS:
        assert keywords[o.name].default == o.default, (o.name, keywords[o.name].default)
    doc = inspect.getdoc(Analyzer) or ""
    args = doc.split("Args:", 1)[1]
    for name in keywords:
        assert f"\n    {name}:" in args or f", {name}:" in args or f"\n    {name}," in args, name

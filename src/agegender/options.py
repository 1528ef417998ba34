"""The one schema of the Analyzer's options: each declared once, here.

Each :class:`Option` states a keyword's name, type, default, range or choices, help text
and environment variable. From :data:`ANALYZER_OPTIONS` are built:

* the :class:`~agegender.Analyzer`'s checks (:func:`check_values`) and
  :func:`~agegender.analyzer.analyzer_options`, the one options -> keywords mapping;
* the command line's model options and their ``--help`` (``cli/_common.add_model_options``);
* the server's settings fields, their ``AGEGENDER_*`` variables and how each is parsed
  (``server/settings.py``, which adds its own options with the same class).

Adding an Analyzer option is one entry below plus its use (the Analyzer keyword). This
module sits in the lowest layer: it imports only :mod:`agegender.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import InputError

#: The model name that asks for the profile's model (``agegender.models.profiles.DEFAULT``).
DEFAULT_MODEL = "default"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_KINDS: dict[type, str] = {int: "int", float: "float", str: "str", bool: "bool",
                           tuple: "tuple[str, ...]"}


@dataclass(frozen=True)
class Option:
    """One option: what it is, what it may hold, and how each surface shows it.

    ``kind`` is ``int``, ``float``, ``str``, ``bool`` or ``tuple`` (of strings, given as a
    comma-separated list). ``None`` is always allowed and means "not given" (the default
    the Analyzer or detector takes, stated by ``default_text``). ``minimum`` and ``maximum``
    are inclusive, ``above`` exclusive; ``choices`` are compared case-insensitively.
    """

    name: str
    kind: type
    default: Any
    help: str
    #: the default in words, for ``--help`` when ``default`` is None (e.g. "the detector's own")
    default_text: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    metavar: str | None = None
    #: read from ``AGEGENDER_<NAME>`` by the server (False: no variable)
    env: bool = True
    #: the word ``none`` (given anywhere) becomes ``None`` (skip) in :func:`analyzer_options`
    none_word: bool = False
    #: ``"module:function"`` giving the known names, listed in ``--help`` (resolved there)
    names_from: str | None = None

    @property
    def env_var(self) -> str | None:
        """The environment variable the server reads it from, or None."""
        return f"AGEGENDER_{self.name.upper()}" if self.env else None

    @property
    def flag(self) -> str:
        """The command-line flag: ``--detect-size`` for ``detect_size``."""
        return "--" + self.name.replace("_", "-")

    @property
    def annotation(self) -> str:
        """The type as a dataclass annotation (``int | None``)."""
        kind = _KINDS[self.kind]
        return kind if self.default is not None and not self.none_word else f"{kind} | None"

    def _range_words(self) -> str | None:
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"within {lo:g}..{hi:g}"
        if self.above is not None:
            return f"more than {self.above:g}{self.unit}"
        if lo is not None:
            if lo == 0:
                return "0 or more"
            if lo == 1 and self.kind is int:
                of = f" of{self.unit}" if self.unit else ""
                return f"more than 0 (a positive number{of})"
            return f"at least {lo:g}{self.unit}"
        return None

    def problem(self, value: Any) -> str | None:
        """What is wrong with a (converted) value, in words, or None when it is allowed."""
        if value is None or (self.kind in (str, bool, tuple) and not self.choices):
            return None
        if self.choices:
            if str(value).lower() not in self.choices:
                return f"must be one of {', '.join(self.choices)}, got {value!r}"
            return None
        v = float(value)
        bad = (
            (self.minimum is not None and v < self.minimum)
            or (self.maximum is not None and v > self.maximum)
            or (self.above is not None and not v > self.above)
        )
        return f"must be {self._range_words()}, got {value!r}" if bad else None

    def convert(self, value: Any) -> Any:
        """``value`` (a string from the command line or a variable, or a Python value) as
        this option's type; ValueError saying what was expected otherwise."""
        if value is None:
            return None
        if isinstance(value, str):
            return self._from_text(value.strip())
        if self.kind is tuple:
            return tuple(str(v) for v in value)
        if self.kind in (int, float) and isinstance(value, bool):
            raise ValueError(f"expected {self._expected()}, got {value!r}")
        if self.kind is int:
            return self._from_text(str(value)) if isinstance(value, float) else int(value)
        if self.kind is float:
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ValueError(f"expected {self._expected()}, got {value!r}") from None
        if self.kind is bool and not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value

    def _expected(self) -> str:
        what = {int: "a whole number", float: "a number"}.get(self.kind, "a value")
        words = self._range_words()
        return f"{what} {words}" if words else what

    def _from_text(self, text: str) -> Any:
        if self.kind is str:
            return text
        if self.kind is tuple:
            return tuple(p.strip() for p in text.split(",") if p.strip())
        if self.kind is bool:
            if text.lower() in _TRUE + _FALSE:
                return text.lower() in _TRUE
            raise ValueError(f"expected true or false (1/0, yes/no, on/off), got {text!r}")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected {self._expected()}, got {text!r}") from None
        if self.kind is int:
            if not number.is_integer():
                raise ValueError(f"expected {self._expected()}, got {text!r}")
            return int(number)
        return number

    def parse(self, value: Any) -> Any:
        """:meth:`convert`, then the range or choices check; ValueError (message without
        the option's name) when the value is not allowed."""
        v = self.convert(value)
        problem = self.problem(v)
        if problem:
            raise ValueError(problem)
        return v

    def check(self, value: Any, what: str = "") -> Any:
        """:meth:`parse`, raising :class:`InputError` that names the option (after
        ``what``, e.g. ``"server setting "``)."""
        try:
            return self.parse(value)
        except ValueError as e:
            text = str(e)
            if text.startswith("expected "):  # "x must be a number ...", as a range reads
                text = "must be " + text.removeprefix("expected ")
            raise InputError(f"{what}{self.name} {text}") from None


#: The Analyzer keywords that the command line and the server settings both carry.
ANALYZER_OPTIONS: list[Option] = [
    Option("detector", str, "auto", names_from="agegender.detect:detector_names",
           help="(auto: the first present of yunet, hog-mtcnn, mtcnn, hog)"),
    Option("detect_size", int, None, minimum=64, unit=" pixels", metavar="PIXELS",
           default_text="1280; Haar 1536; 640 is about twice as fast on big photos of a few "
           "large faces and loses faces under ~25 px",
           help="longest side of the view the detector sees; bigger images are downscaled "
           "for detection"),
    Option("profile", str, None, choices=("accurate", "permissive"),
           default_text="accurate, or AGEGENDER_PROFILE",
           help="accurate: the shipped FaceRes networks, research/non-commercial only; "
           "permissive: only models that allow commercial use (the CC0 Cydral pair and open "
           "detectors)"),
    Option("age_model", str, DEFAULT_MODEL, none_word=True,
           help="model name, or ensemble 'a+b' / 'a:2+b:1'; 'none' to skip; 'default': the "
           "profile's"),
    Option("gender_model", str, DEFAULT_MODEL, none_word=True,
           help="model name or ensemble; 'none' to skip; 'default': the profile's"),
    Option("device", str, "auto", choices=("auto", "cpu", "cuda"), help="onnxruntime device"),
    Option("tta", str, "none", choices=("none", "flip", "oversample"),
           help="test-time augmentation"),
    Option("threshold", float, None, minimum=0.0, maximum=1.0, default_text="the detector's own",
           help="minimum detection score 0..1"),
    Option("min_face", int, None, minimum=0, unit=" pixels", metavar="PIXELS",
           default_text="the detector's own, 20", help="smallest face to report"),
    Option("max_pixels", int, None, minimum=1, unit=" pixels", metavar="N",
           default_text="100,000,000 or AGEGENDER_MAX_PIXELS",
           help="refuse images above N pixels, from their header"),
    Option("mask_background", bool, None,
           default_text="as each model's card says; off for the built-in models",
           help="fade all but the face ellipse to the chip's mean before estimation"),
    Option("gender_min_confidence", float, None, minimum=0.5, maximum=1.0, metavar="P",
           default_text="0.5: always a label",
           help="0.5..1: report perceived gender as undetermined (label null) when the more "
           "likely label's probability is below P"),
]


def option_names(options: Iterable[Option] | None = None) -> tuple[str, ...]:
    """The names of ``options`` (default: :data:`ANALYZER_OPTIONS`, read when called)."""
    return tuple(o.name for o in (ANALYZER_OPTIONS if options is None else options))


def get_option(name: str) -> Option:
    """The Analyzer option called ``name``."""
    for o in ANALYZER_OPTIONS:
        if o.name == name:
            return o
    raise InputError(f"unknown option {name!r}; known: {', '.join(option_names())}")


def check_values(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every Analyzer option among them converted and checked.

    Raises:
        InputError: naming the option, what it must be and what it got.
    """
    known = {o.name: o for o in ANALYZER_OPTIONS}
    return {k: known[k].check(v) if k in known else v for k, v in values.items()}


def analyzer_options(source: Any) -> dict[str, Any]:
    """Analyzer keyword arguments read by name from ``source`` (parsed CLI arguments, the
    server's settings): the one mapping from options to keywords. A model named ``none``
    (or ``None``) skips that task."""
    kw = {o.name: getattr(source, o.name) for o in ANALYZER_OPTIONS}
    for o in ANALYZER_OPTIONS:
        if o.none_word and isinstance(kw[o.name], str) and kw[o.name].lower() == "none":
            kw[o.name] = None
    return kw

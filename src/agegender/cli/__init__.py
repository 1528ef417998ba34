"""The ``agegender`` command line (:func:`main`); the library never imports this package."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]

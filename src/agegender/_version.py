"""The package version (one place; imported without importing the rest)."""

__version__ = "0.1.0"

"""Our exceptions. Each message says what was wrong, where, and what to do."""

from __future__ import annotations


class AgeGenderError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(AgeGenderError, ValueError):
    """The caller gave us something we cannot use (bad argument, bad file)."""


class ImageDecodeError(InputError):
    """Bytes or a file that are not a decodable image (empty, truncated, unknown format)."""


class ImageTooLargeError(InputError):
    """An image whose pixel count is above the configured limit (decompression bombs)."""


class SourceNotFoundError(InputError, FileNotFoundError):
    """A path that does not exist, or a folder with no images in it."""


class ModelError(AgeGenderError):
    """A model that cannot be found, fetched, verified or run."""


class UnknownModelError(ModelError, KeyError):
    """A model name that is not in the registry; the message lists close names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelUnavailableError(ModelError):
    """A known model whose files are not here and could not be fetched."""


class ChecksumError(ModelError):
    """A model file whose sha256 is not the one its record promises."""


class VideoError(InputError):
    """A video file, stream or camera that cannot be opened or decoded."""

"""The runtime wrapper of Caffe-converted models (Levi & Hassner's age and gender nets).

``record.path()`` gives the ONNX conversion of the weights (:mod:`agegender.convert.caffe`,
made by the record's ``convert`` hook). The authors' mean image (``mean.binaryproto``, a
``BlobProto``: 3 x 256 x 256, BGR, 0..255) is centre-cropped to the input size and
subtracted, as Caffe's test-phase data layer does.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import NDArray

from ..models.record import ModelRecord
from .onnx import OnnxModel


class CaffeModel(OnnxModel):
    """A Caffe age or gender model (``card["runtime"] == "caffe"``).

    ``record.path()`` gives the ONNX conversion of the weights (the record's ``convert``
    hook makes it); the mean image named by ``card["input"]["mean_image"]`` (one of the
    record's files) is centre-cropped to the input size and subtracted from the chips
    before the card's ``mean``/``std``. Decoding is :class:`OnnxModel`'s.
    """

    def __init__(self, record: ModelRecord, *, providers: list[str] | None = None) -> None:
        super().__init__(record, providers=providers)
        self._mean_image: NDArray[np.float32] | None = None
        self._mean_lock = threading.Lock()

    def mean_image(self) -> NDArray[np.float32]:
        """The mean image cropped to the input, (H, W, 3) in the card's channel order
        (zeros when the card names none)."""
        with self._mean_lock:
            if self._mean_image is None:
                from ..models.levi_hassner import caffe_mean_image

                self._mean_image = caffe_mean_image(self.record, self.card.size, self.card.channels)
        return self._mean_image

    def preprocess(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        c = self.card
        x = chips[..., ::-1] if c.channels == "BGR" else chips
        x = x.astype(np.float32) - self.mean_image()  # type: ignore[assignment]
        x = (x - np.asarray(c.mean, np.float32)) / np.asarray(c.std, np.float32)  # type: ignore[assignment]
        if c.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x)

    def __repr__(self) -> str:
        return f"CaffeModel({self.name!r}, task={self.task!r})"

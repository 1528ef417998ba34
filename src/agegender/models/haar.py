"""The record of the Haar cascade detector (``--detector haar``): OpenCV's face cascades.

The XML files ship inside agegender (``src/agegender/models/data/haar/``, with their license
and provenance in its README): OpenCV 5's wheels no longer carry them. They were copied
unchanged from the PyPI wheel ``opencv-python==4.10.0.84`` (``cv2/data/``), which holds
the files of OpenCV's repository (``data/haarcascades/``).
"""

from __future__ import annotations

from .record import ModelFile, ModelRecord, Register

_UPSTREAM = "pypi:opencv-python==4.10.0.84/cv2/data/{} (= github.com/opencv/opencv data/haarcascades/{})"

#: (file, sha256)
HAAR_FILES = (
    ("haarcascade_frontalface_alt2.xml",
     "7b0c967d9abbdfbde025eb9c786947d151b6426040d07a8f9562ed8fd90724b4"),
    ("haarcascade_profileface.xml",
     "b39a4a3be45539db146a7fc1d3e761a292c196eb88421185e6a615b3055e612d"),
)


def register_haar(register: Register) -> None:
    register(
        ModelRecord(
            name="haar",
            task="detect",
            description="OpenCV's Haar cascades (Viola-Jones; frontalface_alt2, then profileface "
            "where it finds nothing), evaluated with numpy; dlib 5-point landmarks; ships "
            "inside agegender",
            license="Intel License Agreement (BSD-3-Clause style; text in each XML and in "
            "models/data/haar/LICENSE); landmark model CC0-1.0",
            files=tuple(
                ModelFile(
                    f,
                    sha,
                    package="agegender",
                    resource=f"models/data/haar/{f}",
                    pip_name="agegender",
                    upstream=_UPSTREAM.format(f, f),
                )
                for f, sha in HAAR_FILES
            ),
            requires_module="dlib",
            requires_pip="dlib-bin",
        ),
        aliases=("haar-cascade", "viola-jones"),
    )

"""Build hook: put YuNet's ONNX into the package before it is built.

The network (`yunet_s_dynamic.onnx`, Apache-2.0, 238 KB) is not kept in git: a build takes it,
checked against its sha256, from the first of

1. ``$AGEGENDER_MIRROR/yunet/`` (a folder laid out like upstream),
2. ``$AGEGENDER_SHARED/models/yunet/`` or ``../shared/models/yunet/`` beside the checkout,
3. upstream (libfacedetection.train on GitHub), when the network is reachable,

and writes it to ``src/agegender/models/data/yunet/`` (ignored by git), so that wheels, plain
and editable installs ship it. When none has it the build goes on without it: the `yunet`
record then finds the file in the model cache or mirror, or downloads it on first use, and
`auto` falls back to MTCNN where it cannot.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import urllib.request
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
NAME = "yunet_s_dynamic.onnx"
SHA256 = "daede24002cc8590f457998cc5e6c9e8b82f45f6bd969506a8913cd4ed10a2d3"
URL = "https://github.com/ShiqiYu/libfacedetection.train/raw/master/onnx/yunet_s_dynamic.onnx"
TARGET = HERE / "src" / "agegender" / "models" / "data" / "yunet" / NAME


def _ok(data: bytes) -> bool:
    return hashlib.sha256(data).hexdigest() == SHA256


def _local_copies() -> list[Path]:
    roots = [os.environ.get("AGEGENDER_MIRROR")]
    shared = os.environ.get("AGEGENDER_SHARED")
    roots += [str(Path(shared) / "models") if shared else None, str(HERE.parent / "shared" / "models")]
    return [Path(r) / "yunet" / NAME for r in roots if r]


def include_yunet() -> None:
    if TARGET.is_file() and _ok(TARGET.read_bytes()):
        return
    for p in _local_copies():
        if p.is_file() and _ok(p.read_bytes()):
            shutil.copyfile(p, TARGET)
            return
    try:
        with urllib.request.urlopen(URL, timeout=20) as r:
            data = r.read()
    except OSError as e:
        print(f"agegender build: YuNet not included ({e}); it is downloaded on first use",
              file=sys.stderr)
        return
    if _ok(data):
        TARGET.write_bytes(data)
    else:
        print("agegender build: YuNet from upstream has another sha256; not included",
              file=sys.stderr)


include_yunet()
setup()

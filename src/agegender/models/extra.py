"""The spec's other models: SSR-Net (seven published weight sets), Levi & Hassner, and the
Haar cascade detector (its record is in :mod:`.haar`).

* SSR-Net (Yang et al., IJCAI 2018): the authors publish Keras ``.h5`` weights only. The
  registry fetches (or finds in the mirror) the ``.h5`` and converts it once to ONNX
  (:func:`agegender.convert.ssrnet.convert_h5`) into ``<cache>/<name>/<name>.onnx``.
* Levi & Hassner (CVPR 2015 workshops): the deploy prototxts and the training mean image
  come from the authors' repository; the trained ``.caffemodel`` weights are not on any host
  we can check, so the user adds them (``agegender models add levi-hassner --caffemodel
  PATH``) and the registry converts them to ONNX (:mod:`agegender.convert.caffe`).
"""

from __future__ import annotations

from pathlib import Path

from .._fs import atomic_path, fresh
from ..errors import ModelUnavailableError
from . import store
from .haar import register_haar
from .record import ModelFile, ModelRecord, Register

# Upstream folders of shamangary/SSR-Net's pre-trained weights. Each folder holds
# ssrnet_3_3_3_64_1.0_1.0/ssrnet_3_3_3_64_1.0_1.0.h5; the mirror keeps that file as
# ssrnet/ssrnet_<folder>.h5, and these folder names follow the mirror README's pattern
# (note the authors' folder for MegaAge-Asian is spelled "megaface_asian").
_SSR_URL = (
    "https://github.com/shamangary/SSR-Net/raw/master/pre-trained/"
    "{folder}/ssrnet_3_3_3_64_1.0_1.0/ssrnet_3_3_3_64_1.0_1.0.h5"
)
_SSR_LICENSE = "Apache-2.0 (weights: academic/non-commercial training data)"

#: (name, task, upstream folder, sha256 of the .h5, training set)
SSRNET_MODELS: tuple[tuple[str, str, str, str, str], ...] = (
    ("ssrnet-age.imdb", "age", "imdb",
     "f51ac230a68bafdcd9699160f01e4d67a78232419ebcfae8622e0638e6dd4ca3", "IMDB"),
    ("ssrnet-age.wiki", "age", "wiki",
     "f8b677f1a61fcf1233de0bd942f3172b1397fcbfe0f2784220154af1faf833e0", "WIKI"),
    ("ssrnet-age.morph2", "age", "morph2",
     "0ad001c42cc2425ffaebd7d374983eba5c89e4f695ab10431c4c95573dc69f4d", "MORPH2"),
    ("ssrnet-age.megaage-asian", "age", "megaface_asian",
     "4bc9348a8ee89dc21d16a4e06a994e287650d068eb9f789578698c7377a07ef7", "MegaAge-Asian"),
    ("ssrnet-gender.imdb", "gender", "imdb_gender_models",
     "e295148efe9c282a27ebd69a64f6495b1b280728141047866ff81001089b1767", "IMDB"),
    ("ssrnet-gender.wiki", "gender", "wiki_gender_models",
     "2d15bfa72869526d1e2b80385157e34a55fb5a4b184bbac5ea56d623141d7e8c", "WIKI"),
    ("ssrnet-gender.morph", "gender", "morph_gender_models",
     "da8f77eadb15653360bde466691eb77516e4c5e0ba5b603959b4c27aa86eeff5", "MORPH"),
)

#: Fitted on UTKFace *val* through the YuNet pipeline (as tools/calibrate_temperature.py does
#: for the Cydral models): for age, the sigma in years of the Gaussian that stands in for the
#: missing distribution, so that its 10..90% interval holds 80% of true ages (a fixed 5 years
#: held 35-50%); for gender, the temperature that divides the logit of P(male) to minimise
#: the NLL (labels never change). The published models are far off on UTKFace, so the
#: honest intervals are wide and the MORPH gender model's confidences stay near 0.5.
_SSR_CALIBRATION: dict[str, float] = {
    "ssrnet-age.imdb": 15.5,
    "ssrnet-age.wiki": 14.5,
    "ssrnet-age.morph2": 19.5,
    "ssrnet-age.megaage-asian": 12.5,
    "ssrnet-gender.imdb": 6.95,
    "ssrnet-gender.wiki": 8.55,
    "ssrnet-gender.morph": 30.85,
}

_SSR_INPUT = {"size": 64, "layout": "NHWC", "channels": "BGR", "mean": 0.0, "std": 1.0}
# SSR-Net's authors trained on face crops with a wide margin, about 40% of the face box
# on each side, resized to 64x64.
_SSR_CROP = {"method": "box", "margin": 0.4}

_LH_REPO = "https://github.com/GilLevi/AgeGenderDeepLearning/raw/master/models/"
_LH_PAGE = "http://www.openu.ac.il/home/hassner/projects/cnn_agegender/"
_LH_LICENSE = "as published by the authors (Levi & Hassner; research use)"
#: The authors' file name of each task's trained weights.
LEVI_HASSNER_WEIGHTS = {"age": "age_net.caffemodel", "gender": "gender_net.caffemodel"}
_LH_FILES = {
    "age": ("age_deploy.prototxt",
            "f58b73e2e20766f54c583cb1a9404f45dab8901773da6864d94b63212ed37ca0"),
    "gender": ("gender_deploy.prototxt",
               "7379953e048e5bffad9dfc6b3a8807f7fc826e2f27432df56d4c2670784b8e78"),
}
_LH_MEAN = ("mean.binaryproto", "5b0547348e99b95f39bdc1dc2cf2053f406773ebf5b493ad660d649c2e1e825b")


def _ssrnet_onnx(record: ModelRecord, paths: list[Path]) -> Path:
    """Convert the record's .h5 to ``<cache>/<name>/<name>.onnx`` once; reuse it after."""
    h5 = paths[0]
    out = store.cache_dir() / record.name / f"{record.name}.onnx"
    if fresh(out, h5):
        return out
    from ..convert.ssrnet import convert_h5

    with atomic_path(out) as tmp:
        convert_h5(h5, tmp, record.task)  # type: ignore[arg-type]
    return out


def levi_hassner_weights_path(task: str) -> Path:
    """Where the registry looks for the user's Levi & Hassner weights of ``task``."""
    return store.cache_dir() / f"levi-hassner-{task}" / LEVI_HASSNER_WEIGHTS[task]


def _levi_hassner_ready(record: ModelRecord) -> None:
    """Raise, saying where they come from, when the user's .caffemodel is not here."""
    task = record.task
    weights = levi_hassner_weights_path(task)
    if not weights.is_file():
        fname = LEVI_HASSNER_WEIGHTS[task]
        raise ModelUnavailableError(
            f"model {record.name!r} needs the authors' trained weights {fname}, which are not "
            f"here (expected at {weights}) and have no download we can verify. They come from "
            f"Gil Levi and Tal Hassner's release (GilLevi/AgeGenderDeepLearning; project page "
            f"{_LH_PAGE}) as {fname}. Once you have the file, add it with "
            f"`agegender models add levi-hassner --caffemodel PATH --task {task}` "
            "(it is checked against the network definition and copied into the cache)"
        )



def _levi_hassner_onnx(record: ModelRecord, paths: list[Path]) -> Path:
    """The ONNX conversion of the user's .caffemodel (made once, redone when it changes)."""
    weights = levi_hassner_weights_path(record.task)
    prototxt = paths[0]
    out = store.cache_dir() / record.name / f"{record.name}.onnx"
    if fresh(out, weights, prototxt):
        return out
    from ..convert.caffe import convert_caffemodel

    return convert_caffemodel(prototxt, weights, out)


def register_extra(register: Register) -> None:
    for name, task, folder, sha, trained_on in SSRNET_MODELS:
        if task == "age":
            # the graph outputs years
            output = {"decode": "regression", "sigma": _SSR_CALIBRATION[name]}
            what = "age regression (years)"
        else:
            # the graph outputs P(male), clipped to 0..1. Its last layers are ReLUs, so the
            # IMDB model says exactly 0.0 for about half of in-the-wild faces (144 of 301
            # UTKFace test chips), as the reference graph does (ssrnet-reference-onnx; ours
            # within 5.2e-6): bounded at 1e-7 and calibrated, each reads female 0.9105
            # (docs/accuracy.md)
            output = {"decode": "sigmoid", "temperature": _SSR_CALIBRATION[name]}
            what = ("gender, probability of male (a saturated output, exactly 0 for about half "
                    "of faces as in the original network, reads female 0.9105 after "
                    "calibration)") if name == "ssrnet-gender.imdb" else (
                        "gender, probability of male")
        register(
            ModelRecord(
                name=name,
                task=task,  # type: ignore[arg-type]
                description=f"SSR-Net (Yang et al. 2018) {what}, trained on {trained_on}; "
                "64x64 BGR crop; converted from the authors' Keras .h5 to ONNX on first use",
                license=_SSR_LICENSE,
                files=(
                    ModelFile(
                        f"ssrnet_{folder}.h5",
                        sha,
                        url=_SSR_URL.format(folder=folder),
                        mirror_path=f"ssrnet/ssrnet_{folder}.h5",
                    ),
                ),
                card={"input": dict(_SSR_INPUT), "crop": dict(_SSR_CROP), "output": output},
                convert=_ssrnet_onnx,
            ),
            deprecated=(name.replace(".", "-"),),  # the names before family-task.weights
        )
    for task in ("age", "gender"):
        proto, proto_sha = _LH_FILES[task]
        if task == "age":
            # the 8 Adience groups; the graph ends with the prototxt's softmax ("prob")
            output = {"decode": "groups", "softmax": False}
            what = "age, softmax over the 8 Adience groups"
        else:
            # GilLevi's demo: gender_list = ['Male', 'Female'] (class 0 is male)
            output = {"decode": "softmax", "labels": ["male", "female"], "softmax": False}
            what = "gender, softmax over [male, female]"
        register(
            ModelRecord(
                name=f"levi-hassner-{task}",
                task=task,  # type: ignore[arg-type]
                description=f"Levi & Hassner (CVPR 2015 workshops) {what}; 227x227 BGR minus "
                f"the authors' mean image; needs the authors' {LEVI_HASSNER_WEIGHTS[task]} "
                "(agegender models add levi-hassner)",
                license=_LH_LICENSE,
                files=(
                    ModelFile(proto, proto_sha, url=_LH_REPO + proto,
                              mirror_path=f"levi-hassner/{proto}"),
                    ModelFile(_LH_MEAN[0], _LH_MEAN[1], url=_LH_REPO + _LH_MEAN[0],
                              mirror_path=f"levi-hassner/{_LH_MEAN[0]}"),
                ),
                card={
                    "runtime": "caffe",
                    "input": {
                        "size": 227,
                        "layout": "NCHW",
                        "channels": "BGR",
                        # the mean *image* (3x256x256, centre-cropped) is subtracted first
                        "mean_image": _LH_MEAN[0],
                        "mean": 0.0,
                        "std": 1.0,
                    },
                    "crop": {"method": "box", "margin": 0.2},
                    "output": output,
                },
                convert=_levi_hassner_onnx,
                ready=_levi_hassner_ready,
            )
        )
    register_haar(register)  # the Haar cascade detector (shipped XML files)

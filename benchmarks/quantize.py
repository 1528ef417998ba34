"""Faster graphs for the default FaceRes pair: folded padding, float32, float16, int8.

    python benchmarks/quantize.py --repeats 5              # build the variants, print the table
    python benchmarks/quantize.py --write-folded OUT.onnx  # only fold the shipped graph

Variants, all built here from the shipped graph (``models/data/faceres/faceres.onnx``, or
``--graph``) into ``--out``:

- ``shipped``: the graph as shipped.
- ``folded``: TF-style "same" padding computed from the input's shape at every layer (Shape,
  Gather, Sub, Div, Cast, Concat, Pad: about 800 small nodes) replaced by each Conv's own
  static pads (the input is 128x128, so the pads are constants; checked equal at two batch
  sizes). Weights stay float16 on disk, onnxruntime computes in float32. Outputs identical.
- ``folded32``: the same with float32 weights on disk (no Cast nodes), twice the size.
- ``fp16``: float16 compute (onnxruntime.transformers.float16, float32 input and outputs).
- ``int8-u8s8``, ``int8-u8u8``, ``int8-u8s8-rr``: static int8 QDQ, per-channel weights,
  MinMax calibration on the estimator's own inputs for 256 + 256 UTKFace *train* faces
  (crops and pipeline mode); weights int8, uint8, or int8 with 7-bit reduced range.

Speed: the graph alone (onnxruntime, CPU), ms per face at batch sizes 1, 8 and 32, per session
setting (intra-op threads 1 or 2, spinning on or off, parallel execution), median and min-max
over interleaved repeats, all in one run. Accuracy: UTKFace val through the eval code
(``read_dataset``, ``predict_samples``, ``build_report``), crops and pipeline mode, as
``agegender eval --split val [--crops]`` computes it.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from agegender.convert.onnx_fold import fold_same_padding  # noqa: E402

SHIPPED = REPO / "src/agegender/models/data/faceres"
SESSIONS = {  # name: (intra-op threads, inter-op threads, parallel, spinning)
    "t1": (1, 1, False, False),
    "t2": (2, 1, False, False),
    "t2-spin": (2, 1, False, True),
    "t2-parallel": (2, 2, True, False),
}
VARIANTS = ("shipped", "folded", "folded32", "fp16", "int8-u8s8", "int8-u8u8", "int8-u8s8-rr")


def estimator_inputs(split: str, n: int, shared: Path) -> Any:
    """The FaceRes input tensors the estimator builds for ``n`` crops and ``n`` pipeline faces."""
    from agegender import Analyzer
    from agegender.estimate import onnx as eo
    from agegender.eval import read_dataset
    from agegender.eval.run import predict_samples

    got: list[Any] = []
    orig = eo.OnnxModel.preprocess

    def record(self: Any, chips: Any) -> Any:
        x = orig(self, chips)
        if "age" in self.tasks:  # one run per batch gives both outputs
            got.append(x)
        return x

    samples = list(read_dataset(shared / "data/utkface", format="auto", split=split).samples)
    pick = np.random.default_rng(0).choice(len(samples), 2 * n, replace=False)
    eo.OnnxModel.preprocess = record  # type: ignore[method-assign]
    try:
        an = Analyzer()
        predict_samples(an, [samples[i] for i in pick[:n]], crops=True)
        predict_samples(an, [samples[i] for i in pick[n:]], crops=False)
    finally:
        eo.OnnxModel.preprocess = orig  # type: ignore[method-assign]
    return np.concatenate(got)


def build(out: Path, graph: Path, names: list[str], shared: Path) -> dict[str, Path]:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    out.mkdir(parents=True, exist_ok=True)
    paths = {"shipped": graph}
    folded, folded32 = out / "folded.onnx", out / "folded32.onnx"
    print("folded:", fold_same_padding(graph, folded), flush=True)
    fold_same_padding(graph, folded32, fp32=True)
    paths.update(folded=folded, folded32=folded32)
    if "fp16" in names:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        keep32 = ["Softmax", "MatMul", "GreaterOrEqual", "ReduceSum", "Gather", "Div", "Sigmoid", "Cast", "Unsqueeze"]
        onnx.save(convert_float_to_float16(onnx.load(str(folded32)), keep_io_types=True, op_block_list=keep32),
                  str(out / "fp16.onnx"))
        paths["fp16"] = out / "fp16.onnx"
    q = [n for n in names if n.startswith("int8")]
    if q:
        pre = out / "pre32.onnx"
        quant_pre_process(str(folded32), str(pre), skip_symbolic_shape=True)
        calib = estimator_inputs("train", 256, shared)
        print(f"calibration: {len(calib)} UTKFace train inputs (crops and pipeline)", flush=True)

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.it = iter([{"input": calib[i : i + 32]} for i in range(0, len(calib), 32)])

            def get_next(self) -> Any:
                return next(self.it, None)

        for name in q:
            paths[name] = out / f"{name}.onnx"
            quantize_static(str(pre), str(paths[name]), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            reduce_range=name.endswith("-rr"), activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QUInt8 if "u8u8" in name else QuantType.QInt8,
                            op_types_to_quantize=["Conv", "Gemm", "Clip", "Relu", "ReduceMean", "Transpose"],
                            calibrate_method=CalibrationMethod.MinMax)
    return {n: paths[n] for n in names}


def session(path: Path, setting: str) -> Any:
    import onnxruntime as ort

    intra, inter, parallel, spin = SESSIONS[setting]
    o = ort.SessionOptions()
    o.log_severity_level = 3
    o.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    o.add_session_config_entry("session.inter_op.allow_spinning", "1" if spin else "0")
    o.intra_op_num_threads, o.inter_op_num_threads = intra, inter
    o.execution_mode = ort.ExecutionMode.ORT_PARALLEL if parallel else ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def speed(paths: dict[str, Path], settings: list[str], batches: list[int], repeats: int,
          x: Any) -> dict[tuple[str, str, int], list[float]]:
    """ms/face of the graph alone, interleaved: every (variant, setting, batch) once a repeat."""
    combos = [(n, s, session(p, s)) for n, p in paths.items() for s in settings]
    res: dict[tuple[str, str, int], list[float]] = collections.defaultdict(list)
    for rep in range(repeats + 1):  # the first round warms up
        for name, s, sess in combos:
            for b in batches:
                n = b * max(1, 64 // b)
                xb = np.resize(x, (n, *x.shape[1:]))
                t0 = time.perf_counter()
                for i in range(0, n, b):
                    sess.run(None, {"input": xb[i : i + b]})
                if rep:
                    res[(name, s, b)].append((time.perf_counter() - t0) / n * 1000)
    return res


def accuracy(paths: dict[str, Path], modes: list[str], shared: Path, limit: int | None) -> dict[tuple[str, str], dict]:
    from agegender import Analyzer
    from agegender.eval import build_report, read_dataset
    from agegender.eval.run import predict_samples
    from agegender.models import ModelFile, ModelRecord, register

    samples = list(read_dataset(shared / "data/utkface", format="auto", split="val").samples)
    if limit and limit < len(samples):
        samples = [samples[i] for i in np.linspace(0, len(samples) - 1, limit).round().astype(int)]
    out = {}
    for name, path in paths.items():
        names = []
        for task in ("age", "gender"):
            c = json.loads((SHIPPED / f"card-{task}.json").read_text())
            names.append(f"quantize-{name}-{task}")
            register(ModelRecord(name=names[-1], task=task, description=f"{name} variant", license=c["license"],
                                 files=(ModelFile(str(path.resolve()), None),),
                                 card={k: c[k] for k in ("input", "crop", "output")}), replace=True)
        an = Analyzer(age_model=names[0], gender_model=names[1])
        for mode in modes:
            preds = predict_samples(an, samples, crops=mode == "crops")
            rep = build_report(preds, samples, meta={"mode": mode})
            out[(name, mode)] = {"mae": rep["age"]["mae"], "gender": rep["gender"]["accuracy"],
                                 "found": rep["detection"]["found"], "n": len(samples)}
            print(f"  {name:14s} {mode:8s} MAE {out[(name, mode)]['mae']:.4f} "
                  f"gender {100 * out[(name, mode)]['gender']:.2f}%", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--graph", type=Path, default=SHIPPED / "faceres.onnx")
    ap.add_argument("--write-folded", type=Path, metavar="OUT", help="only fold --graph into OUT and exit")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "agegender-quantize")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--sessions", default=",".join(SESSIONS))
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--modes", default="crops,pipeline", help="accuracy modes; empty: speed only")
    ap.add_argument("--limit", type=int, default=None, help="val faces for accuracy (default all 1,980)")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    a = ap.parse_args()
    if a.write_folded:
        print(fold_same_padding(a.graph, a.write_folded))
        return 0
    names = [n for n in a.variants.split(",") if n]
    paths = build(a.out, a.graph, names, a.shared)
    sizes = {n: p.stat().st_size / 1e6 for n, p in paths.items()}
    acc = accuracy(paths, [m for m in a.modes.split(",") if m], a.shared, a.limit) if a.modes else {}
    x = estimator_inputs("val", 32, a.shared)
    batches = [int(b) for b in a.batches.split(",")]
    settings = a.sessions.split(",")
    res = speed(paths, settings, batches, a.repeats, x)
    print(f"\nms per face, the graph alone, median (min-max) of {a.repeats} interleaved repeats, one run "
          "(a shared 2-core machine: compare within the table)")
    print("| variant | MB | session | " + " | ".join(f"batch {b}" for b in batches) + " |")
    print("|---|---|---|" + "---|" * len(batches))
    for n in names:
        for s in settings:
            cells = [f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" for v in (res[(n, s, b)] for b in batches)]
            print(f"| {n} | {sizes[n]:.1f} | {s} | " + " | ".join(cells) + " |")
    if acc:
        print("\nUTKFace val (1,980 faces unless --limit), MAE in years and gender accuracy, difference to shipped")
        print("| variant | " + " | ".join(f"{m} MAE | {m} gender" for m in a.modes.split(",")) + " |")
        print("|---|" + "---|---|" * len(a.modes.split(",")))
        for n in names:
            cells = []
            for m in a.modes.split(","):
                r, b = acc[(n, m)], acc.get(("shipped", m), acc[(n, m)])
                cells += [f"{r['mae']:.3f} ({r['mae'] - b['mae']:+.3f})",
                          f"{100 * r['gender']:.2f}% ({100 * (r['gender'] - b['gender']):+.2f})"]
            print(f"| {n} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

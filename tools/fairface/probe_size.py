"""Choose the input size by measurement: frozen FaceRes features (global pooling) of the
FairFace `val` chips (cut by build_chips.py) at 160, 192 and 224 px, a linear probe for
perceived gender and the 9 age bins scored by 5-fold cross-validation, and the ONNX time
of the whole body per face (batch 16, medians of 5).

    python tools/fairface/probe_size.py ~/data/agc
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from agegender.convert.tfjs import fuse, load_tfjs
from agegender.convert.tfjs_onnx import tfjs_to_onnx
from agegender.train.cached import to_bgr_input
from agegender.train.chips import load_chips

MODEL = Path(__file__).resolve().parents[2].parent / "shared/models/human-models/models/faceres-deep.json"


def probe(f: np.ndarray, y: np.ndarray, folds: int = 5) -> float:
    torch.manual_seed(0)
    x = torch.from_numpy(f)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    fold = np.arange(len(y)) % folds
    ok = []
    k = int(y.max()) + 1
    for i in range(folds):
        tr, te = fold != i, fold == i
        head = torch.nn.Linear(x.shape[1], k)
        opt = torch.optim.Adam(head.parameters(), 1e-3, weight_decay=1e-3)
        t = torch.from_numpy(y[tr])
        for _ in range(300):
            loss = torch.nn.functional.cross_entropy(head(x[tr]), t)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            ok.append((head(x[te]).argmax(1).numpy() == y[te]).mean())
    return float(np.mean(ok))


def main() -> None:
    cs = load_chips(Path(sys.argv[1]).expanduser() / "chips" / "fairface-val")
    g = fuse(load_tfjs(MODEL))
    male = cs.male
    bins = np.searchsorted(np.unique(cs.age_lo), cs.age_lo)
    print("size  gender  age-bin  ms/face(whole body, batch 16)")
    for size in (160, 192, 224):
        sess = ort.InferenceSession(tfjs_to_onnx(g, outputs=["global_pooling/Mean"],
                                                 input_size=(size, size)))
        name = sess.get_inputs()[0].name
        feats = np.concatenate([sess.run(None, {name: to_bgr_input(np.asarray(cs.chips[i:i + 64]), size)})[0]
                                for i in range(0, len(cs), 64)])
        x = to_bgr_input(np.asarray(cs.chips[:16]), size)
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            sess.run(None, {name: x})
            ts.append((time.perf_counter() - t0) / 16 * 1000)
        keep = male >= 0
        print(f"{size:4d}  {probe(feats[keep], male[keep]):.4f}  {probe(feats, bins):.4f}   "
              f"{np.median(ts):.1f}", flush=True)


if __name__ == "__main__":
    main()

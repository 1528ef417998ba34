"""Choose FaceRes's input size and crop margin by measurement: a linear probe on the frozen
1024-d features (trained on UTKFace train, scored on UTKFace val), and the ONNX cost per face.

    python tools/faceres_probe.py --train 3000 --val 600

Prints one row per (size, margin): val age MAE, gender accuracy, ms per face (2 threads).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from agegender.convert.tfjs import load_tfjs
from agegender.convert.tfjs_onnx import tfjs_to_onnx
from agegender.models.faceres import VGG_MEAN_BGR
from agegender.train.data import load_faces

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def features(sess: ort.InferenceSession, chips: np.ndarray) -> tuple[np.ndarray, float]:
    out, t0 = [], time.perf_counter()
    for i in range(0, len(chips), 64):
        x = chips[i : i + 64, :, :, ::-1].astype(np.float32) - np.float32(VGG_MEAN_BGR)
        out.append(sess.run(["global_pooling/Mean"], {"input_1": x})[0])
    return np.concatenate(out), (time.perf_counter() - t0) / len(chips) * 1000


def probe(ftr: np.ndarray, age: np.ndarray, male: np.ndarray, fva: np.ndarray,
          age_v: np.ndarray, male_v: np.ndarray) -> tuple[float, float]:
    torch.manual_seed(0)
    x, xv = torch.from_numpy(ftr), torch.from_numpy(fva)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    x, xv = (x - mu) / sd, (xv - mu) / sd
    head = torch.nn.Linear(1024, 102)
    opt = torch.optim.Adam(head.parameters(), 1e-3, weight_decay=1e-4)
    a, g = torch.from_numpy(age).long().clamp(0, 100), torch.from_numpy(male).float()
    ok = g >= 0
    for _ in range(400):
        o = head(x)
        loss = torch.nn.functional.cross_entropy(o[:, :101], a)
        loss = loss + torch.nn.functional.binary_cross_entropy_with_logits(o[ok, 101], g[ok])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        o = head(xv)
        years = (o[:, :101].softmax(1) * torch.arange(101.0)).sum(1).numpy()
        pm = torch.sigmoid(o[:, 101]).numpy()
    okv = male_v >= 0
    return float(np.abs(years - age_v).mean()), float(((pm >= 0.5) == (male_v == 1))[okv].mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=3000)
    ap.add_argument("--val", type=int, default=600)
    args = ap.parse_args()
    g = load_tfjs(SHARED / "models/human-models/models/faceres-deep.json")
    o = ort.SessionOptions()
    o.intra_op_num_threads = 2
    sess = ort.InferenceSession(tfjs_to_onnx(g), o)
    utk = SHARED / "data/utkface"
    print("size margin  val_MAE  val_gender  ms/face")
    for size, margin in ((128, 0.0), (160, 0.0), (224, 0.0), (160, 0.15), (160, -0.05)):
        tr = load_faces(utk, split="train", size=size, margin=margin, limit=args.train)
        va = load_faces(utk, split="val", size=size, margin=margin, limit=args.val)
        ftr, _ = features(sess, tr.images)
        fva, ms = features(sess, va.images)
        mae, acc = probe(ftr, tr.ages, tr.genders, fva, va.ages, va.genders)
        print(f"{size:4d} {margin:6.2f} {mae:8.2f} {acc * 100:10.1f}% {ms:8.2f}", flush=True)


if __name__ == "__main__":
    main()

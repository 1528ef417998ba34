"""Write the packed UTKFace faces (pack.py) out as a UTKFace-format folder: labels.csv + images/.

    python3 unpack.py utk128.npz /root/data/utkface-128px-webp
"""

import csv
import sys
from pathlib import Path

import numpy as np

src, dst = sys.argv[1], Path(sys.argv[2])
z = np.load(src)
(dst / "images").mkdir(parents=True, exist_ok=True)
data, off = z["data"], z["off"]
with open(dst / "labels.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "age", "gender", "race", "split"])
    for i, n in enumerate(z["names"]):
        (dst / "images" / n).write_bytes(data[off[i] : off[i + 1]].tobytes())
        w.writerow(["images/" + n, z["age"][i], z["gender"][i], z["race"][i], z["split"][i]])
print("unpacked", len(z["names"]), "faces into", dst)

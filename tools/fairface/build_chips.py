"""Stage 1 of the FairFace default: cut every labeled face the way `analyze` does (YuNet
landmarks aligned to the FairFace template), once, into CACHE/chips/SET-SPLIT/ (the train and val splits: test is scored
through the pipeline itself, by `agegender eval`).

    AGEGENDER_MIRROR=../shared/models python tools/fairface/build_chips.py ~/data/agegender-cache
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from agegender.train.chips import build_chips

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SETS = [
    ("fairface", str(Path("~/data/fairface").expanduser()), ["val", "train"]),
    ("utkface", str(SHARED / "utkface"), ["val", "train"]),
    ("aaf", str(SHARED / "aaf"), ["val", "train"]),
    ("lfw", str(SHARED / "lfw-gender"), ["val", "train"]),
]

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cache = Path(sys.argv[1]).expanduser()
    for name, path, splits in SETS:
        for split in splits:
            cs = build_chips(path, split, cache / "chips" / f"{name}-{split}", size=224)
            logging.info("%s-%s: %d chips, %d found by the detector", name, split, len(cs),
                         cs.found.sum())

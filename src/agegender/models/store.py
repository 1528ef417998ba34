"""Where model files come from: an installed package, the cache, a mirror, the network.

* ``AGEGENDER_HOME`` (default ``~/.cache/agegender``): downloads land in ``models/`` there.
* ``AGEGENDER_MIRROR``: a folder laid out like upstream (e.g. ``yunet/yunet_s_640_640.onnx``),
  tried before the network. Point it at a local copy when the machine is offline.

Every file's sha256 is checked, whichever way it came, before anything loads it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import urllib.request
from pathlib import Path

from .._fs import atomic_path, sha256_file
from ..errors import ChecksumError, ModelUnavailableError

log = logging.getLogger(__name__)

_verified: dict[tuple[str, int, int], str] = {}


def cache_dir() -> Path:
    home = os.environ.get("AGEGENDER_HOME")
    base = Path(home).expanduser() if home else Path("~/.cache/agegender").expanduser()
    return base / "models"


def mirror_dir() -> Path | None:
    m = os.environ.get("AGEGENDER_MIRROR")
    return Path(m).expanduser() if m else None


def sha256_of(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _verified:
        return _verified[key]
    _verified[key] = sha256_file(path)
    return _verified[key]


def check_sha256(path: Path, expected: str | None, what: str) -> None:
    if expected is None:
        return
    got = sha256_of(path)
    if got != expected:
        raise ChecksumError(
            f"{what}: {path} has sha256 {got[:16]}..., expected {expected[:16]}...; the file "
            f"is corrupt or a different version. Delete it and run `agegender models pull` again"
        )


def package_file(package: str, resource: str) -> Path | None:
    """The path of a file inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / resource
        if p.is_file():
            return p
    return None


def _make_dirs(folder: Path) -> list[Path]:
    """``mkdir -p folder``; returns the folders it created, deepest first."""
    created: list[Path] = []
    p = folder
    while not p.exists():
        created.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    return created


def _remove_empty(created: list[Path]) -> None:
    for d in created:  # deepest first; stops at the first that holds something
        try:
            d.rmdir()
        except OSError:
            return


def download(
    url: str,
    dest: Path,
    sha256: str | None,
    what: str,
    timeout: float = 60.0,
    *,
    mirror_path: str | None = None,
) -> Path:
    """Fetch ``url`` into ``dest`` atomically, checking the sha256 before it is kept.

    When the download fails, the folders it created for ``dest`` are removed again (no
    empty folders are left in ``AGEGENDER_HOME``) and the error says where the file was
    looked for and how to provide it.
    """
    created = _make_dirs(dest.parent)
    log.info("downloading %s from %s", what, url)
    ok = False
    try:
        with atomic_path(dest, suffix="") as tmp:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                shutil.copyfileobj(r, out)
            check_sha256(tmp, sha256, what)
        ok = True
    except ChecksumError:
        raise
    except (OSError, ValueError) as e:
        mirror = mirror_dir()
        where = f"in the mirror {mirror}" if mirror else "(no AGEGENDER_MIRROR is set)"
        held = mirror_path or dest.name
        reason = getattr(e, "reason", None) or e
        name = what.split("/", 1)[0]
        raise ModelUnavailableError(
            f"model file {what} is not here and could not be downloaded: looked in the cache "
            f"{dest.parent} {where}, then tried {url} ({reason}). To fix: run `agegender "
            f"models pull {name}` on a network, set AGEGENDER_MIRROR to a folder holding "
            f"{held}, or copy the file to {dest}"
        ) from e
    finally:
        if not ok:
            _remove_empty(created)
    return dest

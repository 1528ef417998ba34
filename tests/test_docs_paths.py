"""Every file path that README.md and docs/*.md name exists: markdown links (relative to the
page) and code spans that start at a top folder of the repository (``src/...``,
``tools/...``, ``docs/...``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
TOP = ("src", "docs", "tools", "tests", "benchmarks", "weights", ".ci")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")
#: placeholders and globs in a path are not files to check
NOT_A_FILE = re.compile(r"[*?<>{}$]|\bDIR\b|\bFILE\b|\bNAME\b|\.\.\.")


def named_paths(page: Path) -> list[tuple[str, Path]]:
    text = page.read_text(encoding="utf-8")
    found: list[tuple[str, Path]] = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:|^#", target):
            continue
        found.append((target, page.parent / target.split("#")[0]))
    for span in CODE.findall(text):
        span = span.rstrip(".,:;")
        if span.split("/")[0] in TOP and "/" in span and not NOT_A_FILE.search(span):
            found.append((span, REPO / span.split("::")[0]))
    return found


def test_the_pages_name_files() -> None:
    assert len(PAGES) > 3 and sum(len(named_paths(p)) for p in PAGES) > 20


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_named_path_exists(page: Path) -> None:
    missing = sorted({name for name, path in named_paths(page) if not path.exists()})
    assert not missing, f"{page.relative_to(REPO)} names files that do not exist: {missing}"


def test_a_missing_path_is_found(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text("see [x](nowhere.md) and `src/agegender/nowhere.py`, not `src/*.py`\n")
    assert [n for n, p in named_paths(page) if not p.exists()] == ["nowhere.md", "src/agegender/nowhere.py"]

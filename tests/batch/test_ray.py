"""`agegender batch --engine ray` on a local Ray with 2 CPUs, started and stopped here.

Fewer faces than the local-engine test (80, not 300) so that it fits a 2-core CI: Ray's
start and its actors' model loading dominate. The engine code is the same at any size.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from tests.batch.helpers import (
    analyze_reference,
    assert_each_once,
    assert_same_as_analyze,
    by_source,
    crashing_analyzer,
    make_inputs,
    read_rows,
)

ray = pytest.importorskip("ray", reason='the Ray test needs pip install "agegender[distributed]"')


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def test_ray_engine_gives_the_rows_of_analyze(local_ray, utkface: Path, tmp_path: Path):
    import pyarrow.parquet as pq

    from agegender.batch import batch

    folder = tmp_path / "in"
    make_inputs(utkface, folder, 80)
    ref = analyze_reference(folder)
    s = batch([folder], tmp_path / "out", engine="ray", workers=2, batch_size=16)
    rows = read_rows(tmp_path / "out")
    assert_same_as_analyze(rows, ref)
    assert s.done == 83 and s.errors == 3 and s.faces == sum(len(o["faces"]) for o in ref.values())
    assert sorted(Path(r["source"]).name for r in rows if r["error_type"]) == [
        "zz-empty.png", "zz-not-an-image.jpg", "zz-truncated.jpg"]
    part = Path(s.paths[0])
    meta = pq.read_schema(part).metadata
    assert json.loads(meta[b"agegender.run"])["engine"] == "ray"
    assert {m["task"] for m in json.loads(meta[b"agegender.models"])} >= {"age", "gender", "detect"}
    again = batch([folder], tmp_path / "out", engine="ray", workers=2, resume=True)
    assert again.done == 0 and again.skipped == 83 and ray.is_initialized()  # not ours to stop


def test_ray_dead_actors_are_retried_and_a_killer_input_becomes_an_error_row(
    local_ray, utkface: Path, tmp_path: Path
):
    from agegender.batch import batch

    folder = tmp_path / "in"
    paths = make_inputs(utkface, folder, 6, corrupt=False)
    (folder / "poison.jpg").write_bytes(paths[0].read_bytes())
    (folder / "crash-once.jpg").write_bytes(paths[1].read_bytes())
    factory = functools.partial(crashing_analyzer, str(tmp_path))
    s = batch([folder], tmp_path / "out", engine="ray", workers=2, batch_size=4, factory=factory)
    rows = by_source(read_rows(tmp_path / "out"))
    assert len(rows) == 8
    assert_each_once(rows)
    (poison,) = rows[str(folder / "poison.jpg")]
    assert poison["error_type"] == "WorkerDiedError"
    assert rows[str(folder / "crash-once.jpg")][0]["face"] == 0
    assert s.errors == 1

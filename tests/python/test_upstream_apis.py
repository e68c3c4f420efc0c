"""Our backends called the way the newest upstream code calls them.

- pulsing main (wyeth93/Pulsing, not released): its ``BucketStorage`` checks
  backends against runtime-checkable protocols and then calls the training
  methods; the scenario runs its own ``storage.py``/``backend.py`` on the
  installed pulsing 0.1.2 (scripts/pulsing_main_scenario.py).
- upstream Persisting (DeepLink-org/Persisting): its ``BatchMeta``, samplers
  and ``get_sampled_batch`` helper, loaded from its own files, over our backends.

Their files come out of local git snapshots (``fetch``-ed mirrors under
``PERSISTING_UPSTREAM_MIRRORS``, default ``/work/.mirror``), at the commits
docs/backends.md compares with. Without a snapshot these tests skip: the code
under test is ours, the snapshot only supplies the caller.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from helpers import PYTHON_SRC, SCRIPTS, explain
from persisting.queue import LanceBackend, PersistingBackend

MIRRORS = Path(os.environ.get("PERSISTING_UPSTREAM_MIRRORS", "/work/.mirror"))
PULSING_MAIN = ("wyeth93/Pulsing", "a7d064a5ac756a935284cfddcf335c7e47aaf063")
UPSTREAM_PERSISTING = ("DeepLink-org/Persisting", "8ceaa707fe4e574224d86ff8d9166fa05742b025")


def extract(source: tuple[str, str], paths: list[str], into: Path) -> Path:
    """Writes ``paths`` as of the pinned commit under ``into``; skips without a snapshot."""
    repo, commit = source
    git_dir = MIRRORS / repo.replace("/", "+") / "repo"
    if not git_dir.is_dir():
        pytest.skip(f"no snapshot of {repo} at {git_dir} (set PERSISTING_UPSTREAM_MIRRORS)")
    for path in paths:
        proc = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{path}"],
                              capture_output=True, timeout=60)
        assert proc.returncode == 0, f"{repo} snapshot lacks {commit}:{path}: {proc.stderr.decode()}"
        (into / Path(path).name).write_bytes(proc.stdout)
    return into


# ---- pulsing main ---------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["lance", "persisting"])
def test_pulsing_main_bucket_storage_drives_our_backends(tmp_path, backend):
    main_dir = tmp_path / "main"
    main_dir.mkdir()
    extract(PULSING_MAIN, ["python/pulsing/streaming/backend.py", "python/pulsing/streaming/storage.py"], main_dir)
    env = {**os.environ, "PYTHONPATH": str(PYTHON_SRC)}
    proc = subprocess.run([sys.executable, "-X", "faulthandler", str(SCRIPTS / "pulsing_main_scenario.py"),
                           str(main_dir), str(tmp_path / "q"), backend],
                          capture_output=True, text=True, timeout=300, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, explain(proc)
    got = json.loads(line[len("RESULT "):])
    assert {"lance", "persisting"} <= set(got["registered"])
    # StorageBackend, TensorBackend, ConsumptionBackend: main routes every training call to us
    assert got["protocols"] == {"LanceBackend": [True] * 3, "PersistingBackend": [True] * 3}
    assert got["before"] == {"samples": [], "global_indexes": []}  # polled before the first put
    assert got["before_data"] == []
    assert got["put"] == {"status": "ok"}
    assert got["train_type"] == "dict"  # main sends get_meta's to_dict()
    assert got["train"] == [0, 1, 2, 3] and got["train_partition"] == "p0"
    assert got["train_fields"]["obs"] == {"name": "obs", "dtype": "float32", "shape": [2, 3],
                                          "production_status": "ready"}
    assert got["data"][1] == [[2, 3], "float32", [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]]]
    assert got["eval"] == [9, 8, 7]
    assert got["rest"] == [4, 7, 8, 9]  # 6 marked, 5 cleared
    assert got["by_index"] == [9, 0]  # a cleared index is skipped
    assert got["eval_again"] == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert got["count"] == 10 and got["backend"] == backend


# ---- upstream Persisting ----------------------------------------------------------------
@pytest.fixture
def upstream_persisting(tmp_path, monkeypatch) -> types.SimpleNamespace:
    """Upstream's metadata, samplers and reader, importable under their own
    ``persisting.*`` names for this test (their imports are absolute)."""
    files = tmp_path / "upstream"
    files.mkdir()
    extract(UPSTREAM_PERSISTING, [f"persisting/sampler/{n}.py" for n in
                                  ("base", "sequential_sampler", "grpo_group_n_sampler", "reader")]
            + ["persisting/queue/metadata.py"], files)
    sampler_package = types.ModuleType("persisting.sampler")
    sampler_package.__path__ = [str(files)]
    monkeypatch.setitem(sys.modules, "persisting.sampler", sampler_package)
    loaded = {}
    for module, name in [("persisting.queue.metadata", "metadata"), ("persisting.sampler.base", "base"),
                         ("persisting.sampler.sequential_sampler", "sequential_sampler"),
                         ("persisting.sampler.grpo_group_n_sampler", "grpo_group_n_sampler"),
                         ("persisting.sampler.reader", "reader")]:
        spec = importlib.util.spec_from_file_location(module, files / f"{name}.py")
        loaded[name] = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, module, loaded[name])
        spec.loader.exec_module(loaded[name])
    return types.SimpleNamespace(**loaded)


@pytest.mark.parametrize("cls", [LanceBackend, PersistingBackend])
async def test_upstream_persisting_helpers_over_our_backends(upstream_persisting, bucket_path, cls):
    up = upstream_persisting
    backend = cls(0, bucket_path)
    try:
        obs = np.arange(12, dtype=np.float32).reshape(6, 2)
        put = await backend.put_tensor({"obs": obs, "step": list(range(6))}, partition_id="p0")
        # what upstream's KVInterface reads of put_tensor's result
        assert (put.size, put.global_indexes, put.field_names) == (6, list(range(6)), ["obs", "step"])
        assert [r["step"] for r in await backend.get_data(put, fields=["step"])] == list(range(6))

        # get_sampled_batch: get_meta(fields=[], sampler=...), then meta.size and meta.field_names
        rows, offset = await up.reader.get_sampled_batch(backend, up.sequential_sampler.SequentialSampler(), 2, 0)
        assert offset == 2 and [r["step"] for r in rows] == [0, 1] and set(rows[0]) == {"obs", "step"}
        rows, offset = await up.reader.get_sampled_batch(
            backend, up.grpo_group_n_sampler.GRPOGroupNSampler(n_samples_per_prompt=2), 4, offset)
        assert offset == 6 and [r["step"] for r in rows] == [2, 3, 4, 5]
        assert (await up.reader.get_sampled_batch(backend, up.sequential_sampler.SequentialSampler(), 2, 6)) == ([], 6)

        # upstream's Queue: BatchMeta.from_dict of what the bucket sends, get_data(meta[.to_dict()], field_names)
        theirs = up.metadata.BatchMeta.from_dict(await backend.get_meta(["obs"], 2, "kv", partition_id="p0"))
        assert (theirs.size, theirs.global_indexes, theirs.field_names) == (2, [0, 1], ["obs"])
        assert theirs.samples[0].partition_id == "p0"
        assert theirs.samples[1].fields["obs"].to_dict() == {"name": "obs", "dtype": "float32", "shape": (2,),
                                                             "production_status": "ready"}
        for meta in (theirs, theirs.to_dict()):  # to_dict() has samples, no global_indexes
            rows = await backend.get_data(meta, fields=theirs.field_names)
            assert [list(r) for r in rows] == [["obs"], ["obs"]]
            assert (rows[1]["obs"] == obs[1]).all()
    finally:
        backend.close()

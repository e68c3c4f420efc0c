"""pylance changes a bucket's dataset between our writes (session 11): a column
dropped and brought back by a put, a column dropped and another widened, a
branch made from one of our versions. The bucket writes so that pylance still
reads every version and branch, and reads what pylance reads."""

from __future__ import annotations

import datetime
import os

import lance
import pyarrow as pa
import pytest

from persisting.queue import PersistingBackend

N = 50


def base() -> pa.Table:
    return pa.table({"id": pa.array(range(N), pa.int64()), "n": pa.array([i * 3 for i in range(N)], pa.int32()),
                     "f": pa.array([i / 4 for i in range(N)], pa.float32())})  # "f": the highest field id


# name: (pylance's change, the record we put after it, the columns pylance then reads, old rows first)
DROPS = {
    # the put brings "f" back as a new field (double): old rows read null in it
    "readd-dropped": (lambda ds: ds.drop_columns(["f"]), {"id": 1000, "n": 7, "f": 1.5},
                      {"id": list(range(N)) + [1000], "n": [i * 3 for i in range(N)] + [7], "f": [None] * N + [1.5]}),
    # a float widens "n" (int32) to double: its new field must not take "f"'s old id either
    "widen-after-drop": (lambda ds: ds.drop_columns(["f"]), {"id": 1000, "n": 2.5},
                         {"id": list(range(N)) + [1000], "n": [float(i * 3) for i in range(N)] + [2.5]}),
}


@pytest.mark.parametrize("version", ["2.0", "2.1", None])
@pytest.mark.parametrize("case", DROPS)
async def test_a_field_after_pylance_dropped_one_takes_a_new_id(bucket_path, case, version):
    """pylance's drop_columns leaves the column in the data files under its field id;
    a field the bucket added or widened afterwards took that id, and pylance then
    decoded the dropped float32 column as it ("Need at least 400 bytes in buffers[0]")."""
    change, record, want = DROPS[case]
    path = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(base(), path, **({"data_storage_version": version} if version else {}))
    change(lance.dataset(path))
    b = PersistingBackend(0, bucket_path, enable_wal=True, wal_sync_interval=0)
    try:
        await b.put(record)
        await b.flush()
        ours = await b.get_arrow()
    finally:
        b.close()
    ds = lance.dataset(path)
    ds.validate()
    theirs = ds.to_table()
    assert theirs.to_pydict() == want
    assert ours.equals(theirs)
    for v in ds.versions():  # every version still reads
        lance.dataset(path, version=v["version"]).to_table()


async def test_cleanup_keeps_the_files_of_pylance_branches(bucket_path):
    """A branch pylance made from one of our versions references that version's
    data files in place; compaction and cleanup of the bucket removed them, and
    the branch no longer read ("Not found: .../data/....lance")."""
    path = os.path.join(bucket_path, "data.lance")
    b = PersistingBackend(0, bucket_path, maintenance=False)
    try:
        for i in range(3):
            await b.put_batch([{"id": 10 * i + k} for k in range(10)])
            await b.flush()
        ds = lance.dataset(path)
        branch = ds.create_branch("exp", 2)  # our second flush
        branch.insert(pa.table({"id": pa.array([500], pa.int64())}))
        await b.put({"id": 99})
        await b.flush()
        assert (await b.compact())["fragments"] == 1
        r = await b.cleanup_old_versions(older_than=datetime.timedelta(0))
        assert r["old_versions"] == 3 and r["tagged_kept"] == 1  # versions 1, 3 and 4 go; 2 stays
        assert [v["version"] for v in await b.versions()] == [2, 5]
    finally:
        b.close()
    ours = lance.dataset(path)
    ours.validate()
    assert ours.to_table()["id"].to_pylist() == list(range(30)) + [99]
    theirs = ours.checkout_version(("exp", None))
    assert theirs.to_table()["id"].to_pylist() == list(range(20)) + [500]
    theirs.validate()

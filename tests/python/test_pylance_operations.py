"""Datasets that pylance's own operations left behind - deletes, updates, merge_insert,
compaction, overwrite, restore, column changes, indices, tags - at each file version pylance
writes: a bucket opened on one reads exactly what pylance reads (whole and by position),
takes a put, and pylance then reads its rows plus the new one."""

from __future__ import annotations

import datetime
import os

import lance
import numpy as np
import pyarrow as pa
import pytest

from persisting.queue import LanceBackend, PersistingBackend

ROWS = 1000


def rows(n: int = ROWS, start: int = 0) -> pa.Table:
    ids = range(start, start + n)
    return pa.table({"id": pa.array(ids, pa.int64()), "s": [f"v{i % 50}" for i in ids],
                     "f": [i / 3 for i in ids]})


def appended(path, kw):
    lance.write_dataset(rows(), path, **kw)
    for k in range(3):
        lance.write_dataset(rows(500, ROWS + 500 * k), path, mode="append")


def compacted(path, kw, cleanup=False):
    lance.write_dataset(rows(), path, max_rows_per_file=100, **kw)
    for k in range(5):
        lance.write_dataset(rows(50, ROWS + 50 * k), path, mode="append")
    lance.dataset(path).delete("id % 5 = 1")
    lance.dataset(path).optimize.compact_files()
    if cleanup:
        lance.dataset(path).cleanup_old_versions(older_than=datetime.timedelta(0))


def then(op):
    """A maker: pylance writes rows(), then op(dataset)."""
    def make(path, kw):
        lance.write_dataset(rows(), path, **kw)
        op(lance.dataset(path))
    return make


def upsert(ds):
    ds.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(rows(300, 900))


def restored(path, kw):
    lance.write_dataset(rows(), path, **kw)
    lance.write_dataset(rows(10, 5000), path, mode="append")
    lance.dataset(path, version=1).restore()


def with_vector_index(path, kw):
    vectors = pa.FixedSizeListArray.from_arrays(
        pa.array(np.random.default_rng(7).random(ROWS * 8, dtype=np.float32)), 8)
    lance.write_dataset(rows().append_column("v", vectors), path, **kw)
    lance.dataset(path).create_index("v", "IVF_PQ", num_partitions=2, num_sub_vectors=2)


def widened(path, kw):
    table = rows().set_column(2, "f", pa.array([i / 3 for i in range(ROWS)], pa.float32()))
    lance.write_dataset(table, path, **kw)
    lance.dataset(path).alter_columns({"path": "f", "data_type": pa.float64()})


# name: (maker, the versions it runs at; None is pylance's default)
OPERATIONS = {
    "appended": (appended, None),
    "small-files-and-groups": (lambda p, kw: lance.write_dataset(rows(), p, max_rows_per_file=7,
                                                                 max_rows_per_group=3, **kw), None),
    "deleted": (then(lambda ds: ds.delete("id % 3 = 0")), None),
    "whole-fragments-deleted": (lambda p, kw: (lance.write_dataset(rows(), p, max_rows_per_file=300, **kw),
                                               lance.dataset(p).delete("id < 650")), None),
    "everything-deleted": (then(lambda ds: ds.delete("true")), None),
    "updated": (then(lambda ds: ds.update({"s": "'upd'"}, where="id < 200")), None),
    "merge-inserted": (then(upsert), None),
    "compacted": (compacted, None),
    "compacted-and-cleaned-up": (lambda p, kw: compacted(p, kw, cleanup=True), None),
    "overwritten": (lambda p, kw: (lance.write_dataset(rows(), p, **kw),
                                   lance.write_dataset(rows(200, 5), p, mode="overwrite", **kw)), None),
    "restored": (restored, None),
    "column-added": (then(lambda ds: ds.add_columns({"g": "f * 2"})), None),
    "null-column-added": (then(lambda ds: ds.add_columns(pa.field("z", pa.int64()))), None),
    "column-merged": (then(lambda ds: ds.merge(pa.table({"id": pa.array(range(ROWS), pa.int64()),
                                                         "m": pa.array(range(ROWS), pa.int32())}), "id")), None),
    "column-widened": (widened, None),
    "btree-index": (then(lambda ds: ds.create_scalar_index("id", "BTREE")), None),
    "bitmap-index": (then(lambda ds: ds.create_scalar_index("s", "BITMAP")), None),
    "inverted-index": (then(lambda ds: ds.create_scalar_index("s", "INVERTED")), None),
    "vector-index": (with_vector_index, ["2.1", None]),  # 2.0 vectors: test_unappendable_datasets
    "tagged": (then(lambda ds: ds.tags.create("t1", 1)), None),
    "v2-manifest-paths": (lambda p, kw: (lance.write_dataset(rows(), p, enable_v2_manifest_paths=True, **kw),
                                         lance.write_dataset(rows(10, 5000), p, mode="append")), None),
}
VERSIONS = ["2.0", "2.1", None]
CASES = [(name, version) for name, (_, versions) in OPERATIONS.items() for version in versions or VERSIONS]


def new_record(schema: pa.Schema) -> dict:
    values = {"id": 10**9, "s": "mine", "f": 1.5, "g": 3.0, "m": 7, "z": None,
              "v": [0.5] * 8}
    return {name: values[name] for name in schema.names}


@pytest.mark.parametrize("name,version", CASES, ids=[f"{n}-{v or 'default'}" for n, v in CASES])
async def test_bucket_over_pylance_operation(bucket_path, name, version):
    path = os.path.join(bucket_path, "data.lance")
    OPERATIONS[name][0](path, {"data_storage_version": version} if version else {})
    expected = lance.dataset(path).to_table()
    make = LanceBackend if name != "deleted" else (
        lambda i, p: PersistingBackend(i, p, enable_wal=True))  # one case through the WAL too
    b = make(0, bucket_path)
    try:
        stats = await b.stats()
        assert not stats["read_only"], stats.get("read_only_reason")
        got = await b.get_arrow()
        assert got.schema == expected.schema
        assert got.equals(expected)
        assert b.total_count() == expected.num_rows
        assert await b.get(3, 100) == expected.slice(100, 3).to_pylist()
        mine = new_record(expected.schema)
        await b.put(mine)
        await b.flush()
    finally:
        b.close()
    after = lance.dataset(path).to_table()
    assert after.num_rows == expected.num_rows + 1
    assert after.slice(0, expected.num_rows).equals(expected)
    assert after.slice(expected.num_rows).to_pylist() == [mine]

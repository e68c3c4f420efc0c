"""Fixed-size lists of fixed-size lists (matrices: ``pa.list_(pa.list_(
pa.float32(), 3), 2)``), alone, in lists and in structs: pylance writes them
at each data storage version (structs from 2.1), a bucket reads them exactly
and appends (``put_arrow`` and dict ``put`` of lists of vectors) so that
pylance reads everything back exactly."""

from __future__ import annotations

import os

import lance
import pyarrow as pa
import pytest

from persisting import SchemaError
from persisting.queue import LanceBackend, PersistingBackend

ROWS = 3000  # two fragments of 1500 rows
MAT = pa.list_(pa.list_(pa.float32(), 3), 2)


def _vec(i):
    return None if i % 5 == 1 else [None if (i + k) % 7 == 2 else float(i * 3 + k) for k in range(3)]


def _mat(i):
    return None if i % 11 == 4 else [_vec(i), _vec(i + 1)]


def _table(version: str) -> pa.Table:
    cols = {
        "id": pa.array(range(ROWS), pa.int64()),
        "m": pa.array([_mat(i) for i in range(ROWS)], MAT),
        "lm": pa.array([None if i % 13 == 2 else [_mat(i + k) for k in range(i % 3)] for i in range(ROWS)],
                       pa.list_(MAT)),
        "cube": pa.array([None if i % 9 == 0 else [_mat(i), _mat(i + 2)] for i in range(ROWS)], pa.list_(MAT, 2)),
        "mask": pa.array([None if i % 6 == 0 else [None if i % 4 == 1 else [(i + k) % 3 == 0 for k in range(4)],
                                                   [None if k == i % 5 else k % 2 == 0 for k in range(4)]]
                          for i in range(ROWS)], pa.list_(pa.list_(pa.bool_(), 4), 2)),
    }
    if version != "2.0":  # pylance stores struct validity from 2.1
        cols["st"] = pa.array([None if i % 8 == 5 else {"emb": _mat(i), "n": i} for i in range(ROWS)],
                              pa.struct([("emb", MAT), ("n", pa.int32())]))
    return pa.table(cols)


@pytest.mark.parametrize("version", ["2.0", "2.1", "2.2"])
async def test_read_and_append_like_pylance(bucket_path, version):
    table = _table(version)
    uri = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(table.slice(0, ROWS // 2), uri, data_storage_version=version)
    lance.write_dataset(table.slice(ROWS // 2), uri, mode="append", data_storage_version=version)
    b = LanceBackend(0, bucket_path)
    try:
        got = await b.get_arrow()
        assert got.schema == table.schema and got.equals(table)
        assert await b.get(4, 1498) == table.slice(1498, 4).to_pylist()
        assert not (await b.stats())["read_only"]
        await b.put_arrow(table.slice(10, 20))
        row = {"id": -1, "m": [[1.0, 2.0, 3.0], None], "lm": [[None, [4, 5, 6]], None], "cube": None,
               "mask": [None, [True, None, False, True]]}
        if version != "2.0":
            row["st"] = {"emb": [[7.0, None, 9.0], [0.5, 0.25, 0.125]], "n": 3}
        await b.put(row)
        await b.put({"id": -2})
        await b.flush()
    finally:
        b.close()
    back = lance.dataset(uri).to_table()
    extra = pa.Table.from_pylist([row, {"id": -2}], schema=table.schema)
    assert back.schema == table.schema
    assert back.equals(pa.concat_tables([table, table.slice(10, 20), extra]))


@pytest.mark.parametrize("version", ["2.0", "2.1", "2.2"])
async def test_fresh_bucket_put_arrow(bucket_path, version):
    table = _table(version)
    b = PersistingBackend(0, bucket_path, data_storage_version=version)
    try:
        await b.put_arrow(table)
        await b.flush()
        assert (await b.get_arrow()).equals(table)
    finally:
        b.close()
    ds = lance.dataset(os.path.join(bucket_path, "data.lance"))
    assert ds.data_storage_version == version and ds.to_table().equals(table)


@pytest.mark.parametrize("value,message", [
    ([[1.0, 2.0, 3.0]], "field 'm': expected fixed_size_list<item: fixed_size_list<item: float>[3]>[2] (2 elements), "
                        "found 1 elements"),
    ([[1.0, 2.0, 3.0], [1.0, 2.0]], "field 'm[]': expected fixed_size_list<item: float>[3] (3 elements), "
                                    "found 2 elements"),
    ([["a", "b", "c"], None], "field 'm[][]': expected float, found str 'a'"),
])
async def test_bad_matrices_are_refused_and_nothing_stored(bucket_path, value, message):
    table = _table("2.2").select(["id", "m"])
    uri = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(table, uri)
    b = LanceBackend(0, bucket_path)
    try:
        with pytest.raises(SchemaError) as e:
            await b.put_batch([{"id": -1, "m": None}, {"id": -2, "m": value}])
        assert message in str(e.value), e.value
        assert b.total_count() == ROWS
        await b.flush()
    finally:
        b.close()
    assert lance.dataset(uri).to_table().equals(table)

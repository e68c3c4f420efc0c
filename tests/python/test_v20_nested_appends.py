"""Datasets pylance wrote at data storage version 2.0 (its default for a long
time) with a vector (fixed_size_list), list, large_list or float16 column take
appends: put_arrow and a dict put are flushed as 2.0 files pylance reads back
exactly, and compaction of such a dataset reads back exactly too. A 2.0
struct column still makes the bucket read-only (test_unappendable_datasets)."""

from __future__ import annotations

import os

import lance
import numpy as np
import pyarrow as pa
import pytest

from persisting.queue import LanceBackend

N = 40


def vector(i: int):
    return None if i % 5 == 3 else [float(i), -float(i), 0.5, float(i % 9)]


def ints(i: int):
    if i % 7 == 1:
        return None
    return [] if i % 7 == 2 else [None if (i + k) % 5 == 0 else i * 10 + k for k in range(i % 4 + 1)]


def strings(i: int):
    return None if i % 6 == 4 else ["é%d" % k if (i + k) % 4 else None for k in range(i % 3)]


# name: (arrow type, value of row i)
COLUMNS = {
    "vector": (pa.list_(pa.float32(), 4), vector),
    "vector_f64_null_items": (pa.list_(pa.float64(), 2), lambda i: [None if i % 3 == 0 else i / 4, 1.5]),
    "bool_vector": (pa.list_(pa.bool_(), 3), lambda i: None if i % 4 == 0 else [i % 2 == 0, True, None]),
    "list_int64": (pa.list_(pa.int64()), ints),
    "large_list_string": (pa.large_list(pa.string()), strings),
    "list_of_vectors": (pa.list_(pa.list_(pa.float32(), 2)),
                        lambda i: None if i % 8 == 7 else [[float(i), float(k)] for k in range(i % 3)]),
    "half": (pa.float16(), lambda i: None if i % 3 == 1 else np.float16(i / 8)),
}


def table(name: str, start: int, n: int) -> pa.Table:
    dt, value = COLUMNS[name]
    return pa.table({"id": pa.array(range(start, start + n), pa.int64()),
                     name: pa.array([value(i) for i in range(start, start + n)], dt)})


@pytest.mark.parametrize("name", COLUMNS)
async def test_append_and_compact_2_0_nested(bucket_path, name):
    path = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(table(name, 0, N), path, data_storage_version="2.0")
    b = LanceBackend(0, bucket_path)
    try:
        assert (await b.stats())["read_only"] is False
        assert await b.put_arrow(table(name, N, N)) == N
        await b.flush()
        row = table(name, 2 * N, 1).to_pylist()[0]
        await b.put(row)
        await b.flush()
        want = pa.concat_tables([table(name, 0, 2 * N), table(name, 2 * N, 1)])
        ds = lance.dataset(path)
        assert ds.data_storage_version == "2.0" and len(ds.get_fragments()) >= 2
        assert ds.to_table().equals(want)
        assert (await b.get_arrow()).equals(want)
        out = await b.compact()
        assert out["fragments"] < out["fragments_before"], out
        ds = lance.dataset(path)
        assert len(ds.get_fragments()) == 1 and ds.to_table().equals(want)
        assert (await b.get_arrow()).equals(want)
    finally:
        b.close()

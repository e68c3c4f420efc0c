"""fixed_size_list<bool> columns (masks, bool tensors) through the engine: put_arrow
writes them as pylance 14 does, get/get_arrow and pylance read them back exactly."""

from __future__ import annotations

import os

import lance
import pyarrow as pa
import pytest

from persisting.queue import LanceBackend, PersistingBackend


def masks(n: int, dim: int, null_row_every: int = 0, null_item_every: int = 0) -> pa.Array:
    """n bool vectors of dim items, every null_row_every-th row and null_item_every-th item null."""
    rows, item = [], 0
    for i in range(n):
        if null_row_every and i % null_row_every == 0:
            rows.append(None)
            item += dim
            continue
        row = []
        for j in range(dim):
            item += 1
            row.append(None if null_item_every and item % null_item_every == 0 else (i * 7 + j * 3) % 5 < 2)
        rows.append(row)
    return pa.array(rows, pa.list_(pa.bool_(), dim))


def table(n: int, start: int = 0) -> pa.Table:
    inner = masks(n, 5, null_row_every=4)
    return pa.table({
        "id": pa.array([f"k{start + i}" for i in range(n)]),
        "mask": masks(n, 13, null_row_every=6, null_item_every=7),
        "wide": masks(n, 4096),
        "bit": masks(n, 1, null_item_every=3),
        "st": pa.StructArray.from_arrays([pa.array(range(n), pa.int32()), inner], ["n", "m"]),
    })


@pytest.mark.parametrize("make, version", [
    (lambda **kw: LanceBackend(**kw), "2.2"),  # LanceBackend writes 2.2
    (lambda **kw: PersistingBackend(data_storage_version="2.1", **kw), "2.1"),
    (lambda **kw: PersistingBackend(data_storage_version="2.2", **kw), "2.2"),
])
async def test_bool_vectors_round_trip_through_engine_and_pylance(bucket_path, make, version):
    first, second = table(300), table(77, start=300)
    b = make(bucket_id=0, storage_path=bucket_path, batch_size=64, flush_threshold=100)
    try:
        assert await b.put_arrow(first) == 300
        assert await b.put_arrow(second.to_batches()[0]) == 77
        await b.flush()
        want = pa.concat_tables([first, second])
        got = await b.get_arrow()
        assert got.schema.field("mask").type == pa.list_(pa.bool_(), 13)
        assert got.select(want.column_names).equals(want)
        assert (await b.get_arrow(20, 290)).select(want.column_names).equals(want.slice(290, 20))
        rows = await b.get(limit=10, offset=5)
        assert [{k: r[k] for k in want.column_names} for r in rows] == want.slice(5, 10).to_pylist()
    finally:
        b.close()
    ds = lance.dataset(os.path.join(bucket_path, "data.lance"))
    assert ds.data_storage_version == version
    assert ds.to_table().select(want.column_names).equals(want)

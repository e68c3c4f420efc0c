"""create_index / indices / get_where and nested values in put(), on both
backends against the real engine, checked with pylance."""

from __future__ import annotations

import os

import lance
import pyarrow as pa
import pytest

from persisting import SchemaError, StorageError, UnsupportedError
from persisting.queue import LanceBackend, PersistingBackend

BACKENDS = {
    "lance": lambda p: LanceBackend(0, p, batch_size=4),
    "persisting": lambda p: PersistingBackend(0, p, batch_size=4),
    "persisting-wal": lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=0),
}


def rec(i: int) -> dict:
    return {"id": i, "k": i % 5, "s": f"s{i % 3}", "x": i / 4, "maybe": None if i % 4 == 0 else i}


@pytest.fixture(params=list(BACKENDS))
async def backend(request, bucket_path):
    b = BACKENDS[request.param](bucket_path)
    yield b
    if not b.closed:
        b.close()


def dataset(b) -> lance.LanceDataset:
    return lance.dataset(os.path.join(b.storage_path, "data.lance"))


async def test_create_index_is_a_lance_index_and_get_where_matches_a_filter(backend):
    await backend.put_batch([rec(i) for i in range(40)])
    await backend.flush()
    await backend.put_batch([rec(i) for i in range(40, 50)])  # flushed: in no index
    info = await backend.create_index("k")
    assert info["name"] == "k_idx" and info["type"] == "BTree" and info["columns"] == ["k"]
    info = await backend.create_index("s", kind="bitmap")
    assert info["type"] == "Bitmap"
    assert [i["name"] for i in await backend.indices()] == ["k_idx", "s_idx"]
    ds = dataset(backend)
    assert {(i["name"], i["type"], tuple(i["fields"])) for i in ds.list_indices()} == {
        ("k_idx", "BTree", ("k",)), ("s_idx", "Bitmap", ("s",))}
    # records appended after the index, some still held in Python
    for i in range(50, 57):
        await backend.put(rec(i))
    rows = await backend.get()
    assert len(rows) == 57
    assert await backend.get_where("k", eq=3) == [r for r in rows if r["k"] == 3]
    assert await backend.get_where("s", eq="s1") == [r for r in rows if r["s"] == "s1"]
    assert await backend.get_where("x", lo=2, hi=5.5) == [r for r in rows if 2 <= r["x"] < 5.5]
    assert await backend.get_where("k", lo=1, hi=3, lo_inclusive=False, hi_inclusive=True) == [
        r for r in rows if 1 < r["k"] <= 3]
    assert await backend.get_where("id", lo=50) == [r for r in rows if r["id"] >= 50]
    assert await backend.get_where("s", hi="s1") == [r for r in rows if r["s"] < "s1"]
    assert await backend.get_where("maybe", is_null=True) == [r for r in rows if r["maybe"] is None]
    assert await backend.get_where("k", eq=99) == []
    table = await backend.get_where("k", eq=3, as_arrow=True)
    assert isinstance(table, pa.Table) and table.to_pylist() == [r for r in rows if r["k"] == 3]
    assert backend.total_count() == 57
    # pylance agrees on the dataset as it is now (get_where flushed everything)
    ds = dataset(backend)
    assert ds.count_rows() == 57
    assert ds.to_table(filter="k = 3").to_pylist() == [r for r in rows if r["k"] == 3]
    assert ds.to_table(filter="s = 's1'").to_pylist() == [r for r in rows if r["s"] == "s1"]


async def test_create_index_covers_records_held_in_python(backend):
    await backend.put_batch([rec(i) for i in range(3)])  # nothing flushed yet
    info = await backend.create_index("id")
    assert info["fragments"] >= 1
    assert dataset(backend).count_rows() == 3
    assert await backend.get_where("id", eq=2) == [rec(2)]


async def test_index_bad_column_kind_and_condition_are_clear_errors(backend):
    await backend.put_batch([rec(0) | {"meta": {"a": 1}}] + [rec(i) for i in range(1, 6)])
    with pytest.raises(SchemaError, match=r"""no top-level column ["']nope["']"""):
        await backend.create_index("nope")
    with pytest.raises(SchemaError, match="'nope'"):
        await backend.get_where("nope", eq=1)
    with pytest.raises(ValueError, match="unknown index kind 'HASH'"):
        await backend.create_index("k", kind="HASH")
    with pytest.raises(TypeError, match="kind"):
        await backend.create_index("k", kind=3)
    with pytest.raises(TypeError, match="column"):
        await backend.create_index(5)
    with pytest.raises(UnsupportedError, match="meta"):
        await backend.create_index("meta")
    with pytest.raises(ValueError, match="exactly one condition"):
        await backend.get_where("k")
    with pytest.raises(ValueError, match="exactly one condition"):
        await backend.get_where("k", eq=1, lo=0)
    with pytest.raises(ValueError, match="is_null"):
        await backend.get_where("k", eq=None)
    with pytest.raises(ValueError, match="finite"):
        await backend.get_where("x", lo=float("nan"))
    with pytest.raises(TypeError, match="eq must be"):
        await backend.get_where("k", eq=[1])
    with pytest.raises(StorageError, match="cannot be compared"):
        await backend.get_where("k", eq="text")
    assert backend.total_count() == 6
    assert await backend.indices() == []


NESTED = [
    {"id": 0, "meta": {"user": "ann", "score": 1.5, "tags": ["a", "b"], "pos": {"x": 1, "y": 2}},
     "vec": [0.5, 1.0, -2.25], "ids": [1, 2, 3], "names": ["p", "q"],
     "items": [{"sku": "a1", "n": 2}, {"sku": "b2", "n": None}]},
    {"id": 1, "meta": {"user": None, "score": None, "tags": [], "pos": None},
     "vec": None, "ids": [None, 4], "names": [], "items": None},
    {"id": 2, "meta": None, "vec": [1, 2.5], "ids": [], "names": [None, "r"], "items": []},
]
#: what get() reads back: a struct shows every key, ints among floats are floats
NESTED_READ = [NESTED[0], NESTED[1], dict(NESTED[2], vec=[1.0, 2.5])]


async def test_nested_values_round_trip_through_get_and_pylance(backend):
    await backend.put_batch(NESTED[:2])
    await backend.put(NESTED[2])
    assert await backend.get() == NESTED_READ
    await backend.flush()
    ds = dataset(backend)
    schema = ds.schema
    assert schema.field("meta").type == pa.struct([
        ("user", pa.string()), ("score", pa.float64()), ("tags", pa.list_(pa.string())),
        ("pos", pa.struct([("x", pa.int64()), ("y", pa.int64())]))])
    assert schema.field("vec").type == pa.list_(pa.float64())
    assert schema.field("ids").type == pa.list_(pa.int64())
    assert schema.field("names").type == pa.list_(pa.string())
    assert schema.field("items").type == pa.list_(pa.struct([("sku", pa.string()), ("n", pa.int64())]))
    assert ds.to_table().to_pylist() == NESTED_READ
    # a dict may leave keys out (null); a new key or a wrong type is refused
    await backend.put({"id": 3, "meta": {"user": "bo"}, "vec": [3.0]})
    row = (await backend.get(offset=3))[0]
    assert row["meta"] == {"user": "bo", "score": None, "tags": None, "pos": None}
    with pytest.raises(SchemaError, match=r"'meta'.*'extra' is not a field"):
        await backend.put({"id": 4, "meta": {"extra": 1}})
    with pytest.raises(SchemaError, match=r"'meta.pos.x'.*int64.*str"):
        await backend.put({"id": 4, "meta": {"pos": {"x": "one"}}})
    with pytest.raises(SchemaError, match=r"'ids\[\]'.*int64.*float"):
        await backend.put({"id": 4, "ids": [1.5]})
    with pytest.raises(SchemaError, match=r"'vec'.*list.*found a dict"):
        await backend.put({"id": 4, "vec": {"a": 1.0}})
    with pytest.raises(SchemaError, match=r"'id'.*int64.*found a list"):
        await backend.put({"id": [4]})
    assert backend.total_count() == 4
    backend.close()
    again = type(backend)(0, backend.storage_path)
    try:
        await again.put({"id": 5, "items": [{"sku": "c3", "n": 7}]})
        assert (await again.get())[:3] == NESTED_READ
        assert (await again.get(offset=4))[0]["items"] == [{"sku": "c3", "n": 7}]
    finally:
        again.close()


async def test_persisting_backend_adds_a_struct_field(bucket_path):
    b = PersistingBackend(0, bucket_path)
    try:
        await b.put({"id": 0})
        await b.flush()
        await b.put({"id": 1, "meta": {"a": 1, "b": ["x"]}})
        await b.put({"id": 2, "meta": {"a": 2}})
        want = [{"id": 0, "meta": None}, {"id": 1, "meta": {"a": 1, "b": ["x"]}},
                {"id": 2, "meta": {"a": 2, "b": None}}]
        assert await b.get() == want
        await b.flush()
        assert dataset(b).to_table().to_pylist() == want
    finally:
        b.close()


async def test_a_2_0_bucket_refuses_structs_naming_the_field_and_takes_lists(bucket_path):
    b = PersistingBackend(0, bucket_path, data_storage_version="2.0")
    try:
        with pytest.raises(UnsupportedError, match=r"""["']meta["'].*2\.0"""):
            await b.put({"id": 0, "meta": {"a": 1}})
        await b.put({"id": 0})
        await b.flush()
        await b.put({"id": 1, "vec": [1.0]})  # lists are written at 2.0 too
        assert await b.get() == [{"id": 0, "vec": None}, {"id": 1, "vec": [1.0]}]
        await b.flush()
        assert dataset(b).data_storage_version == "2.0"
        assert dataset(b).to_table().to_pylist() == [{"id": 0, "vec": None}, {"id": 1, "vec": [1.0]}]
    finally:
        b.close()
    with pytest.raises(ValueError, match="data_storage_version"):
        PersistingBackend(0, bucket_path, data_storage_version="3.0")

"""Datasets pylance wrote that the engine can read but never append to: a put
is refused at once with the reason (UnsupportedError), stats() says read-only
and why, nothing is accepted - so nothing acknowledged can be lost at close -
and what is on disk still reads. Before, these puts were accepted and every
flush failed."""

from __future__ import annotations

import os

import lance
import pyarrow as pa
import pytest

from persisting import SchemaError, StorageError, UnsupportedError
from persisting.queue import LanceBackend, PersistingBackend

N = 6


def base() -> pa.Table:
    return pa.table({"id": pa.array(range(N), pa.int64()), "s": [f"v{i}" for i in range(N)]})


def with_struct(t: pa.Table) -> pa.Table:
    return t.append_column("point", pa.array([{"x": i, "y": i / 2} for i in range(N)],
                                             pa.struct([("x", pa.int64()), ("y", pa.float64())])))


# name: (table maker, write_dataset options, words the refusal must say, words a failed read says)
CASES = {
    "stable-row-ids": (base, {"enable_stable_row_ids": True}, ["writer feature flag 2 (stable row ids)"], None),
    "stable-row-ids-2.0": (base, {"enable_stable_row_ids": True, "data_storage_version": "2.0"},
                           ["writer feature flag 2 (stable row ids)"], None),
    # vectors and lists in 2.0 append (test_v20_nested_appends.py); structs do not
    "struct-2.0": (lambda: with_struct(base()), {"data_storage_version": "2.0"},
                   ['field "point"', "2.1 or later", "not 2.0"], None),
    "legacy-0.1": (base, {"data_storage_version": "legacy"}, ["data storage version is 0.1"],
                   ["Lance v1 data file", "persisting does not read data storage version 0.1"]),
}

BACKENDS = {
    "lance": lambda p: LanceBackend(0, p),
    "persisting-wal": lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=0),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES)
async def test_put_refused_nothing_lost_reads_work(bucket_path, case, backend):
    make_table, options, says, read_fails_with = CASES[case]
    table = make_table()
    path = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(table, path, **options)
    on_disk = lance.dataset(path).to_table()
    for attempt in range(2):  # the second open finds no refused row waiting in a WAL
        b = BACKENDS[backend](bucket_path)
        try:
            stats = await b.stats()
            assert stats["read_only"] is True and b.total_count() == N
            for word in says:
                assert word in stats["read_only_reason"], stats["read_only_reason"]
            row = table.slice(0, 1).to_pylist()[0]
            for put in (lambda: b.put(row), lambda: b.put_batch([row, row]),
                        lambda: b.put_arrow(table.slice(0, 2))):
                with pytest.raises(UnsupportedError) as info:
                    await put()
                for word in says:
                    assert word in str(info.value), str(info.value)
            assert b.total_count() == N and (await b.stats())["buffer_count"] == 0
            await b.flush()  # nothing was accepted, so nothing to write
            if read_fails_with is None:
                assert (await b.get_arrow()).equals(on_disk)
            else:
                with pytest.raises(StorageError) as info:
                    await b.get()
                for word in read_fails_with:
                    assert word in str(info.value), str(info.value)
        finally:
            b.close()
    ds = lance.dataset(path)
    assert ds.to_table().equals(on_disk) and len(ds.versions()) == 1


def packed(meta_key: str) -> pa.Table:
    pair = pa.struct([("a", pa.int32()), ("b", pa.float64())])
    field = pa.field("pair", pair, metadata={meta_key: "true"})
    return pa.table([pa.array(range(N), pa.int64()), pa.array([{"a": i, "b": i / 2} for i in range(N)], pair)],
                    schema=pa.schema([pa.field("id", pa.int64()), field]))


def blob() -> pa.Table:
    field = pa.field("img", pa.large_binary(), metadata={"lance-encoding:blob": "true"})
    return pa.table([pa.array(range(N), pa.int64()), pa.array([b"x" * i for i in range(N)], pa.large_binary())],
                    schema=pa.schema([pa.field("id", pa.int64()), field]))


def blob_v2() -> pa.Table:
    return pa.table([pa.array(range(N), pa.int64()), lance.blob_array([b"x" * i for i in range(N)])],
                    schema=pa.schema([pa.field("id", pa.int64()), lance.blob_field("img")]))


# name: (table maker, data storage version, words the refusal must say)
LAYOUTS = {
    "blob-2.0": (blob, "2.0", ['field "img"', '"lance-encoding:blob"']),
    "blob-2.1": (blob, "2.1", ['field "img"', '"lance-encoding:blob"']),
    "blob-v2-2.2": (blob_v2, "2.2", ['field "img"', "lance.blob.v2"]),
    "packed-2.1": (lambda: packed("packed"), "2.1", ['field "pair"', '"packed"']),
    "packed-2.2": (lambda: packed("lance-encoding:packed"), "2.2", ['field "pair"', '"lance-encoding:packed"']),
}


@pytest.mark.parametrize("case", LAYOUTS)
async def test_layouts_we_do_not_write_are_refused(tmp_path, case):
    """Blob and packed-struct columns (field metadata or extension type) get a
    layout our writer does not produce; written plain, pylance cannot read
    them (blobs) or reads nulls (packed). So puts into pylance's dataset are
    refused, and a new bucket refuses such a schema and creates nothing."""
    make_table, version, says = LAYOUTS[case]
    table = make_table()
    theirs, ours = str(tmp_path / "theirs"), str(tmp_path / "ours")
    lance.write_dataset(table, os.path.join(theirs, "data.lance"), data_storage_version=version)
    on_disk = lance.dataset(os.path.join(theirs, "data.lance")).to_table()
    for path in (theirs, ours):
        b = LanceBackend(0, path)
        try:
            if path == theirs:
                stats = await b.stats()
                assert stats["read_only"] is True
                assert all(word in stats["read_only_reason"] for word in says), stats["read_only_reason"]
            with pytest.raises(UnsupportedError) as info:
                await b.put_arrow(table)
            assert all(word in str(info.value) for word in says), str(info.value)
            assert (await b.stats())["buffer_count"] == 0
        finally:
            b.close()
    assert lance.dataset(os.path.join(theirs, "data.lance")).to_table().equals(on_disk)
    assert not os.path.exists(os.path.join(ours, "data.lance"))


async def test_nulls_below_the_top_in_fields_that_are_not_nullable_are_refused(bucket_path):
    """A struct child or list item pylance declared not nullable: a put whose
    value is null there is refused (every flush would fail on it); a null
    struct or list above it is fine, and pylance reads exactly what was kept."""
    pair = pa.struct([pa.field("a", pa.int32(), nullable=False)])
    items = pa.list_(pa.field("item", pa.int64(), nullable=False))
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("st", pair), pa.field("l", items)])
    path = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(pa.table([pa.array([1]), pa.array([{"a": 1}], pair), pa.array([[1]], items)], schema=schema),
                        path, data_storage_version="2.1")
    null_child = pa.StructArray.from_arrays([pa.array([None], pa.int32())], fields=list(pair))
    b = PersistingBackend(0, bucket_path, enable_wal=True, wal_sync_interval=0)
    try:
        for put, says in [
            (lambda: b.put({"id": 2, "st": {"a": None}, "l": [1]}), "'st.a'"),
            (lambda: b.put({"id": 2, "st": {"a": 1}, "l": [1, None]}), r"'l\[\]'"),
            (lambda: b.put_arrow(pa.table([pa.array([2]), null_child, pa.array([[1]], items)], schema=schema)), "'st.a'"),
        ]:
            with pytest.raises(SchemaError, match=says):
                await put()
        await b.put({"id": 3, "st": None, "l": None})
        await b.flush()
    finally:
        b.close()
    assert lance.dataset(path).to_table().to_pylist() == [
        {"id": 1, "st": {"a": 1}, "l": [1]}, {"id": 3, "st": None, "l": None}]

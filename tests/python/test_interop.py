"""pylance is the oracle of the Lance format: what LanceBackend writes, pylance
reads back exactly; what pylance writes, LanceBackend reads."""

from __future__ import annotations

import os

import lance
import pyarrow as pa
import pytest

from persisting import UnsupportedError
from persisting.queue import LanceBackend, PersistingBackend

ROWS = [
    {"id": "k0", "seq": 0, "score": 0.5, "ok": True, "note": "first", "raw": b"\x00"},
    {"id": "k1", "seq": -1, "score": None, "ok": False, "note": None, "raw": None},
    {"id": "k2", "seq": 2**40, "score": -1e300, "ok": None, "note": "ünïcødé ✓", "raw": b"\xff" * 3},
    {"id": "k3", "seq": None, "score": 3.25, "ok": True, "note": "", "raw": b""},
]
SCHEMA = pa.schema([("id", pa.string()), ("seq", pa.int64()), ("score", pa.float64()),
                    ("ok", pa.bool_()), ("note", pa.string()), ("raw", pa.binary())])


def dataset_path(storage_path: str) -> str:
    return os.path.join(storage_path, "data.lance")


async def test_pylance_reads_what_lance_backend_wrote(bucket_path):
    b = LanceBackend(0, bucket_path, batch_size=3)
    try:
        await b.put_batch(ROWS[:2])
        await b.flush()
        await b.put_batch(ROWS[2:])
        await b.flush()
        # every flush is one version; the earlier one stays readable
        ds = lance.dataset(dataset_path(bucket_path))
        table = ds.to_table()
        assert table.to_pylist() == ROWS
        assert ds.count_rows() == 4
        for field in SCHEMA:
            assert table.schema.field(field.name).type == field.type, field.name
        versions = [v["version"] for v in ds.versions()]
        assert len(versions) >= 2
        latest = ds.version
        previous = lance.dataset(dataset_path(bucket_path), version=latest - 1)
        assert previous.to_table().to_pylist() == ROWS[:2]
    finally:
        b.close()


async def test_pylance_reads_many_flushes_and_large_batches(bucket_path):
    b = LanceBackend(0, bucket_path, batch_size=100, flush_threshold=500)
    rows = [{"id": f"k{i}", "seq": i, "score": i * 0.5, "ok": i % 3 == 0, "note": f"n{i}" * (i % 5),
             "raw": bytes([i % 256]) * (i % 4)}
            for i in range(2345)]
    try:
        for r in rows:
            await b.put(r)
        await b.flush()
        assert lance.dataset(dataset_path(bucket_path)).to_table().to_pylist() == rows
        assert (await b.stats())["persisted_count"] == 2345
    finally:
        b.close()


async def test_lance_backend_reads_and_appends_to_what_pylance_wrote_as_2_0(bucket_path):
    table = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    lance.write_dataset(table, dataset_path(bucket_path), data_storage_version="2.0")
    lance.write_dataset(table.slice(0, 2), dataset_path(bucket_path), mode="append",
                        data_storage_version="2.0")
    expected = ROWS + ROWS[:2]
    b = LanceBackend(0, bucket_path)
    try:
        stats = await b.stats()
        assert stats["persisted_count"] == 6 and b.total_count() == 6 and not stats["read_only"]
        assert await b.get() == expected
        assert await b.get(2, 3) == expected[3:5]
        # appends continue the same dataset, readable by pylance again
        mine = {"id": "k9", "seq": 9, "score": 9.0, "ok": True, "note": "mine", "raw": b"9"}
        await b.put(mine)
        await b.flush()
        got = lance.dataset(dataset_path(bucket_path)).to_table().to_pylist()
        assert got == expected + [mine]
    finally:
        b.close()


MINE = {"id": "k9", "seq": 9, "score": 9.0, "ok": True, "note": "mine", "raw": b"9"}


@pytest.mark.parametrize("make", [
    lambda p: LanceBackend(0, p, batch_size=1),
    lambda p: LanceBackend(0, p, batch_size=100),
    lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=0),
    lambda p: PersistingBackend(0, p),
], ids=["lance-batch1", "lance-batch100", "persisting-wal", "persisting"])
async def test_pylance_default_dataset_is_read_fully_and_refuses_appends_clearly(bucket_path, make):
    """pylance writes data file version 2.2 by default. The engine reads it, but
    writes 2.0 only, so it cannot append to such a dataset: the bucket is
    read-only, and every append says so at once (UnsupportedError), keeping
    what is there - nothing is accepted that could never be written."""
    table = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    lance.write_dataset(table, dataset_path(bucket_path))
    lance.write_dataset(table.slice(0, 2), dataset_path(bucket_path), mode="append")
    assert lance.dataset(dataset_path(bucket_path)).data_storage_version == "2.2"
    expected = ROWS + ROWS[:2]
    b = make(bucket_path)
    try:
        stats = await b.stats()
        assert stats["persisted_count"] == 6 and b.total_count() == 6 and stats["read_only"]
        assert await b.get() == expected  # the engine reads 2.2 files
        assert await b.get(2, 3) == expected[3:5]
        attempts = [lambda: b.put(MINE), lambda: b.put_batch([MINE, MINE]),
                    lambda: b.put_arrow(pa.Table.from_pylist([MINE], schema=SCHEMA))]
        for attempt in attempts:
            with pytest.raises(UnsupportedError) as info:
                await attempt()
            msg = str(info.value)
            assert "read-only" in msg and "2.2" in msg and "2.0" in msg, msg
            assert info.value.code == 8  # PERSISTING_EUNSUPPORTED
        assert b.total_count() == 6 and await b.get() == expected
        await b.flush()  # nothing to write: not an error
        assert await b.get() == expected
        with pytest.raises(UnsupportedError):  # compaction would write 2.0 files too
            await b.compact()
    finally:
        b.close()  # nothing was accepted, so nothing is lost at close
    ds = lance.dataset(dataset_path(bucket_path))
    assert ds.to_table().to_pylist() == expected and len(ds.versions()) == 2
    # still read-only after a reopen, still readable; no refused row waits in a WAL
    b = LanceBackend(0, bucket_path)
    try:
        assert (await b.stats())["wal_replayed"] == 0
        assert b.total_count() == 6 and await b.get() == expected
        with pytest.raises(UnsupportedError, match="read-only"):
            await b.put(MINE)
    finally:
        b.close()


async def test_schema_of_a_pylance_dataset_is_enforced(bucket_path):
    lance.write_dataset(pa.Table.from_pylist(ROWS, schema=SCHEMA), dataset_path(bucket_path),
                        data_storage_version="2.0")
    from persisting import SchemaError

    b = LanceBackend(0, bucket_path)
    try:
        with pytest.raises(SchemaError, match="'seq'.*int64.*str"):
            await b.put({"id": "x", "seq": "nope"})
        assert await b.get() == ROWS
    finally:
        b.close()

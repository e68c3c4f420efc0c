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


@pytest.mark.parametrize("storage_version", ["2.0", "2.1", None], ids=["v2.0", "v2.1", "pylance-default"])
async def test_lance_backend_reads_and_appends_to_what_pylance_wrote(bucket_path, storage_version):
    table = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    kwargs = {"data_storage_version": storage_version} if storage_version else {}
    lance.write_dataset(table, dataset_path(bucket_path), **kwargs)
    lance.write_dataset(table.slice(0, 2), dataset_path(bucket_path), mode="append", **kwargs)
    written_as = lance.dataset(dataset_path(bucket_path)).data_storage_version
    assert written_as == (storage_version or "2.2")
    expected = ROWS + ROWS[:2]
    b = LanceBackend(0, bucket_path)
    try:
        stats = await b.stats()
        assert stats["persisted_count"] == 6 and b.total_count() == 6 and not stats["read_only"]
        assert await b.get() == expected
        assert await b.get(2, 3) == expected[3:5]
        # appends continue the same dataset, in its own file version, readable by pylance again
        await b.put(MINE)
        await b.flush()
        ds = lance.dataset(dataset_path(bucket_path))
        assert ds.to_table().to_pylist() == expected + [MINE]
        assert ds.data_storage_version == written_as
    finally:
        b.close()


MINE = {"id": "k9", "seq": 9, "score": 9.0, "ok": True, "note": "mine", "raw": b"9"}


@pytest.mark.parametrize("make", [
    lambda p: LanceBackend(0, p, batch_size=1),
    lambda p: LanceBackend(0, p, batch_size=100),
    lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=0),
    lambda p: PersistingBackend(0, p),
], ids=["lance-batch1", "lance-batch100", "persisting-wal", "persisting"])
async def test_dataset_the_engine_cannot_append_to_is_read_only(bucket_path, make):
    """pylance's unstable data file version 2.3 ("next") is one the engine does
    not write: the bucket opens read-only, and every append says so at once
    (UnsupportedError) - nothing is accepted that could never be written, and
    what is on disk stays as it was."""
    table = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    lance.write_dataset(table, dataset_path(bucket_path), data_storage_version="2.3")
    assert lance.dataset(dataset_path(bucket_path)).data_storage_version == "2.3"
    b = make(bucket_path)
    try:
        stats = await b.stats()
        assert stats["read_only"] is True
        assert stats["persisted_count"] == 4 and b.total_count() == 4
        attempts = [lambda: b.put(MINE), lambda: b.put_batch([MINE, MINE]),
                    lambda: b.put_arrow(pa.Table.from_pylist([MINE], schema=SCHEMA))]
        for attempt in attempts:
            with pytest.raises(UnsupportedError) as info:
                await attempt()
            msg = str(info.value)
            assert "cannot write" in msg and "2.3" in msg, msg  # the engine says why
            assert info.value.code == 8  # PERSISTING_EUNSUPPORTED
            assert b.total_count() == 4
        await b.flush()  # nothing to write: not an error
        with pytest.raises(UnsupportedError):  # compaction would write files too
            await b.compact()
    finally:
        b.close()  # nothing was accepted, so nothing is lost at close
    ds = lance.dataset(dataset_path(bucket_path))
    assert ds.to_table().to_pylist() == ROWS and len(ds.versions()) == 1
    # still read-only after a reopen; no refused row waits in a WAL
    b = LanceBackend(0, bucket_path)
    try:
        assert (await b.stats())["wal_replayed"] == 0 and b.total_count() == 4
        with pytest.raises(UnsupportedError, match="2.3"):
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

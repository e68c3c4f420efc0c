"""Issue #6, "zero copies, proven": the library reports the addresses of the
buffers that crossed the C boundary (stats()["boundary"]); they must be the very
addresses pyarrow reports for the same data, in both directions. Plus a long
append/read loop whose memory (Go heap, the library's C allocations, pyarrow's
pool, RSS) stays flat.

The boundary ledger is a test hook, compiled only into the test build
(``./build.sh testhooks``), so these cases run in a spawned pytest that loads
that library: ``tests/python/test_zero_copy_proof.py`` starts it."""

from __future__ import annotations

import os
import resource

import pyarrow as pa
import pytest

from persisting import _native
from persisting.queue import LanceBackend, PersistingBackend

# flush_threshold above every test's row count: rows stay buffered until flush().
BACKENDS = {
    "lance": lambda path: LanceBackend(0, path, flush_threshold=100_000),
    "persisting+wal": lambda path: PersistingBackend(0, path, enable_wal=True, flush_threshold=100_000),
}


def pyarrow_addresses(data) -> list[int]:
    """Addresses of every non-empty buffer of a RecordBatch/Table, columns in
    order, each column's own buffers before its children's (the order the
    library walks them)."""
    batches = data.to_batches() if isinstance(data, pa.Table) else [data]
    out = []
    for batch in batches:
        for column in batch.columns:
            out += [buf.address for buf in column.buffers() if buf is not None and buf.size > 0]
    return out


def mixed_batch(start: int, rows: int) -> pa.RecordBatch:
    ids = list(range(start, start + rows))
    return pa.RecordBatch.from_pydict({
        "id": pa.array(ids, pa.int64()),
        "score": pa.array([None if i % 7 == 0 else i / 3 for i in ids], pa.float64()),
        "ok": pa.array([i % 2 == 0 for i in ids], pa.bool_()),
        "name": pa.array([f"name-{i}" for i in ids], pa.string()),
        "blob": pa.array([i.to_bytes(8, "little") for i in ids], pa.binary()),
        "tags": pa.array([[i, i + 1] for i in ids], pa.list_(pa.int64())),
        "point": pa.array([{"x": i, "y": float(i)} for i in ids],
                          pa.struct([("x", pa.int64()), ("y", pa.float64())])),
    })


@pytest.mark.parametrize("kind", sorted(BACKENDS))
async def test_put_arrow_hands_pyarrows_own_buffers_to_the_engine(bucket_path, kind):
    backend = BACKENDS[kind](bucket_path)
    try:
        for start in (0, 1000):  # the first append fixes the schema; the second is a plain append
            batch = mixed_batch(start, 1000)
            expected = pyarrow_addresses(batch)
            assert len(expected) >= 12  # every column has buffers to compare
            await backend.put_arrow(batch)
            got = (await backend.stats())["boundary"]["last_import_buffers"]
            assert got == expected
    finally:
        backend.close()


@pytest.mark.parametrize("kind", sorted(BACKENDS))
@pytest.mark.parametrize("flushed", [False, True], ids=["buffered", "flushed"])
async def test_get_arrow_returns_the_engines_buffers(bucket_path, kind, flushed):
    backend = BACKENDS[kind](bucket_path)
    try:
        batch = mixed_batch(0, 5000)
        await backend.put_arrow(batch)
        if flushed:
            await backend.flush()
        before = pa.total_allocated_bytes()
        table = await backend.get_arrow(2000, 1500)
        assert pa.total_allocated_bytes() - before < 1024  # pyarrow allocated no copy
        assert table.column("id").to_pylist() == list(range(1500, 3500))
        exported = (await backend.stats())["boundary"]["last_export_buffers"]
        assert exported and pyarrow_addresses(table) == exported
        if not flushed:  # rows still in memory go back out as the very buffers put_arrow gave
            assert set(exported) <= set(pyarrow_addresses(batch))
    finally:
        backend.close()


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


CYCLES = int(os.environ.get("PERSISTING_LEAK_CYCLES", "100000"))


def test_append_read_cycles_keep_memory_flat(bucket_path):
    """CYCLES append+read cycles straight on the C API (one call each), with a
    flush every 20k rows. After a warm-up, the library's C allocations return
    to zero between cycles, and Go heap, pyarrow's pool and RSS do not grow
    with the number of cycles."""
    handle = _native.open_bucket(bucket_path, {"flush_threshold": 1 << 30})
    rows = 8
    samples = {}
    try:
        for cycle in range(CYCLES):
            _native.append(handle, mixed_batch(cycle * rows, rows))
            table = _native.read(handle, max(0, cycle * rows - 3), 5).read_all()
            assert table.num_rows == 5 or cycle == 0
            del table
            if cycle % 2500 == 2499:
                _native.flush(handle)
            if cycle + 1 in (CYCLES // 5, CYCLES):
                boundary = _native.stats(handle)["boundary"]
                samples[cycle + 1] = dict(
                    c_bytes=boundary["c_allocated_bytes"], go_heap=boundary["go_heap_bytes"],
                    pyarrow=pa.total_allocated_bytes(), rss=rss_bytes())
        total, persisted, buffered = _native.count(handle)
        assert (total, buffered) == (CYCLES * rows, 0)
    finally:
        _native.close_bucket(handle)
    early, late = samples[CYCLES // 5], samples[CYCLES]
    print("memory at 20 % / 100 % of the cycles:", early, late)
    assert early["c_bytes"] == late["c_bytes"] == 0, "C buffers handed out and never released"
    assert late["pyarrow"] - early["pyarrow"] < 1 << 20, "pyarrow buffers the library never released"
    assert late["go_heap"] < early["go_heap"] + (32 << 20), "Go heap grows with the cycles"
    assert late["rss"] < early["rss"] + (48 << 20), "RSS grows with the cycles"

"""LanceBackend against the real libpersisting.so: the protocol pulsing calls."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

import pyarrow as pa
import pytest

from helpers import eventually
from persisting import ClosedError, SchemaError, StorageError
from persisting.queue import LanceBackend


def rec(i: int) -> dict:
    return {"id": f"k{i}", "seq": i, "score": i / 4, "ok": i % 2 == 0}


@pytest.fixture
def backend(bucket_path):
    b = LanceBackend(bucket_id=0, storage_path=bucket_path, batch_size=4, flush_threshold=10)
    yield b
    b.close()


# ---- put / get / offsets ----------------------------------------------------------
async def test_put_get_across_engine_buffer_and_flushed(backend):
    for i in range(6):  # every put goes to the engine's buffer at once
        await backend.put(rec(i))
    assert backend.total_count() == 6
    assert await backend.get() == [rec(i) for i in range(6)]
    await backend.flush()
    for i in range(6, 9):
        await backend.put(rec(i))
    assert await backend.get() == [rec(i) for i in range(9)]
    # pulsing's positional call, limit first
    assert await backend.get(3, 4) == [rec(4), rec(5), rec(6)]
    # the user guide's keyword call
    assert await backend.get(offset=5, limit=10) == [rec(i) for i in range(5, 9)]
    assert await backend.get(limit=0) == []
    assert await backend.get(10, 9) == []
    assert await backend.get(10, 100) == []


async def test_auto_flush_at_flush_threshold(backend):
    for i in range(12):
        await backend.put(rec(i))

    async def flushed():
        stats = await backend.stats()
        return stats["persisted_count"] >= 10 and stats  # a background flush at threshold (10)

    stats = await eventually(flushed, what="the flush at flush_threshold")
    assert stats["total_count"] == 12
    assert await backend.get() == [rec(i) for i in range(12)]


async def test_put_batch_and_reads_in_order(backend):
    await backend.put(rec(0))
    await backend.put_batch([rec(i) for i in range(1, 11)])
    await backend.put_batch([])
    assert backend.total_count() == 11
    assert await backend.get() == [rec(i) for i in range(11)]


async def test_total_count_is_sync_and_counts_unflushed(backend):
    assert backend.total_count() == 0
    for i in range(7):
        before = backend.total_count()  # what pulsing 0.1.2 does before each put
        assert isinstance(before, int) and before == i
        await backend.put(rec(i))
    assert backend.total_count() == 7


async def test_stats_keys(backend):
    for i in range(5):
        await backend.put(rec(i))
    stats = await backend.stats()
    for key in ("bucket_id", "total_count", "buffer_count", "buffer_size", "persisted_count",
                "storage_path", "backend"):
        assert key in stats, key
    assert stats["backend"] == "lance"
    assert stats["bucket_id"] == 0
    assert stats["storage_path"] == backend.storage_path
    assert stats["total_count"] == 5
    assert stats["buffer_count"] == stats["buffer_size"] == 5
    assert stats["persisted_count"] == 0
    await backend.flush()
    stats = await backend.stats()
    assert (stats["persisted_count"], stats["buffer_count"], stats["total_count"]) == (5, 0, 5)


async def test_reopen_recovers_persisted_count_and_offsets_continue(bucket_path):
    b = LanceBackend(3, bucket_path, batch_size=2)
    for i in range(7):
        await b.put(rec(i))
    await b.flush()
    b.close()
    b = LanceBackend(3, bucket_path, batch_size=2)
    try:
        stats = await b.stats()
        assert stats["persisted_count"] == 7 and stats["total_count"] == 7
        assert b.total_count() == 7
        await b.put(rec(7))
        assert await b.get(1, 7) == [rec(7)]
        assert await b.get() == [rec(i) for i in range(8)]
    finally:
        b.close()


async def test_close_flushes_what_is_held(bucket_path):
    b = LanceBackend(0, bucket_path, batch_size=100)
    for i in range(3):
        await b.put(rec(i))
    await b.aclose()
    b = LanceBackend(0, bucket_path)
    try:
        assert (await b.stats())["persisted_count"] == 3
        assert await b.get() == [rec(i) for i in range(3)]
    finally:
        b.close()


async def test_missing_field_reads_as_null(backend):
    await backend.put(rec(0))
    await backend.put({"id": "k1", "seq": 1})
    await backend.flush()
    assert (await backend.get(1, 1)) == [{"id": "k1", "seq": 1, "score": None, "ok": None}]


async def test_int_is_accepted_in_a_float_column(backend):
    await backend.put({"x": 1.5})
    await backend.put({"x": 2})
    await backend.flush()
    assert await backend.get() == [{"x": 1.5}, {"x": 2.0}]


async def test_none_fixes_no_type_until_a_value_does(backend):
    await backend.put({"id": "a", "note": None})
    await backend.put({"id": "b", "note": None})
    assert await backend.get() == [{"id": "a", "note": None}, {"id": "b", "note": None}]
    await backend.put({"id": "c", "note": 7})  # fixes note as int64
    await backend.flush()
    assert await backend.get() == [
        {"id": "a", "note": None}, {"id": "b", "note": None}, {"id": "c", "note": 7}]
    with pytest.raises(SchemaError, match="note"):
        await backend.put({"id": "d", "note": "text"})


async def test_untyped_field_is_stored_as_a_null_column_until_typed(backend):
    """None so far types nothing (api-contract: null until known), also past a flush and a reopen:
    the dataset stores a null column, which pylance reads, and the first value types it."""
    import lance

    await backend.put({"id": "a", "note": None})
    await backend.flush()
    dataset = lance.dataset(os.path.join(backend.storage_path, "data.lance"))
    assert str(dataset.schema.field("note").type) == "null"
    assert dataset.to_table().to_pylist() == [{"id": "a", "note": None}]
    assert [r["id"] for r in await backend.get_where("note", is_null=True)] == ["a"]
    backend.close()
    backend = LanceBackend(bucket_id=0, storage_path=backend.storage_path)
    try:
        await backend.put({"id": "b", "note": 5})  # the first value: int64, also for pylance
        with pytest.raises(SchemaError, match="note"):
            await backend.put({"id": "c", "note": "now text"})
        await backend.flush()
        assert await backend.get() == [{"id": "a", "note": None}, {"id": "b", "note": 5}]
        assert lance.dataset(os.path.join(backend.storage_path, "data.lance")).to_table().to_pylist() == [
            {"id": "a", "note": None}, {"id": "b", "note": 5}]
    finally:
        backend.close()


async def test_unicode_bytes_and_extreme_values(backend):
    rows = [
        {"s": "héllo ✓ 𝄞", "i": 2**63 - 1, "f": float("inf"), "b": True, "raw": b"\x00\xff"},
        {"s": "", "i": -(2**63), "f": -0.0, "b": False, "raw": b""},
        {"s": None, "i": None, "f": None, "b": None, "raw": None},
    ]
    await backend.put_batch(rows)
    await backend.flush()
    assert await backend.get() == rows


# ---- get_stream ---------------------------------------------------------------------
async def collect(stream):
    return [batch async for batch in stream]


async def test_get_stream_yields_lists_of_at_most_100(backend):
    await backend.put_batch([rec(i) for i in range(250)])
    batches = await collect(backend.get_stream())
    assert [len(b) for b in batches] == [100, 100, 50]
    assert all(isinstance(b, list) and isinstance(b[0], dict) for b in batches)
    assert [r for b in batches for r in b] == [rec(i) for i in range(250)]
    # pulsing's call: limit, offset, wait, timeout - all positional
    batches = await collect(backend.get_stream(120, 10, False, None))
    assert [len(b) for b in batches] == [100, 20]
    assert batches[0][0] == rec(10)
    assert await collect(backend.get_stream(10, 250)) == []


async def test_get_stream_wait_times_out_quietly(backend):
    await backend.put(rec(0))
    t0 = time.monotonic()
    batches = await asyncio.wait_for(collect(backend.get_stream(50, 0, True, 0.2)), 60)
    assert batches == [[rec(0)]]
    assert time.monotonic() - t0 >= 0.15  # it did wait (a lower bound cannot flake)


async def read_signalling(stream, received: asyncio.Queue) -> list:
    """Collects ``stream``, putting each batch's size on ``received``."""
    out = []
    async for batch in stream:
        out.append(batch)
        received.put_nowait(len(batch))
    return out


async def test_get_stream_wait_receives_new_records(backend):
    received: asyncio.Queue = asyncio.Queue()
    reader = asyncio.ensure_future(
        read_signalling(backend.get_stream(5, 0, wait=True, timeout=None), received))
    for i in range(5):  # each put once the reader has the one before
        await backend.put(rec(i))
        assert await asyncio.wait_for(received.get(), 60) == 1
    batches = await asyncio.wait_for(reader, 60)
    assert [r for b in batches for r in b] == [rec(i) for i in range(5)]


async def test_get_stream_timeout_is_an_idle_timeout(backend, monkeypatch):
    """Every wait for new records gets the whole timeout again (an idle
    timeout, restarted after each wake-up), not what is left of a budget."""
    import persisting.queue as queue

    waits = []
    real_wait_for, real_wait = asyncio.wait_for, asyncio.wait

    async def recording_wait(aws, timeout):
        waits.append(timeout)
        return await real_wait(aws, timeout=timeout)

    monkeypatch.setattr(queue.asyncio, "wait", recording_wait)
    received: asyncio.Queue = asyncio.Queue()
    reader = asyncio.ensure_future(read_signalling(
        backend.get_stream(limit=4, offset=0, wait=True, timeout=30), received))
    for i in range(4):
        await backend.put(rec(i))
        await real_wait_for(received.get(), 60)
    batches = await real_wait_for(reader, 60)
    assert sum(len(b) for b in batches) == 4
    assert len(waits) >= 3 and all(29 < w <= 30 for w in waits), waits  # the whole 30 s at each wait


async def test_get_stream_block_alias_and_no_wait(backend):
    await backend.put(rec(0))
    # block=False with no timeout: returns when the records end (a wait would hang here)
    assert await asyncio.wait_for(collect(backend.get_stream(10, 0, block=False)), 60) == [[rec(0)]]
    t0 = time.monotonic()
    assert await collect(backend.get_stream(10, 0, block=True, timeout=0.3)) == [[rec(0)]]
    assert time.monotonic() - t0 >= 0.25


async def test_get_stream_waiter_ends_when_backend_closes(backend):
    await backend.put(rec(0))
    received: asyncio.Queue = asyncio.Queue()
    reader = asyncio.ensure_future(
        read_signalling(backend.get_stream(10, 0, True, None), received))
    await asyncio.wait_for(received.get(), 60)  # the reader has rec(0) and waits for more
    await backend.aclose()
    assert await asyncio.wait_for(reader, 60) == [[rec(0)]]


async def test_concurrent_puts_and_waiting_reader(backend):
    async def reader():
        out = []
        async for batch in backend.get_stream(200, 0, True, 2):
            out.extend(batch)
        return out

    r = asyncio.create_task(reader())
    await asyncio.gather(*(backend.put(rec(i)) for i in range(200)))
    got = await asyncio.wait_for(r, 20)
    assert len(got) == 200
    assert got == await backend.get()
    assert sorted(x["seq"] for x in got) == list(range(200))


async def test_get_by_indices(backend):
    await backend.put_batch([rec(i) for i in range(20)])
    await backend.flush()
    await backend.put(rec(20))
    assert await backend.get_by_indices([5, 0, 6, 20, 99, -1, 7]) == [
        rec(5), rec(0), rec(6), rec(20), rec(7)]


# ---- Arrow ---------------------------------------------------------------------------
async def test_put_arrow_get_arrow(backend):
    table = pa.table({
        "id": pa.array(["a", "b", "c"]),
        "seq": pa.array([1, 2, None], pa.int64()),
        "score": pa.array([0.5, None, 2.5]),
        "ok": pa.array([True, False, None]),
    })
    assert await backend.put_arrow(table) == 3
    assert await backend.put_arrow(table.to_batches()[0].slice(1, 2)) == 2
    got = await backend.get_arrow()
    assert isinstance(got, pa.Table)
    assert got.num_rows == 5
    assert got.column_names == ["id", "seq", "score", "ok"]
    assert got.to_pylist() == table.to_pylist() + table.to_pylist()[1:]
    assert (await backend.get_arrow(2, 1)).to_pylist() == table.to_pylist()[1:3]
    assert (await backend.get_arrow(offset=10)).num_rows == 0


async def test_put_arrow_matches_columns_by_name_and_casts_within_a_family(backend):
    await backend.put(rec(0))
    other = pa.table({
        "ok": pa.array([False]),
        "seq": pa.array([1], pa.int32()),
        "id": pa.array(["k1"], pa.large_string()),
        "score": pa.array([0.25], pa.float32()),
    })
    await backend.put_arrow(other)
    assert await backend.get() == [rec(0), rec(1)]
    schema = (await backend.get_arrow()).schema
    assert schema.field("seq").type == pa.int64()


async def test_put_arrow_and_dicts_keep_order(backend):
    await backend.put(rec(0))
    await backend.put_arrow(pa.Table.from_pylist([rec(1), rec(2)]))
    await backend.put(rec(3))
    assert await backend.get() == [rec(0), rec(1), rec(2), rec(3)]


class CapsuleOnly:
    """An Arrow producer that is not pyarrow: only the PyCapsule protocol."""

    def __init__(self, obj):
        self._obj = obj

    def __arrow_c_array__(self, requested_schema=None):
        return self._obj.__arrow_c_array__(requested_schema)


class StreamOnly:
    def __init__(self, obj):
        self._obj = obj

    def __arrow_c_stream__(self, requested_schema=None):
        return self._obj.__arrow_c_stream__(requested_schema)


async def test_put_arrow_accepts_pycapsule_producers(backend):
    batch = pa.RecordBatch.from_pylist([rec(0), rec(1)])
    await backend.put_arrow(CapsuleOnly(batch))
    await backend.put_arrow(StreamOnly(pa.Table.from_pylist([rec(2), rec(3), rec(4)])))
    assert await backend.get() == [rec(i) for i in range(5)]


async def test_put_arrow_schema_mismatch_refused_and_prior_records_kept(backend):
    await backend.put_batch([rec(0), rec(1)])
    with pytest.raises(SchemaError, match="seq"):
        await backend.put_arrow(pa.table({"id": ["x"], "seq": ["not an int"]}))
    with pytest.raises(SchemaError, match="extra"):
        await backend.put_arrow(pa.table({"id": ["x"], "extra": [1]}))
    with pytest.raises(TypeError):
        await backend.put_arrow([rec(2)])
    assert await backend.get() == [rec(0), rec(1)]
    assert backend.total_count() == 2


async def test_put_arrow_first_on_a_new_bucket_defines_schema(backend):
    await backend.put_arrow(pa.table({"a": pa.array([1, 2], pa.int64()), "b": ["x", "y"]}))
    await backend.put({"a": 3, "b": "z"})
    with pytest.raises(SchemaError, match="'a'"):
        await backend.put({"a": "wrong"})
    assert await backend.get() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 3, "b": "z"}]


# ---- bad input: each a clear error, and nothing accepted before is lost ---------------
async def assert_intact(backend, n):
    assert backend.total_count() == n
    assert await backend.get() == [rec(i) for i in range(n)]


async def test_non_dict_record_is_a_type_error(backend):
    await backend.put_batch([rec(0), rec(1)])
    for bad in (["a", 1], "text", 5, None, [rec(2)]):
        with pytest.raises(TypeError, match="dict"):
            await backend.put(bad)
    await assert_intact(backend, 2)


async def test_empty_record_is_a_value_error(backend):
    await backend.put(rec(0))
    with pytest.raises(ValueError, match="empty"):
        await backend.put({})
    await assert_intact(backend, 1)


@pytest.mark.parametrize("value", [object(), 3 + 4j, {1, 2}])
async def test_unstorable_value_type_names_field_and_type(backend, value):
    await backend.put(rec(0))
    with pytest.raises(TypeError, match=rf"'payload'.*{type(value).__name__}"):
        await backend.put({"id": "k1", "payload": value})
    await assert_intact(backend, 1)


async def test_unstorable_value_in_first_record(backend):
    with pytest.raises(TypeError, match="'when'.*time"):
        import datetime

        await backend.put({"id": "x", "when": datetime.time(3, tzinfo=datetime.timezone.utc)})
    assert backend.total_count() == 0
    await backend.put(rec(0))  # the refused record fixed nothing
    await assert_intact(backend, 1)


@pytest.mark.parametrize(
    "field, value, found",
    [("seq", "7", "str"), ("seq", 1.5, "float"), ("seq", True, "bool"), ("score", "x", "str"),
     ("ok", 1, "int"), ("id", 5, "int"), ("id", b"k5", "bytes")],
)
async def test_value_contradicting_schema_names_field_expected_and_found(backend, field, value, found):
    await backend.put_batch([rec(0), rec(1), rec(2), rec(3), rec(4)])
    bad = rec(5) | {field: value}
    with pytest.raises(SchemaError) as info:
        await backend.put(bad)
    msg = str(info.value)
    expected = {"seq": "int64", "score": "double", "ok": "bool", "id": "string"}[field]
    assert repr(field) in msg and expected in msg and found in msg, msg
    assert isinstance(info.value, StorageError)
    await assert_intact(backend, 5)
    await backend.flush()
    await assert_intact(backend, 5)


async def test_schema_contradiction_after_reopen(bucket_path):
    b = LanceBackend(0, bucket_path)
    await b.put(rec(0))
    b.close()
    b = LanceBackend(0, bucket_path)
    try:
        with pytest.raises(SchemaError, match="'seq'.*int64.*str"):
            await b.put(rec(1) | {"seq": "one"})
        with pytest.raises(SchemaError, match="'new_field'"):
            await b.put(rec(1) | {"new_field": 1})
        await assert_intact(b, 1)
    finally:
        b.close()


async def test_unknown_field_is_a_schema_error(backend):
    await backend.put(rec(0))
    with pytest.raises(SchemaError, match="'surprise'"):
        await backend.put(rec(1) | {"surprise": 1})
    await assert_intact(backend, 1)


async def test_int_out_of_int64_range(backend):
    await backend.put(rec(0))
    with pytest.raises((ValueError, SchemaError), match="seq"):
        await backend.put(rec(1) | {"seq": 2**64})
    await assert_intact(backend, 1)


async def test_put_batch_is_all_or_nothing(backend):
    await backend.put(rec(0))
    with pytest.raises(SchemaError, match="seq"):
        await backend.put_batch([rec(1), rec(2), rec(3) | {"seq": "x"}, rec(4)])
    with pytest.raises(TypeError):
        await backend.put_batch([rec(1), "not a dict"])
    with pytest.raises(TypeError):
        await backend.put_batch(rec(1))
    await assert_intact(backend, 1)


async def test_closed_backend_is_a_clear_error(backend):
    await backend.put(rec(0))
    backend.close()
    backend.close()  # idempotent
    await backend.aclose()
    for call in (lambda: backend.put(rec(1)), lambda: backend.put_batch([rec(1)]),
                 lambda: backend.get(), lambda: backend.flush(), lambda: backend.stats(),
                 lambda: backend.get_arrow(),
                 lambda: backend.put_arrow(pa.Table.from_pylist([rec(1)])),
                 lambda: collect(backend.get_stream())):
        with pytest.raises(ClosedError, match="closed"):
            await call()
    assert issubclass(ClosedError, StorageError)


def test_storage_path_that_is_a_file(tmp_path):
    f = tmp_path / "regular_file"
    f.write_text("x")
    with pytest.raises(StorageError) as info:
        LanceBackend(0, str(f))
    assert str(f) in str(info.value)
    with pytest.raises(StorageError):
        LanceBackend(0, str(f / "bucket_0"))  # a path under a regular file


# ---- options --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, exc",
    [({"batch_size": 0}, ValueError), ({"batch_size": -5}, ValueError),
     ({"batch_size": "10"}, TypeError), ({"batch_size": 1.5}, TypeError),
     ({"flush_threshold": 0}, ValueError), ({"flush_threshold": None}, TypeError),
     ({"bucket_id": "1"}, TypeError), ({"bucket_id": -1}, ValueError),
     ({"storage_path": ""}, ValueError), ({"storage_path": 5}, TypeError)],
)
def test_bad_option_values(tmp_path, kwargs, exc):
    args = {"bucket_id": 0, "storage_path": str(tmp_path / "b")} | kwargs
    with pytest.raises(exc):
        LanceBackend(**args)


def test_unknown_options_are_accepted_and_logged(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="persisting.queue"):
        b = LanceBackend(bucket_id=1, storage_path=str(tmp_path / "b"), batch_size=10,
                         enable_wal=True, topic="t")
    try:
        assert "enable_wal" in caplog.text and "topic" in caplog.text
        assert b.options == {"enable_wal": True, "topic": "t"}
    finally:
        b.close()


async def test_constructed_on_a_worker_thread_used_on_the_loop(tmp_path):
    """pulsing builds backends on an executor thread without an event loop."""
    made = {}

    def build():
        made["b"] = LanceBackend(bucket_id=2, storage_path=str(tmp_path / "b"), batch_size=100)

    t = threading.Thread(target=build)
    t.start()
    t.join()
    b = made["b"]
    try:
        await b.put(rec(0))
        assert await b.get(10, 0) == [rec(0)]
    finally:
        await b.aclose()


def test_usable_from_two_event_loops_in_turn(bucket_path):
    b = LanceBackend(0, bucket_path)
    try:
        asyncio.run(b.put(rec(0)))
        asyncio.run(b.put(rec(1)))
        assert asyncio.run(b.get()) == [rec(0), rec(1)]
    finally:
        b.close()


# ---- zero copy and failure handling ---------------------------------------------------
async def test_arrow_paths_do_not_copy_column_buffers(backend):
    n = 1_000_000
    table = pa.table({"x": pa.array(range(n), pa.int64()), "y": pa.array([0.5] * n)})
    size = table.nbytes
    before = pa.total_allocated_bytes()
    await backend.put_arrow(table)
    assert pa.total_allocated_bytes() - before < size // 10  # no copy made by Python
    before = pa.total_allocated_bytes()
    got = await backend.get_arrow()
    assert got.num_rows == n
    # the result's buffers are the engine's (exported through the C stream), not a pyarrow copy
    assert pa.total_allocated_bytes() - before < size // 10
    assert got.column("x")[n - 1].as_py() == n - 1
    await backend.flush()
    before = pa.total_allocated_bytes()
    got = await backend.get_arrow(10, n - 10)
    assert got.column("x").to_pylist() == list(range(n - 10, n))
    assert pa.total_allocated_bytes() - before < size // 10


async def test_big_put_batch_is_one_append(backend, monkeypatch):
    from persisting import _native

    calls = []
    real = _native.append_records
    monkeypatch.setattr(_native, "append_records", lambda h, d: (calls.append(len(d)), real(h, d))[1])
    await backend.put_batch([rec(i) for i in range(5000)])
    assert len(calls) == 1
    assert backend.total_count() == 5000
    assert (await backend.get(2, 4998)) == [rec(4998), rec(4999)]


async def test_engine_failure_reaches_the_put_and_the_bucket_goes_on(backend, monkeypatch):
    from persisting import _native

    def failing(handle, data):
        raise StorageError("append: disk on fire", code=_native.EIO)

    await backend.put_batch([rec(0), rec(1), rec(2), rec(3)])
    with monkeypatch.context() as patch:
        for name in ("append_records", "put_record"):  # put's one call: either, by the backend's options
            patch.setattr(_native, name, failing)
        with pytest.raises(StorageError, match="disk on fire"):
            await backend.put(rec(4))
    await assert_intact(backend, 4)
    await backend.put(rec(4))
    await backend.flush()
    stats = await backend.stats()
    assert stats["persisted_count"] == 5 and stats["total_count"] == 5
    await assert_intact(backend, 5)


async def test_values_pyarrow_could_not_convert_are_refused_at_put(backend):
    await backend.put({"s": "ok", "f": 0.5})
    with pytest.raises(ValueError, match="'s'.*UTF-8"):
        await backend.put({"s": "lone \ud800 surrogate", "f": 1.0})
    with pytest.raises(SchemaError, match="'f'.*double"):
        await backend.put({"s": "x", "f": 2**53 + 1})
    with pytest.raises(ValueError, match="non-empty"):
        await backend.put({"": 1})
    await backend.put({"s": "exact", "f": 2**53})
    await backend.flush()
    assert await backend.get() == [{"s": "ok", "f": 0.5}, {"s": "exact", "f": float(2**53)}]


async def test_field_names_lance_cannot_store_are_refused_at_put(bucket_path):
    b = LanceBackend(0, bucket_path)
    try:
        with pytest.raises(ValueError, match="'a.b'"):
            await b.put({"a.b": 1})
        with pytest.raises(ValueError, match="'a.b'"):  # the engine's InvalidArgumentError
            await b.put_arrow(pa.table({"a.b": [1]}))
        await b.put({"with space": 1, "ünïcødé": "x"})
        await b.flush()
        assert await b.get() == [{"with space": 1, "ünïcødé": "x"}]
    finally:
        b.close()


async def test_abandoned_stream_leaves_the_backend_usable(backend):
    await backend.put_batch([rec(i) for i in range(300)])
    stream = backend.get_stream(None, 0, True, None)
    first = await stream.__anext__()
    assert len(first) == 100
    await stream.aclose()  # the consumer stops early, as pulsing does at its limit
    await backend.put(rec(300))
    await backend.flush()
    assert backend.total_count() == 301
    assert (await backend.get(1, 300)) == [rec(300)]


async def test_not_nullable_fields_of_the_schema_are_enforced_at_put(bucket_path):
    b = LanceBackend(0, bucket_path, batch_size=1)
    try:
        schema = pa.schema([pa.field("a", pa.int64(), nullable=False), pa.field("b", pa.string())])
        await b.put_arrow(pa.Table.from_pylist([{"a": 1, "b": "x"}], schema=schema))
        with pytest.raises(SchemaError, match="'a'.*not nullable.*None"):
            await b.put({"a": None, "b": "y"})
        with pytest.raises(SchemaError, match="'a' is missing"):
            await b.put({"b": "y"})
        with pytest.raises(SchemaError, match="""["']a["'].*not nullable.*nulls"""):
            await b.put_arrow(pa.table({"a": pa.array([None, 2], pa.int64()), "b": ["p", "q"]}))
        await b.put({"a": 2})  # b is nullable
        await b.flush()
        assert await b.get() == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    finally:
        b.close()

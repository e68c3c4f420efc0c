"""PersistingBackend's schema evolution (issue #5), against the real engine
(``schema_evolution: true``) and checked through ``get()`` and pylance.

A record may bring a new field (typed by its value; earlier rows read null),
leave fields out (null), put an int into a float field (stored as float) or a
float into an int field (the field widens to float64, stored rows too). What
cannot be stored without loss is a SchemaError naming field, expected and
found type, and nothing accepted before is lost. LanceBackend stays strict.
"""

from __future__ import annotations

import asyncio
import os
import signal
import textwrap
import threading

import lance
import pyarrow as pa
import pytest

from helpers import explain, run_python
from persisting import SchemaError, StorageError, _native
from persisting.queue import LanceBackend, PersistingBackend

MODES = {
    # records wait in Python (batch_size), then in the engine's buffer
    "batching": dict(batch_size=3),
    # every put goes to the engine (and its WAL) before it returns
    "wal": dict(enable_wal=True, wal_sync_interval=0),
}


@pytest.fixture(params=list(MODES))
def mode(request) -> str:
    return request.param


def make(path: str, mode: str, **kw) -> PersistingBackend:
    return PersistingBackend(0, path, **(MODES[mode] | kw))


def dataset(path: str) -> lance.LanceDataset:
    return lance.dataset(os.path.join(path, "data.lance"))


def pylance_rows(path: str) -> list[dict]:
    return dataset(path).to_table().to_pylist()


async def test_new_field_is_added_and_old_rows_read_null(bucket_path, mode):
    b = make(bucket_path, mode)
    try:
        await b.put_batch([{"id": 0, "a": "x"}, {"id": 1, "a": "y"}])
        await b.flush()
        await b.put({"id": 2, "a": "z", "score": 0.5})  # new float field
        await b.put({"id": 3, "a": "w", "tag": "t"})  # another one; score missing: null
        want = [
            {"id": 0, "a": "x", "score": None, "tag": None},
            {"id": 1, "a": "y", "score": None, "tag": None},
            {"id": 2, "a": "z", "score": 0.5, "tag": None},
            {"id": 3, "a": "w", "score": None, "tag": "t"},
        ]
        assert await b.get() == want  # before the flush: engine buffer and Python
        await b.flush()
        assert await b.get() == want
        ds = dataset(bucket_path)
        table = ds.to_table()
        assert table.to_pylist() == want
        assert table.schema.field("score").type == pa.float64()
        assert table.schema.field("tag").type == pa.string()
        assert table.schema.field("id").type == pa.int64()
    finally:
        b.close()


async def test_missing_field_is_null(bucket_path, mode):
    b = make(bucket_path, mode)
    try:
        await b.put({"id": 0, "a": "x", "n": 1})
        await b.put({"id": 1})
        await b.put({"n": 2})
        want = [{"id": 0, "a": "x", "n": 1}, {"id": 1, "a": None, "n": None},
                {"id": None, "a": None, "n": 2}]
        assert await b.get() == want
        await b.flush()
        assert await b.get() == want and pylance_rows(bucket_path) == want
    finally:
        b.close()


async def test_int_into_float_field_is_stored_as_float(bucket_path, mode):
    b = make(bucket_path, mode)
    try:
        await b.put({"x": 1.5})
        await b.put({"x": 2})
        await b.put({"x": -(2**53)})
        await b.flush()
        got = await b.get()
        assert got == [{"x": 1.5}, {"x": 2.0}, {"x": -(2.0**53)}]
        assert all(type(r["x"]) is float for r in got)
        assert dataset(bucket_path).schema.field("x").type == pa.float64()
        with pytest.raises(SchemaError, match=r"'x'.*double.*int 9007199254740993"):
            await b.put({"x": 2**53 + 1})  # a float64 would round it
        assert b.total_count() == 3
    finally:
        b.close()


@pytest.mark.parametrize("flushed", [True, False], ids=["stored", "unflushed"])
async def test_float_into_int_field_widens_the_field(bucket_path, mode, flushed):
    b = make(bucket_path, mode)
    try:
        await b.put_batch([{"id": "a", "n": 1}, {"id": "b", "n": 2}])
        if flushed:
            await b.flush()
        await b.put({"id": "c", "n": 2.5})
        await b.put({"id": "d", "n": 4})  # an int in what is now a float field
        want = [{"id": "a", "n": 1.0}, {"id": "b", "n": 2.0}, {"id": "c", "n": 2.5},
                {"id": "d", "n": 4.0}]
        got = await b.get()
        assert got == want and all(type(r["n"]) is float for r in got)
        await b.flush()
        assert await b.get() == want
        table = dataset(bucket_path).to_table()
        assert table.schema.field("n").type == pa.float64()
        assert table.to_pylist() == want
        if flushed:  # the stored version before the change still has ints
            first = dataset(bucket_path).versions()[0]["version"]
            old = lance.dataset(os.path.join(bucket_path, "data.lance"), version=first).to_table()
            assert old.schema.field("n").type == pa.int64()
    finally:
        b.close()


async def test_widening_refused_when_a_stored_int_does_not_fit_a_float(bucket_path, mode):
    """The engine rewrites the stored column; an int a float64 cannot hold
    exactly refuses the change - at the put that asked for it, keeping all."""
    b = make(bucket_path, mode)
    try:
        await b.put_batch([{"n": 2**60}, {"n": 3}])
        await b.flush()
        await b.put({"n": 5})  # waits in Python (batching) or the engine's buffer (wal)
        with pytest.raises(SchemaError) as info:
            await b.put({"n": 0.5})
        msg = str(info.value)
        assert "'n'" in msg or '"n"' in msg, msg
        assert str(2**60) in msg, msg
        assert await b.get() == [{"n": 2**60}, {"n": 3}, {"n": 5}]
        await b.put({"n": 6})  # the field is still an int64 field
        await b.flush()
        assert pylance_rows(bucket_path) == [{"n": 2**60}, {"n": 3}, {"n": 5}, {"n": 6}]
        assert dataset(bucket_path).schema.field("n").type == pa.int64()
    finally:
        b.close()


async def test_put_arrow_int32_into_int64_field_and_int64_into_int32_field(tmp_path, mode):
    path = str(tmp_path / "a")
    b = make(path, mode)
    try:
        await b.put({"n": 1, "s": "x"})
        await b.put_arrow(pa.table({"n": pa.array([2, 3], pa.int32())}))  # s missing: null
        assert await b.get() == [{"n": 1, "s": "x"}, {"n": 2, "s": None}, {"n": 3, "s": None}]
        await b.flush()
        assert dataset(path).schema.field("n").type == pa.int64()
        assert pylance_rows(path)[1:] == [{"n": 2, "s": None}, {"n": 3, "s": None}]
    finally:
        b.close()
    path = str(tmp_path / "b")
    b = make(path, mode)
    try:  # a bucket whose field is int32 (its first data said so) widens to int64
        await b.put_arrow(pa.table({"n": pa.array([1, 2], pa.int32())}))
        await b.flush()
        await b.put_arrow(pa.table({"n": pa.array([2**40], pa.int64())}))
        await b.put({"n": -(2**50)})
        want = [{"n": 1}, {"n": 2}, {"n": 2**40}, {"n": -(2**50)}]
        assert await b.get() == want
        await b.flush()
        table = dataset(path).to_table()
        assert table.schema.field("n").type == pa.int64() and table.to_pylist() == want
    finally:
        b.close()


@pytest.mark.parametrize("field, value, expected, found", [
    ("n", "seven", "int64", "str"), ("n", b"7", "int64", "bytes"), ("n", True, "int64", "bool"),
    ("s", 5, "string", "int"), ("s", 1.5, "string", "float"), ("f", "x", "double", "str"),
    ("ok", 1, "bool", "int"),
])
async def test_incompatible_change_is_a_clear_schema_error_and_loses_nothing(
        bucket_path, mode, field, value, expected, found):
    b = make(bucket_path, mode)
    rows = [{"n": i, "s": f"s{i}", "f": i / 2, "ok": i % 2 == 0} for i in range(5)]
    try:
        await b.put_batch(rows[:3])
        await b.flush()
        await b.put_batch(rows[3:])
        with pytest.raises(SchemaError) as info:
            await b.put({"n": 9, field: value} if field != "n" else {field: value})
        msg = str(info.value)
        assert repr(field) in msg and expected in msg and found in msg, msg
        with pytest.raises(SchemaError):  # all or nothing: the good record goes too
            await b.put_batch([{"n": 10, "new": 1}, {field: value}])
        assert await b.get() == rows
        await b.flush()
        assert pylance_rows(bucket_path) == rows
        assert "new" not in dataset(bucket_path).schema.names
    finally:
        b.close()


async def test_put_arrow_incompatible_column_is_refused_by_the_engine(bucket_path, mode):
    b = make(bucket_path, mode)
    try:
        await b.put({"n": 1})
        with pytest.raises(SchemaError) as info:
            await b.put_arrow(pa.table({"n": pa.array(["x"])}))
        msg = str(info.value)
        assert '"n"' in msg and "int64" in msg and "utf8" in msg, msg
        await b.put_arrow(pa.table({"n": pa.array([2]), "m": pa.array([0.5])}))
        assert await b.get() == [{"n": 1, "m": None}, {"n": 2, "m": 0.5}]
    finally:
        b.close()


async def test_field_none_so_far_gets_its_type_from_the_first_value(bucket_path, mode):
    """None in every record so far fixes no type: the field is not written until
    a value arrives, then the engine adds it with that value's type."""
    b = make(bucket_path, mode)
    try:
        await b.put({"id": 0, "note": None})
        await b.put({"id": 1, "note": None})
        await b.flush()  # written without "note"
        assert await b.get() == [{"id": 0, "note": None}, {"id": 1, "note": None}]
        assert "note" not in dataset(bucket_path).schema.names
        await b.put({"id": 2, "note": 7})  # an int, not the string a fallback would have made
        await b.put({"id": 3, "later": None})
        want = [{"id": 0, "note": None, "later": None}, {"id": 1, "note": None, "later": None},
                {"id": 2, "note": 7, "later": None}, {"id": 3, "note": None, "later": None}]
        assert await b.get() == want
        await b.flush()
        assert await b.get() == want
        table = dataset(bucket_path).to_table()
        assert table.schema.field("note").type == pa.int64()
        assert table.column("note").to_pylist() == [None, None, 7, None]
        with pytest.raises(SchemaError, match="'note'.*int64.*str"):
            await b.put({"id": 4, "note": "text"})
        await b.put({"id": 4, "later": "now a string"})
        await b.flush()
        assert dataset(bucket_path).schema.field("later").type == pa.string()
    finally:
        b.close()


async def test_evolution_survives_a_restart(bucket_path, mode):
    b = make(bucket_path, mode)
    await b.put({"id": 0, "n": 1})
    await b.flush()
    await b.put({"id": 1, "n": 1.5, "extra": "e"})
    b.close()  # flushes
    b = make(bucket_path, mode)
    try:
        want = [{"id": 0, "n": 1.0, "extra": None}, {"id": 1, "n": 1.5, "extra": "e"}]
        assert await b.get() == want
        await b.put({"id": 2, "more": True})
        await b.flush()
        want = [r | {"more": None} for r in want] + [
            {"id": 2, "n": None, "extra": None, "more": True}]
        assert await b.get() == want and pylance_rows(bucket_path) == want
        with pytest.raises(SchemaError, match="'extra'.*string.*int"):
            await b.put({"extra": 1})
    finally:
        b.close()


EVOLVE_AND_DIE = textwrap.dedent("""
    import asyncio, os, signal, sys
    from persisting.queue import PersistingBackend

    async def main(path):
        b = PersistingBackend(0, path, enable_wal=True, wal_sync_interval=0, flush_threshold=10**6)
        await b.put({"seq": 0, "n": 1})
        await b.put({"seq": 1, "n": 2})
        await b.flush()                                   # a stored int64 "n"
        await b.put({"seq": 2, "n": 3, "tag": "new"})     # a new field, only in the WAL
        await b.put({"seq": 3, "n": 3.5})                 # widens n (stored rows rewritten)
        await b.put({"seq": 4, "note": None})
        await b.put_batch([{"seq": 5, "late": 5}, {"seq": 6, "tag": "t6", "n": 6}])
        print("ACKED", b.total_count(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)              # no flush, no close

    asyncio.run(main(sys.argv[1]))
""")


async def test_evolution_survives_sigkill_and_wal_replay(tmp_path):
    path = str(tmp_path / "b")
    proc = run_python(EVOLVE_AND_DIE, path)
    assert proc.returncode == -signal.SIGKILL, explain(proc)
    assert "ACKED 7" in proc.stdout, explain(proc)
    want = [
        {"seq": 0, "n": 1.0, "tag": None, "late": None},
        {"seq": 1, "n": 2.0, "tag": None, "late": None},
        {"seq": 2, "n": 3.0, "tag": "new", "late": None},
        {"seq": 3, "n": 3.5, "tag": None, "late": None},
        {"seq": 4, "n": None, "tag": None, "late": None},
        {"seq": 5, "n": None, "tag": None, "late": 5},
        {"seq": 6, "n": 6.0, "tag": "t6", "late": None},
    ]
    def typed(rows):  # "note" was None in every record: untyped, null wherever it shows
        assert all(r.get("note") is None for r in rows), rows
        return [{k: v for k, v in r.items() if k != "note"} for r in rows]

    b = PersistingBackend(0, path, enable_wal=True, wal_sync_interval=0)
    try:
        stats = await b.stats()
        assert stats["total_count"] == 7 and stats["persisted_count"] == 2
        assert stats["wal_replayed"] >= 4
        assert typed(await b.get()) == want
        await b.put({"seq": 7, "n": 7, "tag": "t7"})
        await b.flush()
        want.append({"seq": 7, "n": 7.0, "tag": "t7", "late": None})
        assert typed(await b.get()) == want
    finally:
        b.close()
    table = dataset(path).to_table()
    assert typed(table.to_pylist()) == want
    assert table.schema.field("n").type == pa.float64()


async def test_concurrent_puts_while_fields_are_added(bucket_path, mode):
    b = make(bucket_path, mode)
    try:
        await b.put({"id": -1, "base": 0})

        async def put(i):
            record = {"id": i, "base": i}
            if i % 7 == 0:
                record[f"f{i % 3}"] = i if i % 2 else float(i)
            await b.put(record)

        await asyncio.gather(*(put(i) for i in range(60)))
        got = await b.get()
        ids = [r["id"] for r in got]
        if mode == "wal":  # each put waits for an fsync on a worker thread: concurrent, unordered
            assert ids[0] == -1 and sorted(ids) == list(range(-1, 60))
        else:  # each put is one call on the event loop: the log keeps the order they were made
            assert ids == list(range(-1, 60))
        by_id = {r["id"]: r for r in got}
        for i in range(60):
            row = by_id[i]
            assert row["base"] == i
            if i % 7 == 0:
                assert row[f"f{i % 3}"] == i, row
        await b.flush()
        assert sorted(r["id"] for r in pylance_rows(bucket_path)) == list(range(-1, 60))
    finally:
        b.close()


async def test_a_cancelled_put_does_not_stall_the_others(bucket_path, mode):
    b = make(bucket_path, mode)
    try:
        await b.put({"id": 0})
        await b.flush()  # the engine has a schema: a new field changes it
        puts = [asyncio.ensure_future(b.put({"id": 1, "new": 1.5}))]  # a schema change
        puts += [asyncio.ensure_future(b.put({"id": i})) for i in (2, 3, 4)]
        puts[2].cancel()  # gives up before (or while) it runs
        results = await asyncio.gather(*puts, return_exceptions=True)
        assert [r is None for r in results] == [True, True, False, True], results
        await asyncio.wait_for(b.put({"id": 5}), 60)
        ids = sorted(r["id"] for r in await b.get())
        # a put cancelled while its call ran may or may not have stored its record
        assert ids in ([0, 1, 2, 4, 5], [0, 1, 2, 3, 4, 5]), ids
    finally:
        b.close()


async def test_lance_backend_stays_strict(bucket_path):
    b = LanceBackend(0, bucket_path)
    try:
        await b.put({"n": 1})
        with pytest.raises(SchemaError, match="'new'"):
            await b.put({"n": 2, "new": 1})
        with pytest.raises(SchemaError, match="'n'.*int64.*float"):
            await b.put({"n": 2.5})
        with pytest.raises(SchemaError, match="'new'"):
            await b.put_arrow(pa.table({"n": [2], "new": [1]}))
        assert await b.get() == [{"n": 1}]
        assert isinstance(SchemaError("x"), StorageError)
    finally:
        b.close()

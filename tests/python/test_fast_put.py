"""put(dict)'s fast path keeps every guarantee of the full path.

Once a bucket's schema is known, a record of flat fields with exactly the
Python types of its columns skips the full validation: on a batching bucket it
joins the pending list (a background job appends full batches), with the WAL
(sync interval > 0) it is one ``persisting_append_records`` call on the event
loop's thread. Anything else takes the full path, which raises the precise
error or evolves the schema. These tests pin that down: strictness, order with
concurrent puts and readers, schema evolution, WAL replay of fast-path records
after a kill, and the number of C calls per operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
import textwrap
import threading
from collections import Counter
from datetime import date, datetime, timezone

import numpy as np
import pyarrow as pa
import pytest

from helpers import explain, run_python
from persisting import SchemaError, _native
from persisting.queue import LanceBackend, PersistingBackend, _fast_fits, _records_to_batch

BACKENDS = {
    "lance": lambda path, **kw: LanceBackend(0, path, **kw),
    "persisting": lambda path, **kw: PersistingBackend(0, path, **kw),
    "persisting-wal": lambda path, **kw: PersistingBackend(0, path, enable_wal=True,
                                                          wal_sync_interval=0.5, **kw),
    "persisting-wal-sync": lambda path, **kw: PersistingBackend(0, path, enable_wal=True,
                                                               wal_sync_interval=0, **kw),
}
#: the kinds whose put() has a fast path (wal_sync_interval 0 fsyncs: never on the loop)
FAST = ["lance", "persisting", "persisting-wal"]

FIRST = {"i": 1, "f": 0.5, "s": "a", "b": True, "raw": b"x"}


@contextlib.asynccontextmanager
async def known_schema(kind: str, path: str, **kw):
    """A backend whose schema is known (its first record flushed)."""
    b = BACKENDS[kind](path, **kw)
    try:
        await b.put(dict(FIRST))
        await b.flush()
        yield b
    finally:
        b.close()


@contextlib.contextmanager
def counting_c_calls():
    """Counts every call into the library by wrapping its ctypes functions
    (from any thread: background jobs included)."""
    lib = _native.lib()
    counts: Counter = Counter()
    names = {name: name for name in _native._SIGNATURES}
    # a second binding of a function (without argtypes) counts as that function
    names.update({alias: name for alias, (name, _) in _native._UNCHECKED.items()})
    originals = {alias: getattr(lib, alias) for alias in names}

    def wrap(name, fn):
        def call(*args):
            counts[name] += 1
            return fn(*args)
        return call

    for alias, fn in originals.items():
        setattr(lib, alias, wrap(names[alias], fn))
    try:
        yield counts
    finally:
        for name, fn in originals.items():
            setattr(lib, name, fn)


# ---- the fast check itself -------------------------------------------------------------------
TYPES = {"i": int, "f": float, "s": str, "b": bool, "raw": bytes}


class Int(int):
    pass


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize("record, fits", [
    (dict(FIRST), True),
    ({"i": None, "s": None}, True),                       # None: every field here is nullable
    ({"f": float("nan")}, True),
    ({"s": "grüße, 你好"}, True),                           # non-ASCII that encodes as UTF-8
    ({"i": 2**63 - 1}, True),
    ({"i": -(2**63)}, True),
    ({"i": 2**63}, False),                                # beyond int64
    ({"i": True}, False),                                 # bool is not int
    ({"b": 1}, False),
    ({"i": Int(3)}, False),                               # subclasses: the full check decides
    ({"i": Color.RED}, False),
    ({"i": np.int64(3)}, False),
    ({"f": 3}, False),                                    # an int into a float field
    ({"raw": bytearray(b"x")}, False),
    ({"s": "lone \ud800"}, False),
    ({"s": b"x"}, False),
    ({"new": 1}, False),                                  # not a field (yet)
    ({1: 1}, False),
    ({}, False),
    ([("i", 1)], False),
    (Counter(i=1), False),                                # a dict subclass
    ({"i": [1]}, False),
    ({"i": {"x": 1}}, False),
], ids=repr)
def test_fast_check(record, fits):
    assert _fast_fits(record, TYPES) is fits


# ---- strictness: refused records raise as before and store nothing -----------------------------
class Opaque:
    pass


# (field, value, error on LanceBackend, error on an evolving PersistingBackend)
REFUSED = [
    ("b", 1, SchemaError, SchemaError),
    ("i", True, SchemaError, SchemaError),
    ("i", 2**63, SchemaError, SchemaError),
    ("i", "7", SchemaError, SchemaError),
    ("s", 5, SchemaError, SchemaError),
    ("s", "lone \ud800 surrogate", ValueError, ValueError),
    ("raw", "text", SchemaError, SchemaError),
    ("f", 2**53 + 1, SchemaError, SchemaError),
    ("s", {1, 2}, TypeError, TypeError),
    ("s", Opaque(), TypeError, TypeError),
    ("i", [1], SchemaError, SchemaError),
    ("new", 1, SchemaError, None),  # None: accepted, the schema evolves (test_a_new_field_...)
    ("a.b", 1, ValueError, ValueError),
]


REFUSED_CASES = [
    pytest.param(kind, field, value, lance if kind == "lance" else evolving,
                 id=f"{kind}-{field}={value!r}")
    for kind in BACKENDS
    for field, value, lance, evolving in REFUSED
    if (lance if kind == "lance" else evolving) is not None
]


@pytest.mark.parametrize("kind, field, value, expected", REFUSED_CASES)
async def test_refused_values_raise_the_same_error_and_store_nothing(bucket_path, kind, field,
                                                                     value, expected):
    async with known_schema(kind, bucket_path) as b:
        before = await b.get()
        record = dict(FIRST, **{field: value})
        with pytest.raises(expected):
            await b.put(record)
        with pytest.raises(expected):
            await b.put_batch([dict(FIRST), record])  # all or nothing
        assert b.total_count() == 1
        assert await b.get() == before
        await b.put(dict(FIRST, i=2))  # the bucket goes on
        assert [r["i"] for r in await b.get()] == [1, 2]


@pytest.mark.parametrize("kind", list(BACKENDS))
@pytest.mark.parametrize("record, refused", [
    ("not a dict", TypeError),
    ({}, ValueError),
    ({1: 2}, TypeError),
])
async def test_refused_records_raise_as_before(bucket_path, kind, record, refused):
    async with known_schema(kind, bucket_path) as b:
        with pytest.raises(refused):
            await b.put(record)
        assert b.total_count() == 1


# records the fast check leaves to the full path, which accepts them: stored as before
ACCEPTED_SLOWLY = [
    ({"f": 3}, {"f": 3.0}),                               # an int into a float field
    ({"raw": bytearray(b"yz")}, {"raw": b"yz"}),
    ({"i": Color.RED}, {"i": 1}),
    ({"i": np.int64(7)}, {"i": 7}),
    ({"i": Int(8)}, {"i": 8}),
    ({"s": "grüße"}, {"s": "grüße"}),                      # the fast path: non-ASCII text
]


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_values_the_fast_check_leaves_out_are_stored_as_before(bucket_path, kind):
    async with known_schema(kind, bucket_path) as b:
        for put, _ in ACCEPTED_SLOWLY:
            await b.put(put)
        got = await b.get(offset=1)
        want = [dict(dict.fromkeys(FIRST), **stored) for _, stored in ACCEPTED_SLOWLY]
        assert got == want
        await b.flush()
        assert await b.get(offset=1) == want


@pytest.mark.parametrize("kind", FAST)
async def test_a_record_changed_after_put_is_stored_as_it_was(bucket_path, kind):
    async with known_schema(kind, bucket_path, batch_size=100) as b:
        record = dict(FIRST, i=2)
        await b.put(record)
        record["i"] = 99
        record["s"] = "changed"
        assert (await b.get(offset=1))[0]["i"] == 2
        await b.flush()
        assert (await b.get(offset=1))[0] == dict(FIRST, i=2)


# ---- order: concurrent puts and readers ------------------------------------------------------------
@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_concurrent_puts_and_readers_see_one_order(bucket_path, kind):
    b = BACKENDS[kind](bucket_path, batch_size=7, flush_threshold=50)
    producers, per = 4, 120
    total = producers * per
    sent: list[dict] = []

    async def produce(w: int) -> None:
        for k in range(per):
            r = {"w": w, "k": k, "s": "x" * (k % 5)}
            sent.append(r)  # put takes it before it yields: this is the order of the log
            await b.put(r)
            if k % 11 == w:
                await asyncio.sleep(0)

    async def read() -> list[dict]:
        got = []
        async for chunk in b.get_stream(limit=total, wait=True, timeout=20):
            got.extend(chunk)
        return got

    try:
        readers = [asyncio.ensure_future(read()) for _ in range(2)]
        await asyncio.sleep(0)  # the readers wait first
        await asyncio.gather(*(produce(w) for w in range(producers)))
        seen = await asyncio.gather(*readers)
        assert len(sent) == total
        for got in seen:
            assert got == sent
        assert await b.get() == sent
        assert (await b.stats())["persisted_count"] >= total - 50 - 7  # flushed as it went
        await b.flush()
        assert await b.get() == sent
    finally:
        b.close()


async def test_puts_wait_once_too_many_records_wait_for_the_engine(bucket_path, monkeypatch):
    """A batching bucket hands full batches to a background job; when it lags,
    puts wait for it instead of piling up records without bound."""
    real = _native.append
    release = threading.Event()

    def held_append(handle, batch):  # the job is stuck until the puts had to wait
        release.wait(30)
        real(handle, batch)

    b = LanceBackend(0, bucket_path, batch_size=2, flush_threshold=3)
    try:
        await b.put({"k": -1})
        await b.flush()
        bucket = b._bucket
        monkeypatch.setattr(_native, "append", held_append)
        seen = {}

        async def release_when_full():
            # runs only once a put yields: the first that waits for the job
            while len(bucket._pending) < bucket._backlog:
                await asyncio.sleep(0.001)
            seen["waiting"] = len(bucket._pending)
            release.set()

        watcher = asyncio.ensure_future(release_when_full())
        most = 0
        for k in range(300):
            await b.put({"k": k})
            most = max(most, len(bucket._pending))
        await watcher
        assert seen["waiting"] == bucket._backlog  # the puts stopped there, and waited
        assert most <= bucket._backlog, (most, bucket._backlog)
        assert [r["k"] for r in await b.get()] == list(range(-1, 300))
        stats = await b.stats()  # waits for the job: what puts that appended at once leave
        assert stats["pending_count"] < 2 and stats["total_count"] == 301
    finally:
        release.set()
        b.close()


# ---- schema evolution on PersistingBackend -------------------------------------------------------------
@pytest.mark.parametrize("kind", ["persisting", "persisting-wal", "persisting-wal-sync"])
async def test_a_new_field_meets_the_fast_path_and_evolves(bucket_path, kind):
    b = BACKENDS[kind](bucket_path, batch_size=3)
    try:
        await b.put({"a": 1})
        await b.flush()
        await b.put({"a": 2})                 # fast
        await b.put({"a": 3, "b": "new"})     # a new field: the full path evolves the schema
        await b.put({"a": 4, "b": "fast"})    # fast again, with the new field
        await b.put({"a": 4.5})               # a float into the int field widens it
        await b.put({"a": 6.0, "b": None})    # fast, against the widened field
        want = [{"a": 1.0, "b": None}, {"a": 2.0, "b": None}, {"a": 3.0, "b": "new"},
                {"a": 4.0, "b": "fast"}, {"a": 4.5, "b": None}, {"a": 6.0, "b": None}]
        assert await b.get() == want
        with b._bucket._state_lock:
            assert b._bucket._fast_types_locked() == {"a": float, "b": str}
        await b.flush()
        assert await b.get() == want
        schema = (await b.get_arrow()).schema
        assert schema.field("a").type == pa.float64() and schema.field("b").type == pa.string()
    finally:
        b.close()


# ---- WAL: fast-path records survive a kill -------------------------------------------------------------
WRITE_FAST_AND_DIE = textwrap.dedent("""
    import asyncio, os, signal, sys
    from persisting import _native
    from persisting.queue import PersistingBackend

    def rec(i):
        return {"id": f"k{i}", "seq": i, "score": i / 4, "ok": i % 2 == 0, "pad": "x" * (i % 17)}

    async def main(path, n):
        b = PersistingBackend(0, path, enable_wal=True, wal_sync_interval=0.5, flush_threshold=32)
        await b.put(rec(0))                    # the first record fixes the schema (Arrow)
        lib = _native.lib()
        calls = [0]
        def counted(real):
            def call(*args):
                calls[0] += 1
                return real(*args)
            return call
        for name in ("persisting_append_records", "persisting_append_records_unchecked"):
            setattr(lib, name, counted(getattr(lib, name)))
        for i in range(1, n):
            await b.put(rec(i))
        await b.put_batch([rec(i) for i in range(n, n + 5)])
        print("ACKED", b.total_count(), "RECORD_CALLS", calls[0], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no flush, no close, no atexit

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")


async def test_records_of_the_fast_path_are_replayed_after_sigkill(tmp_path):
    path = str(tmp_path / "b")
    n = 100
    proc = run_python(WRITE_FAST_AND_DIE, path, str(n))
    assert proc.returncode == -signal.SIGKILL, explain(proc)
    assert f"ACKED {n + 5}" in proc.stdout, explain(proc)
    calls = int(proc.stdout.split("RECORD_CALLS")[1].split()[0])
    # every put after the first took the records path (a few may have met a
    # flush in progress and gone through a group instead)
    assert calls >= (n - 1) // 2, explain(proc)
    b = PersistingBackend(0, path, enable_wal=True, wal_sync_interval=0.5)
    try:
        got = await b.get()
        assert [r["seq"] for r in got] == list(range(n + 5))
        assert got[7] == {"id": "k7", "seq": 7, "score": 7 / 4, "ok": False, "pad": "x" * 7}
        await b.put({"id": "after", "seq": n + 5, "score": 0.0, "ok": True, "pad": ""})
        assert b.total_count() == n + 6
    finally:
        b.close()


def test_the_records_path_refuses_in_a_forked_child(tmp_path):
    proc = run_python(textwrap.dedent(f"""
        import asyncio, os, sys
        from persisting import ForkError
        from persisting.queue import PersistingBackend
        b = PersistingBackend(0, {str(tmp_path / 'b')!r}, enable_wal=True, wal_sync_interval=0.5)
        asyncio.run(b.put({{"a": 1}}))
        asyncio.run(b.put({{"a": 2}}))   # the records path, in the parent
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(b.put({{"a": 3}}))
            except ForkError as e:
                print("child: ForkError", flush=True)
                os._exit(0)
            print("child: no error", flush=True)
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        print("child status", os.waitstatus_to_exitcode(status), flush=True)
        asyncio.run(b.put({{"a": 4}}))
        print("parent", [r["a"] for r in asyncio.run(b.get())], flush=True)
        b.close()
    """), timeout=60)
    assert proc.returncode == 0, explain(proc)
    assert "child: ForkError" in proc.stdout and "child status 0" in proc.stdout, explain(proc)
    assert "parent [1, 2, 4]" in proc.stdout, explain(proc)


# ---- C calls per operation ---------------------------------------------------------------------------
BIG = 10**9


@pytest.mark.parametrize("kind", ["persisting-wal", "persisting-wal-sync"])
async def test_one_c_call_per_wal_put_and_put_batch(bucket_path, kind):
    """One persisting_append_records call per put and per put_batch: on the
    event loop's thread at interval sync, off it when the call fsyncs."""
    async with known_schema(kind, bucket_path, flush_threshold=BIG) as b:
        lib = _native.lib()
        names = ("persisting_append_records", "persisting_append_records_unchecked")
        reals = {name: getattr(lib, name) for name in names}
        threads = []

        def record_thread(real):
            def call(*args):
                threads.append(threading.current_thread())
                return real(*args)
            return call

        for name in names:
            setattr(lib, name, record_thread(reals[name]))
        try:
            with counting_c_calls() as calls:
                for i in range(10):
                    await b.put(dict(FIRST, i=i))
            assert calls == {"persisting_append_records": 10}
            with counting_c_calls() as calls:
                await b.put_batch([dict(FIRST, i=i) for i in range(50)])
            assert calls == {"persisting_append_records": 1}
        finally:
            for name in names:
                setattr(lib, name, reals[name])
        assert b.total_count() == 61
        on_loop = [t is threading.main_thread() for t in threads]
        assert len(on_loop) == 11
        assert all(on_loop) if kind == "persisting-wal" else not any(on_loop), on_loop


@pytest.mark.parametrize("kind", ["lance", "persisting"])
async def test_batching_puts_make_one_c_call_per_batch(bucket_path, kind):
    async with known_schema(kind, bucket_path, batch_size=10, flush_threshold=BIG) as b:
        with counting_c_calls() as calls:
            for i in range(100):
                await b.put(dict(FIRST, i=i))
            b._bucket.settle()  # the background job's calls count too
        # one call per batch; a job that lagged behind the puts takes all that wait at once
        assert set(calls) == {"persisting_append"} and 1 <= calls["persisting_append"] <= 10, calls
        assert _native.count(b._bucket.handle())[0] == 101
        with counting_c_calls() as calls:
            await b.put_batch([dict(FIRST, i=i) for i in range(25)])
        assert calls == {"persisting_append": 1}


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_one_c_call_per_put_arrow(bucket_path, kind):
    async with known_schema(kind, bucket_path, flush_threshold=BIG) as b:
        schema = (await b.get_arrow()).schema
        batch = pa.RecordBatch.from_pylist([dict(FIRST, i=i) for i in range(5)], schema=schema)
        with counting_c_calls() as calls:
            assert await b.put_arrow(batch) == 5
        assert calls == {"persisting_append": 1}
        with counting_c_calls() as calls:
            assert await b.put_arrow(pa.Table.from_batches([batch, batch, batch])) == 15
        assert calls == {"persisting_append_stream": 1}


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_one_c_call_per_get(bucket_path, kind):
    async with known_schema(kind, bucket_path, batch_size=4) as b:
        for i in range(2, 12):
            await b.put(dict(FIRST, i=i))
        await asyncio.to_thread(b._bucket.settle)
        with counting_c_calls() as calls:
            got = await b.get(8, 2)  # flushed, buffered by the engine, maybe held in Python
        assert [r["i"] for r in got] == list(range(3, 11))
        assert calls == {"persisting_read": 1}
        with counting_c_calls() as calls:
            table = await b.get_arrow()
        assert table.num_rows == 11
        assert calls == {"persisting_read": 1}


# ---- the batch conversion ----------------------------------------------------------------------------
CONVERSIONS = {
    "flat": (pa.schema([("i", pa.int64()), ("f", pa.float64()), ("s", pa.string()), ("b", pa.bool_()),
                        ("raw", pa.binary())]),
             [dict(FIRST), {"i": None, "f": 2, "s": "é", "b": False, "raw": bytearray(b"z")}, {"i": 3}]),
    "large layouts": (pa.schema([("s", pa.large_string()), ("raw", pa.large_binary()),
                                 ("i32", pa.int32()), ("f32", pa.float32())]),
                      [{"s": "x" * 40, "raw": b"\x00\xff", "i32": -5, "f32": 1.5}, {}]),
    "nested": (pa.schema([("st", pa.struct([("a", pa.int64()), ("l", pa.list_(pa.string()))])),
                          ("fl", pa.list_(pa.float64(), 2)), ("ll", pa.large_list(pa.int64()))]),
               [{"st": {"a": 1, "l": ["x", None]}, "fl": (1, 2.5), "ll": [1, 2]},
                {"st": {"l": []}, "fl": None, "ll": []}, {"st": None}]),
    "time": (pa.schema([("t", pa.timestamp("us", tz="UTC")), ("tn", pa.timestamp("us")),
                        ("d", pa.date32())]),
             [{"t": datetime(2024, 5, 1, 12, tzinfo=timezone.utc), "tn": datetime(2024, 5, 1, 12, 30),
               "d": date(2024, 5, 1)}, {"t": None}]),
    "required and metadata": (pa.schema([pa.field("k", pa.int64(), nullable=False),
                                         pa.field("v", pa.string())], metadata={b"owner": b"test"}),
                              [{"k": 1, "v": "a"}, {"k": 2}]),
}


@pytest.mark.parametrize("name", list(CONVERSIONS))
def test_struct_conversion_gives_what_from_pylist_gives(name):
    schema, records = CONVERSIONS[name]
    got = _records_to_batch(records, schema)
    want = pa.RecordBatch.from_pylist(records, schema=schema)
    assert got.schema.equals(want.schema, check_metadata=True), (got.schema, want.schema)
    assert got.equals(want)
    assert got.to_pylist() == want.to_pylist()


def test_a_value_the_struct_conversion_refuses_raises_as_from_pylist_does():
    schema = pa.schema([("i", pa.int64())])
    with pytest.raises(pa.ArrowInvalid):
        pa.RecordBatch.from_pylist([{"i": "x"}], schema=schema)
    with pytest.raises(pa.ArrowInvalid):
        _records_to_batch([{"i": "x"}], schema)


def test_background_job_runs_off_the_event_loop_thread(bucket_path):
    """The engine call of a full batch happens on a worker thread, not in put()."""
    threads = []
    real = _native.append

    def record_thread(handle, batch):
        threads.append(threading.current_thread().name)
        real(handle, batch)

    async def main():
        b = LanceBackend(0, bucket_path, batch_size=5, flush_threshold=BIG)
        try:
            await b.put(dict(FIRST))
            await b.flush()
            _native_append = _native.append
            try:
                _native.append = record_thread
                for i in range(10):
                    await b.put(dict(FIRST, i=i))
                await asyncio.to_thread(b._bucket.settle)
            finally:
                _native.append = _native_append
            assert await b.get() == [dict(FIRST)] + [dict(FIRST, i=i) for i in range(10)]
        finally:
            b.close()

    asyncio.run(main())
    assert threads and all(name.startswith("persisting") for name in threads), threads

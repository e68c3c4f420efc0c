"""One engine call per operation, and the engine's verdict on every record.

``put`` encodes its record and makes one ``persisting_append_records`` call,
through the compiled ``persisting._put`` and not ctypes (on the event loop's
thread, or on a worker thread when it waits for an fsync);
``put_batch`` one call for the list; ``put_arrow`` one Arrow C stream call;
``get`` one read. These tests pin that down, with strictness (what is refused
stores nothing), the encoding of Python values (numpy scalars, subclasses,
bytearray), order with concurrent puts and readers, schema evolution, WAL
replay after a kill and ForkError in a forked child.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
import textwrap
import threading
from collections import Counter, OrderedDict

import numpy as np
import pyarrow as pa
import pytest

from helpers import explain, run_python
from persisting import SchemaError, _native
from persisting.queue import LanceBackend, PersistingBackend

BACKENDS = {
    "lance": lambda path, **kw: LanceBackend(0, path, **kw),
    "persisting": lambda path, **kw: PersistingBackend(0, path, **kw),
    "persisting-wal": lambda path, **kw: PersistingBackend(0, path, enable_wal=True,
                                                          wal_sync_interval=0.5, **kw),
    "persisting-wal-sync": lambda path, **kw: PersistingBackend(0, path, enable_wal=True,
                                                               wal_sync_interval=0, **kw),
}

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
    """Counts every call into the library, by function, from any thread; and
    the threads the record appends ran on. ctypes' calls count under their C
    name, the compiled put calls (persisting._put) as "_put.append" and "_put.put"."""
    lib = _native.lib()
    counts: Counter = Counter()
    counts.threads = []  # type: ignore[attr-defined]
    originals = {name: getattr(lib, name) for name in _native._SIGNATURES}

    def wrap(name, fn):
        def call(*args):
            counts[name] += 1
            if name == "persisting_append_records":
                counts.threads.append(threading.current_thread())
            return fn(*args)
        return call

    def compiled(name, fn):
        def call(*args):
            counts[name] += 1
            counts.threads.append(threading.current_thread())
            return fn(*args)
        return call

    for name, fn in originals.items():
        setattr(lib, name, wrap(name, fn))
    real = {"append_records": _native.append_records, "put_record": _native.put_record}
    _native.append_records = compiled("_put.append", real["append_records"])
    _native.put_record = compiled("_put.put", real["put_record"])
    try:
        yield counts
    finally:
        vars(_native).update(real)
        for name, fn in originals.items():
            setattr(lib, name, fn)


class Int(int):
    pass


class Color(enum.IntEnum):
    RED = 1


# ---- strictness: refused records raise as before and store nothing -----------------------------
class Opaque:
    pass


# (field, value, error on LanceBackend, error on an evolving PersistingBackend)
REFUSED = [
    ("b", 1, SchemaError, SchemaError),
    ("i", True, SchemaError, SchemaError),
    ("i", 2**63, ValueError, ValueError),                 # beyond int64: a bad value
    ("i", "7", SchemaError, SchemaError),
    ("s", 5, SchemaError, SchemaError),
    ("s", "lone \ud800 surrogate", ValueError, ValueError),
    ("s", 3 + 4j, TypeError, TypeError),
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
async def test_refused_records_raise_and_store_nothing(bucket_path, kind, record, refused):
    async with known_schema(kind, bucket_path) as b:
        with pytest.raises(refused):
            await b.put(record)
        assert b.total_count() == 1


# values the encoder turns into their Python types before the engine sees them
ENCODED = [
    ({"f": 3}, {"f": 3.0}),                               # an int into a float field
    ({"raw": bytearray(b"yz")}, {"raw": b"yz"}),
    ({"raw": memoryview(b"mv")}, {"raw": b"mv"}),
    ({"i": Color.RED}, {"i": 1}),
    ({"i": np.int64(7)}, {"i": 7}),
    ({"i": np.uint8(9)}, {"i": 9}),
    ({"f": np.float32(0.25)}, {"f": 0.25}),
    ({"b": np.bool_(False)}, {"b": False}),               # issue 17: not "unsupported"
    ({"s": np.str_("np")}, {"s": "np"}),
    ({"i": Int(8)}, {"i": 8}),
    ({"s": "grüße"}, {"s": "grüße"}),
    (OrderedDict(i=10, s="ordered"), {"i": 10, "s": "ordered"}),
]


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_python_values_are_stored_as_their_python_types(bucket_path, kind):
    async with known_schema(kind, bucket_path) as b:
        for put, _ in ENCODED:
            await b.put(put)
        got = await b.get(offset=1)
        want = [dict(dict.fromkeys(FIRST), **stored) for _, stored in ENCODED]
        assert got == want
        await b.flush()
        assert await b.get(offset=1) == want


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_a_record_changed_after_put_is_stored_as_it_was(bucket_path, kind):
    async with known_schema(kind, bucket_path) as b:
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
    b = BACKENDS[kind](bucket_path, flush_threshold=50)
    producers, per = 4, 120
    total = producers * per
    sent: list[dict] = []
    lock = asyncio.Lock()

    async def produce(w: int) -> None:
        for k in range(per):
            r = {"w": w, "k": k, "s": "x" * (k % 5)}
            async with lock:  # the order of the log is the order the puts returned in
                await b.put(r)
                sent.append(r)
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
        await b.flush()
        assert await b.get() == sent
    finally:
        b.close()


# ---- schema evolution on PersistingBackend -------------------------------------------------------------
@pytest.mark.parametrize("kind", ["persisting", "persisting-wal", "persisting-wal-sync"])
async def test_a_new_field_and_a_widening_evolve_the_schema(bucket_path, kind):
    b = BACKENDS[kind](bucket_path)
    try:
        await b.put({"a": 1})
        await b.flush()
        await b.put({"a": 2})
        await b.put({"a": 3, "b": "new"})     # a new field
        await b.put({"a": 4, "b": "more"})
        await b.put({"a": 4.5})               # a float into the int field widens it
        await b.put({"a": 6.0, "b": None})
        want = [{"a": 1.0, "b": None}, {"a": 2.0, "b": None}, {"a": 3.0, "b": "new"},
                {"a": 4.0, "b": "more"}, {"a": 4.5, "b": None}, {"a": 6.0, "b": None}]
        assert await b.get() == want
        await b.flush()
        assert await b.get() == want
        schema = (await b.get_arrow()).schema
        assert schema.field("a").type == pa.float64() and schema.field("b").type == pa.string()
    finally:
        b.close()


# ---- WAL: records survive a kill -------------------------------------------------------------
WRITE_AND_DIE = textwrap.dedent("""
    import asyncio, os, signal, sys
    from persisting.queue import PersistingBackend

    def rec(i):
        return {"id": f"k{i}", "seq": i, "score": i / 4, "ok": i % 2 == 0, "pad": "x" * (i % 17)}

    async def main(path, n):
        b = PersistingBackend(0, path, enable_wal=True, wal_sync_interval=0.5, flush_threshold=32)
        for i in range(n):
            await b.put(rec(i))
        await b.put_batch([rec(i) for i in range(n, n + 5)])
        print("ACKED", b.total_count(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no flush, no close, no atexit

    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
""")


async def test_records_are_replayed_after_sigkill(tmp_path):
    path = str(tmp_path / "b")
    n = 100
    proc = run_python(WRITE_AND_DIE, path, str(n))
    assert proc.returncode == -signal.SIGKILL, explain(proc)
    assert f"ACKED {n + 5}" in proc.stdout, explain(proc)
    b = PersistingBackend(0, path, enable_wal=True, wal_sync_interval=0.5)
    try:
        got = await b.get()
        assert [r["seq"] for r in got] == list(range(n + 5))
        assert got[7] == {"id": "k7", "seq": 7, "score": 7 / 4, "ok": False, "pad": "x" * 7}
        await b.put({"id": "after", "seq": n + 5, "score": 0.0, "ok": True, "pad": ""})
        assert b.total_count() == n + 6
    finally:
        b.close()


@pytest.mark.parametrize("make", [
    "LanceBackend(0, PATH)",
    "PersistingBackend(0, PATH)",
    "PersistingBackend(0, PATH, enable_wal=True, wal_sync_interval=0.5)",
    "PersistingBackend(0, PATH, enable_wal=True, wal_sync_interval=0)",
], ids=["lance", "persisting", "persisting-wal", "persisting-wal-sync"])
def test_a_put_in_a_forked_child_raises_fork_error(tmp_path, make):
    """issue 17: every call in a forked child raises ForkError, put too (it
    used to return, and the record was dropped at exit)."""
    proc = run_python(textwrap.dedent(f"""
        import asyncio, os, sys
        from persisting import ForkError
        from persisting.queue import LanceBackend, PersistingBackend
        PATH = {str(tmp_path / 'b')!r}
        b = {make}
        asyncio.run(b.put({{"a": 1}}))
        asyncio.run(b.put({{"a": 2}}))
        pid = os.fork()
        if pid == 0:
            for name, call in (("put", lambda: b.put({{"a": 3}})),
                               ("put_batch", lambda: b.put_batch([{{"a": 3}}]))):
                try:
                    asyncio.run(call())
                except ForkError:
                    print("child:", name, "ForkError", flush=True)
                    continue
                print("child:", name, "no error", flush=True)
                os._exit(3)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print("child status", os.waitstatus_to_exitcode(status), flush=True)
        asyncio.run(b.put({{"a": 4}}))
        print("parent", [r["a"] for r in asyncio.run(b.get())], flush=True)
        b.close()
    """), timeout=60)
    assert proc.returncode == 0, explain(proc)
    assert "child: put ForkError" in proc.stdout and "child status 0" in proc.stdout, explain(proc)
    assert "parent [1, 2, 4]" in proc.stdout, explain(proc)


# ---- C calls per operation ---------------------------------------------------------------------------
BIG = 10**9


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_one_c_call_per_put_and_put_batch(bucket_path, kind):
    """One persisting_append_records call per put and per put_batch, through
    the compiled call (none through ctypes): on the event loop's thread, except
    when it waits for an fsync (WAL at 0)."""
    async with known_schema(kind, bucket_path, flush_threshold=BIG) as b:
        with counting_c_calls() as calls:
            for i in range(10):
                await b.put(dict(FIRST, i=i))
        threads = list(calls.threads)
        one_call = "_put.append" if kind == "persisting-wal-sync" else "_put.put"  # encoded before the worker thread
        assert {k: v for k, v in calls.items() if k != "persisting_count"} == {one_call: 10}, calls
        with counting_c_calls() as calls:
            await b.put_batch([dict(FIRST, i=i) for i in range(50)])
        threads += calls.threads
        assert dict(calls) == {"_put.append": 1}
        assert b.total_count() == 61
        on_loop = [t is threading.main_thread() for t in threads]
        assert len(on_loop) == 11
        assert not any(on_loop) if kind == "persisting-wal-sync" else all(on_loop), on_loop


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_one_c_call_per_put_arrow(bucket_path, kind):
    async with known_schema(kind, bucket_path, flush_threshold=BIG) as b:
        schema = (await b.get_arrow()).schema
        batch = pa.RecordBatch.from_pylist([dict(FIRST, i=i) for i in range(5)], schema=schema)
        with counting_c_calls() as calls:
            assert await b.put_arrow(batch) == 5
        assert dict(calls) == {"persisting_append_stream": 1}
        with counting_c_calls() as calls:
            assert await b.put_arrow(pa.Table.from_batches([batch, batch, batch])) == 15
        assert dict(calls) == {"persisting_append_stream": 1}


@pytest.mark.parametrize("kind", list(BACKENDS))
async def test_one_c_call_per_get(bucket_path, kind):
    async with known_schema(kind, bucket_path) as b:
        for i in range(2, 12):
            await b.put(dict(FIRST, i=i))
        with counting_c_calls() as calls:
            got = await b.get(8, 2)  # flushed and buffered rows
        assert [r["i"] for r in got] == list(range(3, 11))
        assert dict(calls) == {"persisting_read": 1}
        with counting_c_calls() as calls:
            table = await b.get_arrow()
        assert table.num_rows == 11
        assert dict(calls) == {"persisting_read": 1}


# ---- tagged values ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["lance", "persisting"])
async def test_a_decimal_is_stored_exactly_or_refused_naming_the_field(bucket_path, kind):
    """Decimal crosses as a tagged value; the engine decides. Either way the
    bucket keeps exactly what it accepted."""
    from decimal import Decimal

    b = BACKENDS[kind](bucket_path)
    try:
        await b.put({"n": 1})
        try:
            await b.put({"n": 2, "price": Decimal("1.50")} if kind != "lance" else
                        {"n": Decimal("1.50")})
        except Exception as exc:  # refused: the message names the field
            assert ("'price'" if kind != "lance" else "'n'") in str(exc), exc
            assert b.total_count() == 1
        else:
            got = (await b.get())[-1]
            assert Decimal("1.50") in got.values(), got
        await b.flush()
        assert (await b.get())[0]["n"] == 1
    finally:
        b.close()

"""Threads and event loops sharing one backend (docs/api-python.md, "Threads and event loops").

A backend may be used from several threads, each with its own event loop: a
reader waiting in ``get_stream`` on one loop is woken by a put on any other
loop or thread, and ``close()`` from any thread ends it. Many threads putting
at once get every acknowledged record stored once, in each thread's order.
Waits are on events: a hook on ``asyncio.wait_for`` says the reader waits.
"""

from __future__ import annotations

import asyncio
import threading

import pyarrow as pa
import pytest

import persisting.queue as queue
from persisting import ClosedError
from persisting.queue import LanceBackend, PersistingBackend

BACKENDS = {
    "lance": lambda path: LanceBackend(0, path, flush_threshold=40),
    "persisting-wal-sync": lambda path: PersistingBackend(0, path, enable_wal=True, wal_sync_interval=0,
                                                          flush_threshold=40),
}


def rec(i: int) -> dict:
    return {"seq": i}


@pytest.fixture
def reader_waits(monkeypatch) -> threading.Semaphore:
    """Released each time a ``get_stream`` reader starts waiting for records."""
    waiting = threading.Semaphore(0)
    real_wait = asyncio.wait

    async def signalling_wait(aws, timeout):
        waiting.release()
        return await real_wait(aws, timeout=timeout)

    monkeypatch.setattr(queue.asyncio, "wait", signalling_wait)
    return waiting


def stream_on_own_thread(backend, limit, timeout) -> tuple[threading.Thread, list]:
    """Runs ``get_stream(limit, 0, wait=True, timeout)`` on a thread with its own event loop."""
    got: list = []

    async def read() -> None:
        async for batch in backend.get_stream(limit, 0, True, timeout):
            got.append(batch)

    reader = threading.Thread(target=asyncio.run, args=(read(),), daemon=True)
    reader.start()
    return reader, got


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_stream_on_one_loop_is_woken_by_puts_on_another(bucket_path, kind, reader_waits):
    b = BACKENDS[kind](bucket_path)
    try:
        reader, got = stream_on_own_thread(b, 3, 30)
        for i in range(3):
            assert reader_waits.acquire(timeout=60), f"the reader never waited for record {i}"
            asyncio.run(b.put(rec(i)))  # this thread's own loop
        reader.join(60)
        assert not reader.is_alive() and got == [[rec(0)], [rec(1)], [rec(2)]]
    finally:
        b.close()


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_close_on_another_thread_ends_a_waiting_stream(bucket_path, kind, reader_waits):
    b = BACKENDS[kind](bucket_path)
    asyncio.run(b.put(rec(0)))
    reader, got = stream_on_own_thread(b, None, None)  # no timeout: only close ends it
    assert reader_waits.acquire(timeout=60)
    b.close()  # plain close(), from this thread
    reader.join(60)
    assert not reader.is_alive() and got == [[rec(0)]]


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_threads_with_own_loops_store_every_acknowledged_record_in_order(bucket_path, kind):
    b = BACKENDS[kind](bucket_path)
    threads, per = 8, 60
    start = threading.Barrier(threads)
    acked: dict[int, list[int]] = {t: [] for t in range(threads)}

    async def produce(t: int) -> None:
        start.wait()
        for i in range(0, per, 3):  # the three put paths, and reads between them
            await b.put({"t": t, "i": i})
            await b.put_batch([{"t": t, "i": i + 1}])
            await b.put_arrow(pa.table({"t": pa.array([t]), "i": pa.array([i + 2])}))
            acked[t] += [i, i + 1, i + 2]
            if i % 12 == 0:
                await b.flush()
                assert len(await b.get(5, 0)) <= 5 and b.total_count() >= len(acked[t])

    try:
        workers = [threading.Thread(target=asyncio.run, args=(produce(t),)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        rows = asyncio.run(b.get())
        assert len(rows) == threads * per
        for t in range(threads):
            assert [r["i"] for r in rows if r["t"] == t] == acked[t] == list(range(per))
    finally:
        b.close()
    with pytest.raises(ClosedError):
        asyncio.run(b.put(rec(0)))


class ContendedLock:
    """A lock that calls ``on_wait`` when a caller finds it held and has to wait."""

    def __init__(self, on_wait):
        self._lock, self._on_wait = threading.Lock(), on_wait

    def __enter__(self):
        if not self._lock.acquire(blocking=False):
            self._on_wait()
            self._lock.acquire()

    def __exit__(self, *exc):
        self._lock.release()


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_close_racing_a_close_returns_once_the_bucket_is_released(bucket_path, kind, monkeypatch):
    b = BACKENDS[kind](bucket_path)
    asyncio.run(b.put(rec(0)))
    first_closing, proceed, order = threading.Event(), threading.Event(), []
    real_close = queue._native.close_bucket

    def held_close(handle):  # the first close, held inside the engine call until the second close waits
        first_closing.set()
        assert proceed.wait(60)
        real_close(handle)
        order.append("first close done")

    monkeypatch.setattr(queue._native, "close_bucket", held_close)
    b._bucket._lock = ContendedLock(on_wait=proceed.set)
    first = threading.Thread(target=b.close)
    first.start()
    assert first_closing.wait(60)
    b.close()  # the second close, on this thread
    order.append("second close returned")
    proceed.set()  # (only needed when the second close did not wait)
    first.join(60)
    assert order == ["first close done", "second close returned"]
    reopened = BACKENDS[kind](bucket_path)  # the writer lock is free, the record flushed
    try:
        assert asyncio.run(reopened.get()) == [rec(0)]
    finally:
        reopened.close()


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_open_failing_after_the_engine_opened_raises_its_own_error(bucket_path, kind, monkeypatch):
    """The constructor closes what it opened (close() also wakes waiting readers: there are none yet)."""
    def failing_stats(handle):
        raise ConnectionAbortedError("stats failed")

    monkeypatch.setattr(queue._native, "stats", failing_stats)
    with pytest.raises(ConnectionAbortedError, match="stats failed"):
        BACKENDS[kind](bucket_path)
    monkeypatch.undo()
    BACKENDS[kind](bucket_path).close()  # the failed open released the bucket

"""A pulsing queue on the Lance backend, with a real actor system.

Usage: pulsing_scenario.py write|read|wal-write|wal-read STORAGE_PATH TOPIC COUNT

- write: starts a system, registers the backend, writes COUNT records through
  write_queue over 2 buckets, flushes, reads them back with read_queue, shuts
  the system down.
- read: a new process and system on the same STORAGE_PATH reads them again
  (the backend passed as a class, as pulsing's docs show).

- wal-write: writes COUNT records through write_queue with backend="persisting"
  and the WAL on, never flushes, prints its RESULT line and then waits to be
  killed (the test sends SIGKILL: no flush, no close, no atexit).
- wal-read: a new process and system, backend="persisting" with the same
  options, reads everything back through read_queue (replayed from the WAL).

Prints one JSON line with what it saw. Runs with pulsing 0.1.0 (pulsing.queue)
and 0.1.1+ (pulsing.streaming).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import sys
import time

import pulsing as pul

try:  # pulsing >= 0.1.1
    from pulsing.streaming import read_queue, write_queue

    API = "pulsing.streaming"
except ImportError:  # pulsing 0.1.0
    from pulsing.queue import read_queue, write_queue

    API = "pulsing.queue"

import lance

import persisting
from persisting import _native
from persisting.queue import LanceBackend, register

NUM_BUCKETS = 2


def record(i: int) -> dict:
    return {"id": f"user-{i}", "seq": i, "score": i / 8, "ok": i % 2 == 0, "text": f"record {i}"}


def on_disk(path: str) -> dict:
    rows = {}
    for b in range(NUM_BUCKETS):  # the main topic's buckets
        ds_path = os.path.join(path, f"bucket_{b}", "data.lance")
        rows[b] = lance.dataset(ds_path).count_rows() if os.path.isdir(ds_path) else None
    return rows


async def write(path: str, topic: str, n: int) -> dict:
    system = await pul.actor_system()
    try:
        names = register()
        writer = await write_queue(
            system, topic, bucket_column="id", num_buckets=NUM_BUCKETS, batch_size=10,
            storage_path=path, backend="lance", backend_options={"flush_threshold": 50},
        )
        for i in range(n):
            await writer.put(record(i))
        await writer.flush()
        stats = await writer.queue.stats()
        reader = await read_queue(system, topic, num_buckets=NUM_BUCKETS, storage_path=path,
                                  backend="lance")
        got = await reader.get(limit=n + 10)
        t0 = time.monotonic()
        extra = await reader.get(limit=5, wait=True, timeout=0.3)
        waited = time.monotonic() - t0
        live = await live_read(system, os.path.join(path, "live"), topic + "_live")
    finally:
        await system.shutdown()
    return {
        "live": live,
        "registered": names,
        "records": got,
        "extra": extra,
        "waited": waited,
        "bucket_stats": {str(k): v for k, v in stats["buckets"].items()},
    }


async def live_read(system, path: str, topic: str) -> list[dict]:
    """A reader blocked in get(wait=True) receives records written after it started."""
    reader = await read_queue(system, topic, num_buckets=1, storage_path=path, backend="lance")
    waiting = asyncio.create_task(reader.get(limit=5, wait=True, timeout=10))
    await asyncio.sleep(0.3)
    writer = await write_queue(system, topic, bucket_column="id", num_buckets=1, batch_size=2,
                               storage_path=path, backend="lance")
    for i in range(5):
        await writer.put(record(i))
        await asyncio.sleep(0.02)
    got = await asyncio.wait_for(waiting, 20)
    await writer.flush()
    return got


async def read(path: str, topic: str, n: int) -> dict:
    system = await pul.actor_system()
    try:
        register()
        reader = await read_queue(system, topic, num_buckets=NUM_BUCKETS, storage_path=path,
                                  backend=LanceBackend)
        got = await reader.get(limit=n + 10)
    finally:
        await system.shutdown()
    return {"records": got}


# No auto flush: wal-write reports nothing flushed however long its puts take.
WAL_OPTIONS = {"enable_wal": True, "wal_sync_interval": 0.0, "flush_threshold": 100_000,
               "enable_metrics": True, "max_flush_delay_sec": 0}


async def wal_write(path: str, topic: str, n: int) -> None:
    """Writes, reports, then waits - the actor system still running, nothing
    flushed, closed or shut down - for the test's SIGKILL."""
    system = await pul.actor_system()
    names = register()
    writer = await write_queue(
        system, topic, bucket_column="id", num_buckets=NUM_BUCKETS, batch_size=10,
        storage_path=path, backend="persisting", backend_options=WAL_OPTIONS,
    )
    for i in range(n):
        await writer.put(record(i))  # returns once the record is in the WAL
    stats = await writer.queue.stats()
    out = {"registered": names, "bucket_stats": {str(k): v for k, v in stats["buckets"].items()},
           "api": API, "pulsing_version": importlib.metadata.version("pulsing"),
           "on_disk": on_disk(path), "expected": [record(i) for i in range(n)]}
    print("RESULT " + json.dumps(out), flush=True)
    await asyncio.sleep(3600)
    await system.shutdown()  # not reached


async def wal_read(path: str, topic: str, n: int) -> dict:
    system = await pul.actor_system()
    try:
        register()
        reader = await read_queue(system, topic, num_buckets=NUM_BUCKETS, storage_path=path,
                                  backend="persisting", backend_options=WAL_OPTIONS)
        got = await reader.get(limit=n + 10)
        stats = await reader.queue.stats()
    finally:
        await system.shutdown()
    return {"records": got, "bucket_stats": {str(k): v for k, v in stats["buckets"].items()}}


def main() -> None:
    phase, path, topic, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if phase == "wal-write":
        asyncio.run(wal_write(path, topic, n))
        return
    elif phase == "wal-read":
        out = asyncio.run(wal_read(path, topic, n))
    else:
        out = asyncio.run(write(path, topic, n) if phase == "write" else read(path, topic, n))
    out.update(
        api=API,
        pulsing_version=importlib.metadata.version("pulsing"),
        persisting_file=persisting.__file__,
        library=_native.library_path() if _native.is_loaded() else None,
        on_disk=on_disk(path),
        expected=[record(i) for i in range(n)],
    )
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()

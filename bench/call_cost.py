#!/usr/bin/env python3
"""What one call into the library costs a pulsing put (BENCHMARKS.md, session 7).

1. Cold calls: a 300 us sleep (an event loop between two messages), then a
   call, 3,000 times; wall and process CPU (all threads) per call over the
   sleep alone, for a put, a count then a put, and libc's labs then a put.
2. Inside a real pulsing queue (4 buckets, 4 x 2,000 puts): the latency of
   the two calls pulsing's BucketStorage.put makes per record
   (total_count, then put), next to libc's labs at the same place.

    PERSISTING_LIB=build/libpersisting.so python3 bench/call_cost.py
"""

from __future__ import annotations

import asyncio
import ctypes
import marshal
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))
sys.path.insert(0, str(HERE))

import bench  # noqa: E402


def cold_calls(tmp: str) -> None:
    from persisting import _native

    h = _native.open_bucket(f"{tmp}/cold", {"flush_threshold": 10**9})
    labs = ctypes.CDLL(None).labs
    data = marshal.dumps(bench.make_records(1)[0], 4)
    cases = {
        "sleep only": lambda: None,
        "put": lambda: _native.append_records(h, data),
        "count, put": lambda: (_native.count(h), _native.append_records(h, data)),
        "labs, put": lambda: (labs(5), _native.append_records(h, data)),
    }
    res: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    for _ in range(5):
        for name, fn in cases.items():
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(3000):
                time.sleep(0.0003)
                fn()
            res[name].append(((time.perf_counter() - t0) / 3000, (time.process_time() - c0) / 3000))
    wall0 = statistics.median(w for w, _ in res["sleep only"])
    cpu0 = statistics.median(c for _, c in res["sleep only"])
    print("1. after a 300 us sleep, per call (median of 5 runs of 3,000):")
    for name, v in res.items():
        if name != "sleep only":
            print(f"   {name:12s} wall +{(statistics.median(w for w, _ in v) - wall0) * 1e6:5.1f} us"
                  f"   CPU +{(statistics.median(c for _, c in v) - cpu0) * 1e6:5.1f} us")
    _native.close_bucket(h)


def in_pulsing(tmp: str) -> None:
    import pulsing as pul
    try:
        from pulsing.streaming import write_queue
    except ImportError:
        from pulsing.queue import write_queue
    from persisting import _native
    from persisting.queue import register

    register()
    labs = ctypes.CDLL(None).labs
    took: dict[str, list[float]] = {"count": [], "put": [], "labs": []}
    _native.lib()  # binds the compiled put call (_native.put_record)
    count, put = _native.count, _native.put_record

    def timed_count(h):
        t0 = time.perf_counter()
        labs(5)
        took["labs"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = count(h)
        took["count"].append(time.perf_counter() - t0)
        return out

    def timed_put(h, record):
        t0 = time.perf_counter()
        out = put(h, record)
        took["put"].append(time.perf_counter() - t0)
        return out

    _native.count, _native.put_record = timed_count, timed_put
    records = bench.make_records(2000)
    loop = asyncio.new_event_loop()
    system = loop.run_until_complete(pul.actor_system())

    async def one(i: int) -> None:
        w = await write_queue(system, f"calls{i}", bucket_column="id", num_buckets=4,
                              storage_path=f"{tmp}/q{i}", backend="lance")
        for r in records:
            await w.put(r)
        await w.flush()

    try:
        for i in range(4):
            loop.run_until_complete(one(i))
    finally:
        _native.count, _native.put_record = count, put
        async def stop() -> None:
            await system.shutdown()

        loop.run_until_complete(stop())
    print("2. inside a pulsing queue, per call:")
    for name, v in took.items():
        v.sort()
        q = lambda p: v[int(p * (len(v) - 1))] * 1e6  # noqa: E731
        print(f"   {name:6s} n={len(v)}  p50 {q(.5):5.1f} us  p90 {q(.9):5.1f} us  p99 {q(.99):5.1f} us")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="call-cost-") as tmp:
        cold_calls(tmp)
        in_pulsing(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Where the time of one `await put(dict)` goes (bench.py measurement 3).

Ablations of PersistingBackend measured in one run next to pulsing's
MemoryBackend (medians of --reps runs, microseconds per record):

- default options (batch_size 100, flush_threshold 1000): what pulsing gets;
- flush_threshold huge: no automatic flush on the put path;
- batch_size and flush_threshold huge: no engine call at all (pure Python);
- _validate alone;
- the pieces of a WAL put: an asyncio.to_thread round trip, from_pylist of
  one record, persisting_append of a one-row batch with the WAL on.

    python3 bench/put_breakdown.py [--records 20000] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "python"))
sys.path.insert(0, str(HERE))

import bench  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()

    import pyarrow as pa
    from persisting import _native
    from persisting.queue import PersistingBackend

    MemoryBackend = bench._memory_backend()
    n = args.records
    recs = bench.make_records(n)
    tmp = Path(tempfile.mkdtemp(prefix="persisting-put-"))
    loop = asyncio.new_event_loop()

    def puts(make):
        def go() -> float:
            path = tmp / "b"
            shutil.rmtree(path, ignore_errors=True)
            b = make(str(path))

            async def run():
                put = b.put
                t0 = time.perf_counter()
                for r in recs:
                    await put(r)
                return time.perf_counter() - t0

            took = loop.run_until_complete(run())
            if hasattr(b, "close"):
                b.close()
            return took / n * 1e6
        return go

    big = 10**9
    cases = {
        "MemoryBackend.put": puts(lambda p: MemoryBackend(0)),
        "put, defaults (batch 100, flush 1000)": puts(lambda p: PersistingBackend(0, p)),
        "put, no automatic flush": puts(lambda p: PersistingBackend(0, p, flush_threshold=big)),
        "put, no engine call (pure Python)": puts(
            lambda p: PersistingBackend(0, p, batch_size=big, flush_threshold=big)),
    }

    probe = PersistingBackend(0, str(tmp / "probe"))
    loop.run_until_complete(probe.put(recs[0]))
    bucket = probe._bucket

    def validate() -> float:
        t0 = time.perf_counter()
        for r in recs:
            bucket._validate(r, bucket._fields)
        return (time.perf_counter() - t0) / n * 1e6

    cases["_validate alone"] = validate
    schema = pa.RecordBatch.from_pylist(recs[:1]).schema
    m = min(n, 5000)

    def to_thread() -> float:
        async def run():
            t0 = time.perf_counter()
            for _ in range(m):
                await asyncio.to_thread(int)
            return time.perf_counter() - t0
        return loop.run_until_complete(run()) / m * 1e6

    def from_pylist_1() -> float:
        t0 = time.perf_counter()
        for r in recs[:m]:
            pa.RecordBatch.from_pylist([r], schema=schema)
        return (time.perf_counter() - t0) / m * 1e6

    def c_append_wal_1() -> float:
        path = tmp / "wal"
        shutil.rmtree(path, ignore_errors=True)
        h = _native.open_bucket(str(path), {"enable_wal": True, "wal_sync_interval": 1.0,
                                            "flush_threshold": big})
        one = pa.RecordBatch.from_pylist(recs[:1], schema=schema)
        t0 = time.perf_counter()
        for _ in range(m):
            _native.append(h, one)
        took = (time.perf_counter() - t0) / m * 1e6
        _native.close_bucket(h)
        return took

    cases["WAL piece: asyncio.to_thread round trip"] = to_thread
    cases["WAL piece: from_pylist of 1 record"] = from_pylist_1
    cases["WAL piece: persisting_append 1 row, WAL on"] = c_append_wal_1

    results = {k: [] for k in cases}
    for _ in range(args.reps):
        for k, f in cases.items():
            results[k].append(f())
    probe.close()
    loop.close()
    shutil.rmtree(tmp, ignore_errors=True)
    mem = statistics.median(results["MemoryBackend.put"])
    width = max(map(len, results))
    print(f"{'case'.ljust(width)}  us/record  x MemoryBackend")
    for k, v in results.items():
        med = statistics.median(v)
        print(f"{k.ljust(width)}  {med:9.2f}  {med / mem:8.1f}")
    return 0


if __name__ == "__main__":
    if os.environ.get("LANCE_LOG") is None:
        os.environ["LANCE_LOG"] = "error"
    sys.exit(main())

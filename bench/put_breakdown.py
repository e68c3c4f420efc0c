#!/usr/bin/env python3
"""Where the time of one `await put(dict)` goes (bench.py measurement 3).

A put is the thin shell's two steps - encode the record
(``persisting._encode.encode_record``) and one ``persisting_append_records``
call - plus the coroutine around them. Measured in one run next to pulsing's
MemoryBackend (medians of --reps runs, microseconds per record):

- ``await put`` on MemoryBackend, LanceBackend (no WAL) and PersistingBackend
  with the WAL at interval sync (1 s), default options, and with
  ``flush_threshold`` huge (no Lance flush behind the puts);
- the parts: ``encode_record(record)`` alone, and
  ``_native.append_records`` of an encoded record without and with the WAL.

    python3 bench/put_breakdown.py [--records 20000] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
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

BIG = 10**9


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()

    from persisting import _native
    from persisting._encode import encode_record
    from persisting.queue import LanceBackend, PersistingBackend

    records = bench.make_records(args.records)
    tmp = Path(tempfile.mkdtemp(prefix="put-breakdown-"))
    loop = asyncio.new_event_loop()
    n = [0]

    def fresh() -> str:
        n[0] += 1
        return str(tmp / f"b{n[0]}")

    def puts(make):
        def go() -> float:
            backend = make(fresh())

            async def run():
                put = backend.put
                t0 = time.perf_counter()
                for r in records:
                    await put(r)
                return time.perf_counter() - t0

            took = loop.run_until_complete(run())
            if hasattr(backend, "close"):
                backend.close()
            return took / len(records)
        return go

    def encode() -> float:
        t0 = time.perf_counter()
        for r in records:
            encode_record(r)
        return (time.perf_counter() - t0) / len(records)

    def raw_append(options):
        def go() -> float:
            h = _native.open_bucket(fresh(), dict(options, flush_threshold=BIG))
            try:
                payloads = [encode_record(r) for r in records]
                _native.append_records(h, payloads[0])  # the first record fixes the schema
                t0 = time.perf_counter()
                for p in payloads[1:]:
                    _native.append_records(h, p)
                return (time.perf_counter() - t0) / (len(payloads) - 1)
            finally:
                _native.close_bucket(h)
        return go

    wal = {"enable_wal": True, "wal_sync_interval": 1.0}
    cases = {
        "MemoryBackend.put": puts(lambda p: bench._memory_backend()(0)),
        "LanceBackend.put": puts(lambda p: LanceBackend(0, p)),
        "LanceBackend.put, flush_threshold huge": puts(lambda p: LanceBackend(0, p, flush_threshold=BIG)),
        "PersistingBackend.put, WAL 1 s": puts(lambda p: PersistingBackend(0, p, **wal)),
        "PersistingBackend.put, WAL 1 s, flush_threshold huge":
            puts(lambda p: PersistingBackend(0, p, flush_threshold=BIG, **wal)),
        "encode_record(record)": encode,
        "append_records, no WAL": raw_append({}),
        "append_records, WAL 1 s": raw_append(wal),
    }
    try:
        for fn in cases.values():  # warm-up
            fn()
        times = bench.paired(args.reps, list(cases.values()))
    finally:
        loop.close()
        shutil.rmtree(tmp, ignore_errors=True)
    width = max(map(len, cases))
    for name, t in zip(cases, times):
        print(f"{name.ljust(width)}  {statistics.median(t) * 1e6:8.2f} us/record")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Where the time of one `await put(dict)` goes (bench.py measurement 3).

Ablations of PersistingBackend measured in one run next to pulsing's
MemoryBackend (medians of --reps runs, microseconds per record):

3a, batching (no WAL): put() checks the record against a per-field map of
exact Python types and appends it to a list on the event loop's thread; a
background job converts full batches to Arrow and appends them (the engine
flushes in that call when its threshold is reached).

- default options (batch_size 100, flush_threshold 1000): what pulsing gets;
- flush_threshold huge: no Lance flush behind the puts;
- batch_size and flush_threshold huge: no engine call at all (the event loop's part);
- the fast check alone, and the full validation a record that misses it pays;
- the background job's parts per record: the struct-array conversion of a
  100-record batch, persisting_append of it, a flush of 1000 rows.

3b, WAL at interval sync: put() is one persisting_append_records call on the
event loop's thread (a marshal payload); a flush runs in the background, but
holds the bucket while it writes, so puts that meet it wait.

- default options, and flush_threshold huge;
- the parts: marshal.dumps(record, 4), persisting_append_records of one
  record with the WAL on (as put calls it, _native.RecordsCall, and through
  ctypes' argtypes conversion, _native.append_records), a flush of 1000 rows
  with the WAL on.

    python3 bench/put_breakdown.py [--records 20000] [--reps 5]
"""

from __future__ import annotations

import argparse
import asyncio
import marshal
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
    from persisting.queue import PersistingBackend, _fast_fits, _records_to_batch

    MemoryBackend = bench._memory_backend()
    n = args.records
    recs = bench.make_records(n)
    tmp = Path(tempfile.mkdtemp(prefix="persisting-put-"))
    loop = asyncio.new_event_loop()

    def puts(make, count: int = n):
        def go() -> float:
            path = tmp / "b"
            shutil.rmtree(path, ignore_errors=True)
            b = make(str(path))

            async def run():
                put = b.put
                t0 = time.perf_counter()
                for r in recs[:count]:
                    await put(r)
                return time.perf_counter() - t0

            took = loop.run_until_complete(run())
            if hasattr(b, "close"):
                b.close()
            return took / count * 1e6
        return go

    big = 10**9
    wal = dict(enable_wal=True, wal_sync_interval=1.0)
    cases = {
        "MemoryBackend.put": puts(lambda p: MemoryBackend(0)),
        "3a put, defaults (batch 100, flush 1000)": puts(lambda p: PersistingBackend(0, p)),
        "3a put, no automatic flush": puts(lambda p: PersistingBackend(0, p, flush_threshold=big)),
        "3a put, no engine call (event loop's part)": puts(
            lambda p: PersistingBackend(0, p, batch_size=big, flush_threshold=big)),
        "3b put, WAL 1 s, defaults": puts(lambda p: PersistingBackend(0, p, **wal)),
        "3b put, WAL 1 s, no automatic flush": puts(
            lambda p: PersistingBackend(0, p, flush_threshold=big, **wal)),
    }

    probe = PersistingBackend(0, str(tmp / "probe"))
    loop.run_until_complete(probe.put(recs[0]))
    loop.run_until_complete(probe.flush())
    bucket = probe._bucket
    with bucket._state_lock:
        types = bucket._fast_types_locked()
    assert types, "the probe bucket has no fast path"

    def per_record(fn, count: int = n):
        def go() -> float:
            t0 = time.perf_counter()
            fn()
            return (time.perf_counter() - t0) / count * 1e6
        return go

    def fast_check() -> None:
        for r in recs:
            _fast_fits(r, types)

    def full_validate() -> None:
        for r in recs:
            bucket._validate(r, bucket._fields)

    schema = pa.RecordBatch.from_pylist(recs[:1]).schema
    chunks = [recs[i:i + 100] for i in range(0, n - 99, 100)]
    batches = [_records_to_batch(c, schema) for c in chunks]

    def convert() -> None:
        for c in chunks:
            _records_to_batch(c, schema)

    def engine(options: dict):
        path = tmp / "engine"
        shutil.rmtree(path, ignore_errors=True)
        h = _native.open_bucket(str(path), dict(options, flush_threshold=big))
        _native.append(h, batches[0])
        return h

    def append_100() -> float:
        h = engine({})
        t0 = time.perf_counter()
        for b in batches:
            _native.append(h, b)
        took = time.perf_counter() - t0
        _native.close_bucket(h)
        return took / (len(batches) * 100) * 1e6

    def flush_1000(options: dict):
        def go() -> float:
            h = engine(options)
            _native.flush(h)
            took = 0.0
            for i in range(0, len(batches) - 9, 10):
                for b in batches[i:i + 10]:
                    _native.append(h, b)
                t0 = time.perf_counter()
                _native.flush(h)
                took += time.perf_counter() - t0
            _native.close_bucket(h)
            return took / ((len(batches) // 10) * 1000) * 1e6
        return go

    payloads = [marshal.dumps(r, 4) for r in recs]

    def dumps() -> None:
        for r in recs:
            marshal.dumps(r, 4)

    def append_records_1(fast: bool):
        def go() -> float:
            h = engine({"enable_wal": True, "wal_sync_interval": 1.0})
            call = _native.RecordsCall(h) if fast else (lambda p: _native.append_records(h, p))
            t0 = time.perf_counter()
            for p in payloads:
                call(p)
            took = time.perf_counter() - t0
            _native.close_bucket(h)
            return took / len(payloads) * 1e6
        return go

    cases["3a part: fast check (exact types)"] = per_record(fast_check)
    cases["3a part: full validation (what misses it)"] = per_record(full_validate)
    cases["3a job: struct conversion, 100-record batch"] = per_record(convert, len(chunks) * 100)
    cases["3a job: persisting_append, 100 rows"] = append_100
    cases["3a job: flush of 1000 rows"] = flush_1000({})
    cases["3b part: marshal.dumps(record, 4)"] = per_record(dumps)
    cases["3b part: persisting_append_records, WAL on (put's call)"] = append_records_1(True)
    cases["3b part: the same through ctypes argtypes"] = append_records_1(False)
    cases["3b part: flush of 1000 rows, WAL on (puts wait)"] = flush_1000(
        {"enable_wal": True, "wal_sync_interval": 1.0})

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

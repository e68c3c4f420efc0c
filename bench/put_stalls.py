#!/usr/bin/env python3
"""How much of the wall time of `await put(dict)` is spent in slow puts.

bench.py measurement 3 divides the wall time of many puts by their count; on
a loaded machine a few puts that wait (behind a background flush or
compaction, or for a CPU) make most of it. This script times every put and
reports, per backend, the wall time per put, the awaiting thread's CPU per
put, and the puts over --slow-ms: their count and their share of the wall
time. The share is far less sensitive to other load than the wall ratio.

    PERSISTING_LIB=build/libpersisting.so python3 bench/put_stalls.py [--records 50000] [--reps 3]
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--slow-ms", type=float, default=0.5)
    ap.add_argument("--only", default="", help="comma list of case names (memory,nowal,wal)")
    args = ap.parse_args()

    from persisting.queue import PersistingBackend

    records = bench.make_records(args.records)
    tmp = Path(tempfile.mkdtemp(prefix="put-stalls-"))
    loop = asyncio.new_event_loop()
    slow = args.slow_ms / 1e3

    def measure(make):
        backend = make(str(tmp / f"b{time.monotonic_ns()}"))
        lat = [0.0] * len(records)

        async def run():
            put = backend.put
            clock = time.perf_counter
            c0 = time.thread_time()
            t0 = clock()
            for i, r in enumerate(records):
                s = clock()
                await put(r)
                lat[i] = clock() - s
            return clock() - t0, time.thread_time() - c0

        wall, cpu = loop.run_until_complete(run())
        if hasattr(backend, "close"):
            backend.close()
        waits = [t for t in lat if t > slow]
        return dict(wall=wall / len(records), cpu=cpu / len(records), slow=len(waits),
                    slow_share=sum(waits) / wall, worst=max(lat))

    cases = {
        "memory": ("MemoryBackend", lambda p: bench._memory_backend()(0)),
        "nowal": ("PersistingBackend, no WAL", lambda p: PersistingBackend(0, p, enable_wal=False)),
        "wal": ("PersistingBackend, WAL 1 s",
                lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=1.0)),
    }
    chosen = [c.strip() for c in args.only.split(",") if c.strip()] or list(cases)
    try:
        for key in chosen:  # warm-up
            measure(cases[key][1])
        results = {key: [] for key in chosen}
        for _ in range(args.reps):
            for key in chosen:
                results[key].append(measure(cases[key][1]))
    finally:
        loop.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.records} puts, {args.reps} reps, medians; slow = over {args.slow_ms} ms")
    for key in chosen:
        rs = results[key]
        med = lambda f: statistics.median(r[f] for r in rs)  # noqa: E731
        print(f"{cases[key][0]:28s} wall {med('wall') * 1e6:6.2f} us/put  cpu {med('cpu') * 1e6:5.2f} us/put  "
              f"slow {med('slow'):5.0f} ({med('slow_share') * 100:4.1f} % of wall)  "
              f"worst {max(r['worst'] for r in rs) * 1e3:6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""get_meta's cost does not grow with what a task consumed (issue #14).

Two buckets, measured in the same run, interleaved repetition by repetition:
a *big* one of 1,000,000 records of which the task consumed 900,000, and a
*small* one of 10,000 records of which it consumed 9,000. Each repetition
times ``get_meta(["step"], 256, "train")`` (which also marks the batch, one
consumption-log entry) on both; when a task runs out, its consumption is reset
and the 90% re-marked outside the timing. The claim is the ratio of medians
time(big) / time(small), which is O(batch) when close to 1 (an O(total) scan
would make it ~100).

    python3 bench/training.py            # 400 repetitions
    python3 bench/training.py --reps 50  # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
if "PERSISTING_LIB" not in os.environ and (REPO / "build" / "libpersisting.so").is_file():
    os.environ["PERSISTING_LIB"] = str(REPO / "build" / "libpersisting.so")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from persisting.queue import LanceBackend  # noqa: E402

BATCH = 256


async def bucket(path: str, total: int) -> LanceBackend:
    b = LanceBackend(0, path, flush_threshold=2 * total)
    for start in range(0, total, 100_000):
        n = min(100_000, total - start)
        await b.put_arrow(pa.table({"step": np.arange(start, start + n, dtype=np.int64)}))
    await b.flush()
    await b.mark_consumed("train", range(total * 9 // 10))
    return b


async def timed(b: LanceBackend, total: int) -> float:
    t0 = time.perf_counter()
    got = (await b.get_meta(["step"], BATCH, "train"))["global_indexes"]
    dt = time.perf_counter() - t0
    if len(got) < BATCH:
        await b.reset_consumption("train")
        await b.mark_consumed("train", range(total * 9 // 10))
    return dt


async def main(reps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        big = await bucket(os.path.join(tmp, "big"), 1_000_000)
        small = await bucket(os.path.join(tmp, "small"), 10_000)
        times: dict[str, list[float]] = {"big": [], "small": []}
        for i in range(reps):
            order = [("big", big, 1_000_000), ("small", small, 10_000)]
            for name, b, total in (order if i % 2 == 0 else order[::-1]):
                times[name].append(await timed(b, total))
        big.close()
        small.close()
    mb, ms = statistics.median(times["big"]), statistics.median(times["small"])
    print(f"get_meta(batch={BATCH}) median: 1M records/900k consumed {mb * 1e6:.0f} us, "
          f"10k/9k {ms * 1e6:.0f} us; ratio big/small {mb / ms:.2f} (O(batch): ~1; O(total): ~100)")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=400)
    asyncio.run(main(p.parse_args().reps))

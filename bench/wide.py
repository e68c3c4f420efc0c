#!/usr/bin/env python3
"""Wide records (issue 17): reading one record of N int fields, ours against pylance.

For each width, one record {"f0": 0, ..., "f{N-1}": N-1} is put and flushed by a
LanceBackend. Then, repetition by repetition (the order alternates), both sides
read it back as Python dicts from disk:

- ours:    LanceBackend(...) then ``await get()``             (open + read + to dicts)
- pylance: ``lance.dataset(path).to_table().to_pylist()``      (open + read + to dicts)

and the ratio ours / pylance is taken per repetition; the median is the claim
(target: <= 3 at 4,000 and 50,000 fields). ``get()`` alone is shown too.

pylance runs in a spawned child with a time limit (--pylance-timeout): pylance 14
itself takes minutes on very wide schemas. When it runs out of time the row shows
">limit" and the ratio as an upper bound ("<x").

    python3 bench/wide.py                       # 4,000 and 50,000 fields, 3 repetitions
    python3 bench/wide.py --fields 1000,2000 --reps 1

Targets are reported, never asserted. Library: ../python with PERSISTING_LIB or
../build/libpersisting.so, as bench.py; never forks after loading it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("LANCE_LOG", "error")
TARGET = 3.0

PYLANCE_CHILD = r"""
import json, sys, time
import lance
start = time.perf_counter()
rows = lance.dataset(sys.argv[1]).to_table().to_pylist()
took = time.perf_counter() - start
assert len(rows) == 1 and len(rows[0]) == int(sys.argv[2])
print(json.dumps({"seconds": took}))
"""


def wide_record(fields: int) -> dict[str, int]:
    return {f"f{i}": i for i in range(fields)}


async def write(path: str, fields: int) -> float:
    from persisting.queue import LanceBackend

    start = time.perf_counter()
    backend = LanceBackend(bucket_id=0, storage_path=path)
    try:
        await backend.put(wide_record(fields))
        await backend.flush()
    finally:
        backend.close()
    return time.perf_counter() - start


async def ours(path: str, fields: int) -> tuple[float, float]:
    """(open + get, get alone) in seconds."""
    from persisting.queue import LanceBackend

    start = time.perf_counter()
    backend = LanceBackend(bucket_id=0, storage_path=path)
    try:
        got = time.perf_counter()
        rows = await backend.get()
        end = time.perf_counter()
    finally:
        backend.close()
    assert len(rows) == 1 and len(rows[0]) == fields and rows[0][f"f{fields - 1}"] == fields - 1
    return end - start, end - got


def pylance(path: str, fields: int, timeout: float) -> float | None:
    """Seconds pylance took in a spawned child (its own clock), None past timeout."""
    try:
        proc = subprocess.run([sys.executable, "-c", PYLANCE_CHILD, os.path.join(path, "data.lance"), str(fields)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"pylance child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


def measure(fields: int, reps: int, timeout: float, workdir: str) -> dict:
    path = os.path.join(workdir, f"wide_{fields}")
    shutil.rmtree(path, ignore_errors=True)
    wrote = asyncio.run(write(path, fields))
    ratios, ours_total, ours_get, theirs = [], [], [], []
    timed_out = False
    for rep in range(reps):
        order = ("ours", "pylance") if rep % 2 == 0 else ("pylance", "ours")
        result: dict[str, float | None] = {}
        for side in order:
            if side == "ours":
                total, get = asyncio.run(ours(path, fields))
                result["ours"] = total
                ours_get.append(get)
            elif not timed_out:
                result["pylance"] = pylance(path, fields, timeout)
                timed_out = result["pylance"] is None
        ours_total.append(result["ours"])
        if result.get("pylance") is not None:
            theirs.append(result["pylance"])
            ratios.append(result["ours"] / result["pylance"])
    row = {"fields": fields, "write_s": wrote, "ours_s": statistics.median(ours_total),
           "ours_get_s": statistics.median(ours_get)}
    if ratios:
        row.update(pylance_s=statistics.median(theirs), ratio=statistics.median(ratios), bound=False)
    else:  # pylance never finished: ours / limit bounds the ratio from above
        row.update(pylance_s=None, ratio=row["ours_s"] / timeout, bound=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fields", default="4000,50000", help="comma-separated widths (default 4000,50000)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per width (default 3)")
    ap.add_argument("--pylance-timeout", type=float, default=120.0, help="seconds pylance may take (default 120)")
    ap.add_argument("--installed", action="store_true", help="use the installed persisting package")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    if not args.installed:
        sys.path.insert(0, str(ROOT / "python"))
        built = ROOT / "build" / "libpersisting.so"
        if "PERSISTING_LIB" not in os.environ and built.is_file():
            os.environ["PERSISTING_LIB"] = str(built)
    widths = [int(w) for w in args.fields.split(",") if w.strip()]
    rows = []
    print(f"{'fields':>8} {'write s':>9} {'ours s':>9} {'get s':>9} {'pylance s':>10} {'ours/pylance':>13}  target <= {TARGET}")
    with tempfile.TemporaryDirectory(prefix="persisting-wide-") as workdir:
        for fields in widths:
            row = measure(fields, args.reps, args.pylance_timeout, workdir)
            rows.append(row)
            theirs = f">{args.pylance_timeout:.0f}" if row["bound"] else f"{row['pylance_s']:.3f}"
            ratio = f"{'<' if row['bound'] else ''}{row['ratio']:.2f}"
            verdict = "ok" if row["ratio"] <= TARGET else "MISSED"
            print(f"{fields:>8} {row['write_s']:>9.3f} {row['ours_s']:>9.3f} {row['ours_get_s']:>9.3f} "
                  f"{theirs:>10} {ratio:>13}  {verdict}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

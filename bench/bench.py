#!/usr/bin/env python3
"""Side-by-side benchmarks of persisting (issues #6 and #11): a table of ratios.

Every ratio compares two things measured in the same run, interleaved
repetition by repetition (the order alternates), on the same data and the
same directory. The machine is shared and noisy, so the claim is the ratio,
taken as the median of the per-repetition ratios; absolute medians are shown
only to read the ratios by.

    python3 bench/bench.py            # full run (about 1.5-2 minutes on 2 cores)
    python3 bench/bench.py --quick    # small sizes, < 60 s: checks that it works
    python3 bench/bench.py --only 1,5 --json out.json

The measurements (targets from issues #6 and #11):

1. put_arrow of 64k-row batches (8 mixed columns) + flush vs pylance
   write_dataset(mode="append", data_storage_version="2.0") of the same batches,
   one call per batch on both sides: their time / ours            >= 1.0
2. a dd-like sequential write + fsync of the byte count our dataset occupies,
   in the same directory, vs our append + flush (measurement 1): raw time /
   our time, i.e. our bandwidth as a share of the disk's              >= 0.5
3. per-record `await put(dict)` vs pulsing's MemoryBackend.put: our time /
   theirs, without WAL <= 3.0 and with WAL at interval sync (1 s) <= 5.0
   (issue #11: the end-to-end figure, 8, is what users see)
4. flush() of 1k records into a dataset of 1M rows vs one of 10k rows, both
   made of 1k-row fragments as a queue flushing every 1k records makes them:
   time(1M) / time(10k)                                               <= 1.5
5. get(100, offset) at deep offsets of a 1M-row, 1k-fragment dataset vs
   pylance ds.to_table(offset=, limit=) on the same dataset: theirs / ours >= 1.0
6. get_arrow() of the whole dataset vs pylance ds.to_table(): theirs / ours >= 1.0
7. peak RSS of a 10M-row put_arrow ingest in a spawned child (RSS sampled from
   /proc) vs the configured buffer bound (flush_threshold rows in bytes):
   peak growth over the pre-ingest RSS <= bound + 64 MiB, and flat.
8. end to end through a real pulsing queue (one actor system, 4 buckets):
   write_queue -> `await writer.put(record)` x N -> flush, records/s of
   LanceBackend and of PersistingBackend (WAL, interval sync 1 s) vs
   MemoryBackend in the same run: ours / theirs                   >= 0.95

Targets are reported, never asserted: the exit status is non-zero only when
a measurement fails with an error.

Library: the package in ../python and the library it finds (PERSISTING_LIB,
else ../build/libpersisting.so); pass --installed to use the installed package.
Never forks after the library is loaded: the RSS child is a new interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("LANCE_LOG", "error")  # pylance warns on every create
# numpy only generates the test data; OpenBLAS's idle worker threads otherwise
# spin on the second core while both sides are being timed.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
MiB = 1 << 20


def _use_source_tree(installed: bool) -> None:
    if not installed:
        sys.path.insert(0, str(ROOT / "python"))


# ---- data ----------------------------------------------------------------------------
def make_batch(rows: int, start: int, seed: int):
    """A fresh 8-column batch (its own buffers): int64 id, float64 epoch
    seconds (as pulsing producers put time.time()), float64 (5% null), bool,
    short string, 24-72 byte string (5% null), int32, 16-byte binary."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    pools = _pools()
    ids = np.arange(start, start + rows, dtype=np.int64)
    null_value = rng.random(rows) < 0.05
    null_payload = rng.random(rows) < 0.05
    return pa.RecordBatch.from_arrays(
        [
            pa.array(ids),
            pa.array(1_700_000_000.0 + ids / 1000.0),
            pa.array(rng.random(rows), mask=null_value),
            pa.array(rng.random(rows) < 0.5),
            pc.take(pools["topic"], pa.array(rng.integers(0, len(pools["topic"]), rows))),
            pc.if_else(pa.array(null_payload),
                       pa.scalar(None, pa.string()),
                       pc.take(pools["payload"], pa.array(rng.integers(0, len(pools["payload"]), rows)))),
            pa.array(rng.integers(-1_000_000, 1_000_000, rows, dtype=np.int32)),
            pc.take(pools["blob"], pa.array(rng.integers(0, len(pools["blob"]), rows))),
        ],
        names=["id", "ts", "value", "ok", "topic", "payload", "count", "blob"],
    )


_POOLS: dict | None = None


def _pools() -> dict:
    global _POOLS
    if _POOLS is None:
        import numpy as np
        import pyarrow as pa

        rng = np.random.default_rng(12345)
        letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789 ", dtype=np.uint8)
        payloads = [bytes(rng.choice(letters, int(n))).decode() for n in rng.integers(24, 72, 4096)]
        _POOLS = {
            "topic": pa.array([f"topic-{i:02d}" for i in range(16)]),
            "payload": pa.array(payloads),
            "blob": pa.array([bytes(rng.integers(0, 256, 16, dtype=np.uint8)) for _ in range(1024)],
                             type=pa.binary()),
        }
    return _POOLS


def make_records(n: int) -> list[dict]:
    """Dicts as a pulsing producer puts them (6 fields)."""
    import random

    rnd = random.Random(7)
    topics = [f"topic-{i:02d}" for i in range(16)]
    return [
        {
            "id": i,
            "ts": 1_700_000_000.0 + i / 1000,
            "topic": topics[i % 16],
            "payload": "x" * rnd.randint(16, 64),
            "ok": (i % 3) != 0,
            "score": rnd.random(),
        }
        for i in range(n)
    ]


def batch_bytes(batch) -> int:
    return int(batch.nbytes)


def dir_bytes(path: str | Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return total


# ---- timing ----------------------------------------------------------------------------
def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


class Run:
    """Where a run keeps its directories and results."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.quick = args.quick
        self.reps = args.reps or (3 if args.quick else 7)
        base = args.dir or tempfile.gettempdir()
        self.tmp = Path(tempfile.mkdtemp(prefix="persisting-bench-", dir=base))
        self.rows: list[dict] = []  # the table
        self.raw: dict[str, Any] = {}  # every measurement, for --json
        self.errors: list[str] = []
        self.loop = asyncio.new_event_loop()
        self._n = 0

    def fresh(self, name: str) -> str:
        self._n += 1
        p = self.tmp / f"{self._n:03d}-{name}"
        if p.exists():
            shutil.rmtree(p)
        return str(p)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def row(self, key: str, what: str, ours: str, ref: str, ratio: float, target: str, met: bool,
            note: str = "") -> None:
        self.rows.append(dict(key=key, what=what, ours=ours, ref=ref, ratio=ratio, target=target,
                              met=met, note=note))

    def cleanup(self) -> None:
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def fmt_s(seconds: float) -> str:
    if seconds != seconds:
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.1f} us"


def paired(reps: int, fns: list[Callable[[], float]], settle: bool = False) -> list[list[float]]:
    """Calls each fn once per repetition (each returns its own measured seconds),
    rotating the order every repetition; returns times[fn][rep]. With settle,
    sync(2) runs (untimed) before each call, so no measurement pays for the
    previous one's dirty pages."""
    out: list[list[float]] = [[] for _ in fns]
    for r in range(reps):
        order = list(range(len(fns)))
        k = r % len(fns)
        order = order[k:] + order[:k]
        if r % 2:
            order.reverse()
        for i in order:
            gc.collect()
            if settle:
                os.sync()
            out[i].append(fns[i]())
    return out


def ratio_median(num: list[float], den: list[float]) -> float:
    return median([a / b for a, b in zip(num, den) if b > 0])


# ---- 1 + 2: Arrow append vs pylance, vs raw disk --------------------------------------------
def bench_append(run: Run) -> None:
    import lance
    from persisting.queue import LanceBackend

    rows_per = 65536
    nbatches = 4 if run.quick else 16
    batches = [make_batch(rows_per, i * rows_per, seed=i) for i in range(nbatches)]
    in_bytes = sum(batch_bytes(b) for b in batches)
    sizes: dict[str, int] = {}

    def ours() -> float:
        path = run.fresh("append-ours")
        backend = LanceBackend(0, path)  # defaults: a 64k batch is flushed as it arrives

        async def go():
            for b in batches:
                await backend.put_arrow(b)
            await backend.flush()

        t0 = time.perf_counter()
        run.run(go())
        took = time.perf_counter() - t0
        backend.close()
        sizes["ours"] = dir_bytes(os.path.join(path, "data.lance"))
        shutil.rmtree(path, ignore_errors=True)
        return took

    def pylance() -> float:
        path = run.fresh("append-pylance")
        uri = os.path.join(path, "data.lance")
        t0 = time.perf_counter()
        for b in batches:
            lance.write_dataset(b, uri, mode="append", data_storage_version="2.0")
        took = time.perf_counter() - t0
        sizes["pylance"] = dir_bytes(uri)
        shutil.rmtree(path, ignore_errors=True)
        return took

    block = os.urandom(MiB)

    def raw() -> float:
        # dd if=... of=... bs=1M conv=fsync of the bytes our dataset occupies
        n = sizes.get("ours") or in_bytes
        path = run.fresh("raw")
        os.makedirs(path)
        f = os.path.join(path, "raw.bin")
        t0 = time.perf_counter()
        fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            left = n
            while left > 0:
                left -= os.write(fd, block if left >= MiB else block[:left])
            os.fsync(fd)
        finally:
            os.close(fd)
        took = time.perf_counter() - t0
        shutil.rmtree(path, ignore_errors=True)
        return took

    ours()  # warm-up: loads the library, sizes the raw write
    pylance()
    t_ours, t_py, t_raw = paired(run.reps, [ours, pylance, raw], settle=True)
    run.raw["append"] = dict(batches=nbatches, rows_per_batch=rows_per, input_bytes=in_bytes,
                             bytes_on_disk=sizes, ours=t_ours, pylance=t_py, raw=t_raw)
    r1 = ratio_median(t_py, t_ours)
    mbps = lambda t: in_bytes / MiB / t  # noqa: E731
    run.row("1", f"put_arrow {nbatches}x64k rows+flush vs pylance append",
            f"{fmt_s(median(t_ours))} ({mbps(median(t_ours)):.0f} MiB/s)",
            f"{fmt_s(median(t_py))} ({mbps(median(t_py)):.0f} MiB/s)",
            r1, ">= 1.0x", r1 >= 1.0, "theirs/ours time")
    r2 = ratio_median(t_raw, t_ours)
    run.row("2", f"append+flush vs dd+fsync of {sizes.get('ours', 0) / MiB:.0f} MiB",
            f"{fmt_s(median(t_ours))}", f"{fmt_s(median(t_raw))} "
            f"({sizes.get('ours', 0) / MiB / median(t_raw):.0f} MiB/s)",
            r2, ">= 0.50", r2 >= 0.5, "raw/ours time = our share of disk bandwidth")


# ---- 3: per-record put vs pulsing's MemoryBackend ---------------------------------------------
def _memory_backend():
    try:
        from pulsing.streaming import MemoryBackend
    except ImportError:
        from pulsing.queue import MemoryBackend
    return MemoryBackend


def bench_put(run: Run) -> None:
    from persisting.queue import PersistingBackend

    MemoryBackend = _memory_backend()
    n = 5_000 if run.quick else 50_000
    n_wal = 2_000 if run.quick else 10_000
    records = make_records(max(n, n_wal))

    def timed_puts(make, count: int) -> Callable[[], float]:
        def go() -> float:
            path = run.fresh("put")
            backend = make(path)
            recs = records[:count]

            async def loop():
                put = backend.put
                t0 = time.perf_counter()
                for r in recs:
                    await put(r)
                return time.perf_counter() - t0

            took = run.run(loop())
            if hasattr(backend, "close"):
                backend.close()
            shutil.rmtree(path, ignore_errors=True)
            return took / count
        return go

    mem = timed_puts(lambda p: MemoryBackend(0), n)
    mem_w = timed_puts(lambda p: MemoryBackend(0), n_wal)
    nowal = timed_puts(lambda p: PersistingBackend(0, p, enable_wal=False), n)
    wal = timed_puts(lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=1.0), n_wal)
    for f in (mem, nowal, wal):  # warm-up
        f()
    t_mem, t_nowal, t_memw, t_wal = paired(run.reps, [mem, nowal, mem_w, wal])
    run.raw["put"] = dict(records=n, records_wal=n_wal, memory=t_mem, nowal=t_nowal,
                          memory_wal_run=t_memw, wal=t_wal)
    r = ratio_median(t_nowal, t_mem)
    run.row("3a", f"put(dict) x{n}, no WAL vs MemoryBackend",
            f"{fmt_s(median(t_nowal))}/rec", f"{fmt_s(median(t_mem))}/rec",
            r, "<= 3.0x", r <= 3.0, "ours/theirs time (flush_threshold 1000)")
    r = ratio_median(t_wal, t_memw)
    run.row("3b", f"put(dict) x{n_wal}, WAL 1 s vs MemoryBackend",
            f"{fmt_s(median(t_wal))}/rec", f"{fmt_s(median(t_memw))}/rec",
            r, "<= 5.0x", r <= 5.0, "ours/theirs time")


# ---- 8: end to end through a real pulsing queue -------------------------------------------------
def bench_queue(run: Run) -> None:
    """Records/s of write_queue -> put x n -> flush, one actor system, 4 buckets."""
    import pulsing as pul
    try:
        from pulsing.streaming import write_queue
    except ImportError:
        from pulsing.queue import write_queue
    from persisting.queue import register

    register()
    # Each run's own time moves by +-10-15 % on this machine (pulsing's messaging,
    # other load), several times the gap being measured: more, shorter pairs
    # make the median of the per-pair ratios steadier at the same total time.
    n = 1_000 if run.quick else 3_000
    reps = 2 * run.reps - 1
    records = make_records(n)
    kinds = {
        "memory": ("memory", {}),
        "lance": ("lance", {}),
        "persisting-wal": ("persisting", {"enable_wal": True, "wal_sync_interval": 1.0}),
    }
    async def start():
        return await pul.actor_system()

    async def stop():
        await system.shutdown()

    system = run.run(start())
    topics = [0]

    def through_queue(kind: str) -> Callable[[], float]:
        backend, options = kinds[kind]

        def go() -> float:
            path = run.fresh(f"queue-{kind}")
            topics[0] += 1

            async def write() -> float:
                writer = await write_queue(system, f"bench{topics[0]}", bucket_column="id",
                                           num_buckets=4, storage_path=path, backend=backend,
                                           backend_options=options)
                t0 = time.perf_counter()
                for r in records:
                    await writer.put(r)
                await writer.flush()
                return time.perf_counter() - t0

            return run.run(write())  # the buckets stay open until the system shuts down
        return go

    try:
        fns = [through_queue(k) for k in kinds]
        for f in fns:  # warm-up: actors, library
            f()
        times = paired(reps, fns)
    finally:
        run.run(stop())
        gc.collect()  # the buckets' backends are closed (flushed) before their paths go
    t_mem, t_lance, t_wal = times
    run.raw["queue"] = dict(records=n, buckets=4, memory=t_mem, lance=t_lance, persisting_wal=t_wal)
    rate = lambda t: f"{n / median(t):,.0f} rec/s"  # noqa: E731
    for key, name, t in (("8a", "LanceBackend", t_lance), ("8b", "PersistingBackend WAL 1 s", t_wal)):
        r = ratio_median(t_mem, t)
        run.row(key, f"pulsing queue put x{n}+flush: {name} vs MemoryBackend", rate(t),
                rate(t_mem), r, ">= 0.95x", r >= 0.95, f"records/s ours/theirs (4 buckets, {reps} pairs)")


# ---- shared dataset for 4, 5, 6: many 1k-row fragments -------------------------------------------
def build_fragmented(run: Run, rows: int, frag_rows: int = 1000) -> str:
    """A bucket of `rows` rows in fragments of `frag_rows` rows (one flush per
    fragment, as a queue with flush_threshold=1000 makes them when it gets
    fewer than 1000 rows a second; min_flush_interval_sec=0 keeps that shape
    for this fast build)."""
    from persisting.queue import LanceBackend

    path = run.fresh(f"frag-{rows}")
    backend = LanceBackend(0, path, flush_threshold=frag_rows, min_flush_interval_sec=0)
    big = make_batch(min(rows, 100 * frag_rows), 0, seed=99)

    async def go():
        done = 0
        while done < rows:
            n = min(frag_rows, rows - done)
            start = done % big.num_rows  # big.num_rows is a multiple of frag_rows
            await backend.put_arrow(big.slice(start, min(n, big.num_rows - start)))
            done += n
        await backend.flush()

    run.run(go())
    backend.close()
    return path


def bench_flush(run: Run, big_path: str) -> None:
    from persisting.queue import LanceBackend

    small_rows = 10_000
    small_path = build_fragmented(run, small_rows)
    one_k = make_batch(1000, 0, seed=5)

    cpu: dict[str, list[float]] = {"small": [], "big": []}

    def opener(path: str, name: str):
        backend = LanceBackend(0, path, flush_threshold=1 << 30)

        def go() -> float:
            run.run(backend.put_arrow(one_k))
            c0, t0 = time.process_time(), time.perf_counter()
            run.run(backend.flush())
            took = time.perf_counter() - t0
            cpu[name].append(time.process_time() - c0)
            return took
        return backend, go

    b_small, f_small = opener(small_path, "small")
    b_big, f_big = opener(big_path, "big")
    f_small(), f_big()  # warm-up
    cpu["small"].clear(), cpu["big"].clear()
    reps = max(run.reps * 3, 21)
    t_small, t_big = paired(reps, [f_small, f_big], settle=True)
    b_small.close()
    b_big.close()
    big_rows = run.raw.get("dataset_rows", 0)
    run.raw["flush"] = dict(small_rows=small_rows, big_rows=big_rows, small=t_small, big=t_big,
                            cpu_small=cpu["small"], cpu_big=cpu["big"])
    r = ratio_median(t_big, t_small)
    r_cpu = ratio_median(cpu["big"], cpu["small"])
    spread = lambda ts: f"{min(ts) * 1e3:.1f}-{max(ts) * 1e3:.1f} ms"  # noqa: E731
    run.row("4", f"flush 1k rows: {big_rows // 1000}k vs 10k rows (1k-row frags)",
            fmt_s(median(t_big)), fmt_s(median(t_small)), r, "<= 1.5x", r <= 1.5,
            f"time(big)/time(small), {reps} pairs; wall spread {spread(t_big)} vs {spread(t_small)} "
            f"(fsync latency); process CPU per flush {fmt_s(median(cpu['big']))} vs "
            f"{fmt_s(median(cpu['small']))}: {r_cpu:.2f}x")


def bench_reads(run: Run, path: str) -> None:
    import lance
    import numpy as np
    from persisting.queue import LanceBackend

    rows = run.raw["dataset_rows"]
    backend = LanceBackend(0, path)
    ds = lance.dataset(os.path.join(path, "data.lance"))
    assert ds.count_rows() == rows, (ds.count_rows(), rows)
    rng = np.random.default_rng(3)
    offsets = [int(x) for x in rng.integers(rows // 2, rows - 100, 20 if run.quick else 50)]

    def ours_get() -> float:
        t0 = time.perf_counter()
        for off in offsets:
            out = run.run(backend.get(100, off))
            assert len(out) == 100
        return (time.perf_counter() - t0) / len(offsets)

    def ours_get_arrow() -> float:
        t0 = time.perf_counter()
        for off in offsets:
            out = run.run(backend.get_arrow(100, off))
            assert out.num_rows == 100
        return (time.perf_counter() - t0) / len(offsets)

    def theirs_get() -> float:
        t0 = time.perf_counter()
        for off in offsets:
            out = ds.to_table(offset=off, limit=100)
            assert out.num_rows == 100
        return (time.perf_counter() - t0) / len(offsets)

    # same rows on both sides
    a = run.run(backend.get_arrow(100, offsets[0]))
    b = ds.to_table(offset=offsets[0], limit=100)
    assert a.column("id").to_pylist() == b.column("id").to_pylist()
    for f in (ours_get, ours_get_arrow, theirs_get):
        f()
    t_get, t_geta, t_py = paired(run.reps, [ours_get, ours_get_arrow, theirs_get])
    r = ratio_median(t_py, t_get)
    r_arrow = ratio_median(t_py, t_geta)
    run.raw["get"] = dict(offsets=offsets, get=t_get, get_arrow=t_geta, pylance=t_py)
    run.row("5", f"get(100, deep off), {rows // 1000}k rows/{rows // 1000} frags vs pylance", f"{fmt_s(median(t_get))}/call", f"{fmt_s(median(t_py))}/call",
            r, ">= 1.0x", r >= 1.0,
            f"theirs/ours time; get_arrow(100, off) {fmt_s(median(t_geta))}: {r_arrow:.2f}x")

    def ours_scan() -> float:
        t0 = time.perf_counter()
        t = run.run(backend.get_arrow())
        took = time.perf_counter() - t0
        assert t.num_rows == rows
        return took

    def theirs_scan() -> float:
        t0 = time.perf_counter()
        t = ds.to_table()
        took = time.perf_counter() - t0
        assert t.num_rows == rows
        return took

    ours_scan(), theirs_scan()
    t_scan, t_pyscan = paired(run.reps, [ours_scan, theirs_scan])
    run.raw["scan"] = dict(ours=t_scan, pylance=t_pyscan)
    r = ratio_median(t_pyscan, t_scan)
    run.row("6", f"get_arrow() scan of {rows // 1000}k rows vs to_table()",
            fmt_s(median(t_scan)), fmt_s(median(t_pyscan)), r, ">= 1.0x", r >= 1.0, "theirs/ours time")
    backend.close()


# ---- 7: RSS of a long ingest, in a child --------------------------------------------------------
def _status(pid: int | str) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def rss_child(args: argparse.Namespace) -> None:
    """Runs in a new interpreter: ingests args.rows rows with put_arrow, prints JSON."""
    _use_source_tree(args.installed)
    from persisting.queue import LanceBackend

    rows_per = 65536
    nb = (args.rows + rows_per - 1) // rows_per
    probe = make_batch(rows_per, 0, seed=0)
    row_bytes = batch_bytes(probe) / rows_per
    del probe
    backend = LanceBackend(0, args.path, flush_threshold=args.flush_threshold)
    run_one = asyncio.new_event_loop().run_until_complete
    run_one(backend.put_arrow(make_batch(16, 0, seed=0)))  # loads the library, fixes the schema
    run_one(backend.flush())
    gc.collect()
    base = _status("self")["VmRSS"]
    samples = []
    t0 = time.perf_counter()
    for i in range(nb):
        n = min(rows_per, args.rows - i * rows_per)
        batch = make_batch(n, 16 + i * rows_per, seed=i)
        run_one(backend.put_arrow(batch))
        del batch
        samples.append(((i + 1) / nb, _status("self")["VmRSS"]))
    run_one(backend.flush())
    took = time.perf_counter() - t0
    samples.append((1.0, _status("self")["VmRSS"]))
    st = _status("self")
    total = backend.total_count()
    backend.close()
    print(json.dumps(dict(base=base, samples=samples, hwm=st["VmHWM"], seconds=took, rows=total,
                          row_bytes=row_bytes, batches=nb)), flush=True)


def bench_rss(run: Run) -> None:
    rows = 2_000_000 if run.quick else 10_000_000
    flush_threshold = 4 * 65536
    path = run.fresh("rss")
    env = dict(os.environ)
    godebug = [p for p in env.get("GODEBUG", "").split(",") if p and not p.startswith("gctrace")]
    env["GODEBUG"] = ",".join(godebug + ["gctrace=1"])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child", "--path", path,
           "--rows", str(rows), "--flush-threshold", str(flush_threshold)]
    if run.args.installed:
        cmd.append("--installed")
    err_path = run.tmp / "rss-child.stderr"
    with open(err_path, "w") as err:
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        polled: list[tuple[float, int]] = []
        stop = threading.Event()

        def poll():
            t0 = time.perf_counter()
            while not stop.is_set():
                s = _status(child.pid)
                if "VmRSS" in s:
                    polled.append((time.perf_counter() - t0, s["VmRSS"]))
                stop.wait(0.02)

        th = threading.Thread(target=poll, daemon=True)
        th.start()
        out, _ = child.communicate()
        stop.set()
        th.join()
    if child.returncode != 0:
        raise RuntimeError(f"RSS child failed ({child.returncode}): {err_path.read_text()[-2000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    # Go heap after each GC (gctrace "A->B->C MB": C is the live heap)
    heap = [int(m.group(1)) for m in re.finditer(r"->\d+->(\d+) MB", err_path.read_text())]
    shutil.rmtree(path, ignore_errors=True)
    base = res["base"]
    bound = flush_threshold * res["row_bytes"]
    peak = max([res["hwm"]] + [v for _, v in polled])
    growth = peak - base
    limit = bound + 64 * MiB
    at = {}
    for q in (0.25, 0.5, 0.75, 1.0):
        s = min(res["samples"], key=lambda s: abs(s[0] - q))
        at[q] = s[1]
    # flat: the second half never goes above the first half's max by more than 16 MiB
    half = [v for f, v in res["samples"] if f <= 0.5]
    late = [v for f, v in res["samples"] if f > 0.5]
    flat = bool(half and late and max(late) <= max(half) + 16 * MiB)
    heap_note = ""
    if heap:
        h1, h2 = heap[: len(heap) // 2] or heap, heap[len(heap) // 2:] or heap
        heap_note = (f"; Go live heap after GC: max {max(heap)} MB, median first/second half "
                     f"{median(h1):.0f}/{median(h2):.0f} MB over {len(heap)} GCs")
    run.raw["rss"] = dict(rows=rows, flush_threshold=flush_threshold, bound=bound, base=base,
                          peak=peak, child=res, go_heap_mb=heap, polled_max=max((v for _, v in polled), default=0))
    run.row("7", f"RSS growth, {rows // 1_000_000}M-row ingest vs bound+64 MiB",
            f"+{growth / MiB:.0f} MiB (peak {peak / MiB:.0f})",
            f"{bound / MiB:.0f}+64 MiB", growth / limit, "<= 1.0, flat",
            growth <= limit and flat,
            f"bound = flush_threshold {flush_threshold} rows x {res['row_bytes']:.0f} B = "
            f"{bound / MiB:.0f} MiB; base RSS {base / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB; "
            "RSS at 25/50/75/100%: " + "/".join(f"{at[q] / MiB:.0f}" for q in at) + " MiB"
            + (" (flat)" if flat else " (NOT flat)") + heap_note
            + f"; ingest {res['rows'] / res['seconds'] / 1e6:.2f} M rows/s")


# ---- report ----------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    """Called before the library is loaded: `go version` is a subprocess."""
    out = {"python": platform.python_version()}
    for mod in ("pyarrow", "lance", "pulsing", "numpy"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            out[mod] = "?"
    try:
        out["go"] = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        out["go"] = "?"
    try:
        from persisting import _native
        out["library"] = _native.library_path()  # resolves the path, loads nothing
    except Exception:  # noqa: BLE001
        pass
    return out


def machine() -> str:
    model = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    except (OSError, StopIteration):
        mem = 0
    return f"{os.cpu_count()} cpus, {mem / (1 << 20):.1f} GiB, {model}"


def print_table(run: Run) -> None:
    head = ["#", "measurement", "ours", "reference", "ratio", "target", "met"]
    lines = []
    for r in sorted(run.rows, key=lambda r: r["key"]):
        lines.append([r["key"], r["what"], r["ours"], r["ref"], f"{r['ratio']:.2f}", r["target"],
                      "yes" if r["met"] else "NO"])
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    sep = "  "
    print(sep.join(h.ljust(w) for h, w in zip(head, widths)))
    print(sep.join("-" * w for w in widths))
    for l in lines:
        print(sep.join(c.ljust(w) for c, w in zip(l, widths)))
    print()
    for r in sorted(run.rows, key=lambda r: r["key"]):
        if r["note"]:
            print(f"  {r['key']}: {r['note']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (< 60 s): checks the script works")
    ap.add_argument("--reps", type=int, default=0, help="repetitions per measurement (default 3 quick, 7 full)")
    ap.add_argument("--only", default="", help="comma list of measurements to run (1-8; 1 includes 2)")
    ap.add_argument("--dir", default="", help="where to write datasets (default: the temp dir)")
    ap.add_argument("--json", default="", help="also write every measurement to this file")
    ap.add_argument("--keep", action="store_true", help="keep the datasets")
    ap.add_argument("--installed", action="store_true", help="use the installed persisting package")
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--flush-threshold", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args)
        return 0
    _use_source_tree(args.installed)
    only = {s.strip() for s in args.only.split(",") if s.strip()} or {str(i) for i in range(1, 9)}
    run = Run(args)
    info = versions()  # before anything loads the library
    started = time.perf_counter()
    print(f"persisting bench ({'quick' if run.quick else 'full'}, {run.reps} reps) in {run.tmp}", flush=True)

    def step(name: str, fn: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        print(f"  {name} ...", end="", flush=True)
        try:
            fn()
            print(f" {time.perf_counter() - t0:.1f} s", flush=True)
        except Exception as exc:  # noqa: BLE001
            print(" ERROR", flush=True)
            traceback.print_exc()
            run.errors.append(f"{name}: {type(exc).__name__}: {exc}")

    try:
        # 7 first: its child is spawned before this process loads the library
        if "7" in only:
            step("7 RSS of a long ingest (child)", lambda: bench_rss(run))
        if "1" in only or "2" in only:
            step("1+2 Arrow append", lambda: bench_append(run))
        if "3" in only:
            step("3 per-record put", lambda: bench_put(run))
        if "8" in only:
            step("8 through a pulsing queue", lambda: bench_queue(run))
        if only & {"4", "5", "6"}:
            rows = 100_000 if run.quick else 1_000_000
            holder: dict[str, str] = {}

            def build():
                holder["path"] = build_fragmented(run, rows)
                run.raw["dataset_rows"] = rows

            step(f"building {rows // 1000}k rows in 1k-row fragments", build)
            if "path" in holder:
                if only & {"5", "6"}:
                    step("5+6 reads", lambda: bench_reads(run, holder["path"]))
                if "4" in only:  # last: it adds fragments
                    step("4 flush vs dataset size", lambda: bench_flush(run, holder["path"]))
    finally:
        run.loop.close()
        run.cleanup()
    print()
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"total {time.perf_counter() - started:.0f} s; ratios are medians of per-repetition ratios")
    print()
    print_table(run)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(rows=run.rows, raw=run.raw, errors=run.errors,
                                                   machine=machine(), versions=info), indent=1))
    if run.errors:
        print("\nERRORS:\n  " + "\n  ".join(run.errors), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

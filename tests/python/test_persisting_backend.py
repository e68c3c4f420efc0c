"""PersistingBackend against the real libpersisting.so: WAL, metrics, options.

The protocol itself (put/get/get_stream/flush/stats) is shared with LanceBackend
and covered in test_backend.py; here: what PersistingBackend adds, and that the
shared parts behave the same with the WAL's write-through path.
"""

from __future__ import annotations

import asyncio
import logging
import marshal
import math
import os
import random
import shutil
import signal
import socket
import textwrap
import threading
import time
import urllib.request

import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families

import persisting
from helpers import eventually, explain, run_python
from persisting import ClosedError, FlushError, SchemaError, StorageError, WALError, _native
from persisting.queue import LanceBackend, PersistingBackend, register


def rec(i: int) -> dict:
    return {"id": f"k{i}", "seq": i, "score": i / 4, "pad": "x" * (i % 17)}


@pytest.fixture
def wal_backend(bucket_path):
    b = PersistingBackend(bucket_id=0, storage_path=bucket_path, batch_size=4, enable_wal=True,
                          wal_sync_interval=0, flush_threshold=10)
    yield b
    b.close()


async def collect(stream) -> list:
    return [batch async for batch in stream]


# ---- without the WAL: LanceBackend's behaviour, reported as "persisting" ---------------
async def test_put_get_stats_reopen_without_wal(bucket_path):
    b = PersistingBackend(bucket_id=3, storage_path=bucket_path, batch_size=4)
    for i in range(6):  # each goes to the engine's buffer at once
        await b.put(rec(i))
    assert b.total_count() == 6
    assert await b.get() == [rec(i) for i in range(6)]
    assert await b.get(2, 3) == [rec(3), rec(4)]
    stats = await b.stats()
    assert stats["backend"] == "persisting" and stats["bucket_id"] == 3
    assert stats["wal_enabled"] is False and stats["wal_size"] == 0
    assert stats["compression"] is None and "metrics" not in stats
    assert stats["pending_count"] == 0 and stats["buffer_count"] == 6
    assert stats["total_count"] == 6 and stats["buffer_size"] == 6
    assert b.get_metrics() == {}
    await b.flush()
    b.close()
    assert not os.path.exists(os.path.join(bucket_path, "wal"))
    b = PersistingBackend(bucket_id=3, storage_path=bucket_path)
    try:
        stats = await b.stats()
        assert stats["persisted_count"] == 6 and stats["total_count"] == 6
        await b.put(rec(6))
        assert await b.get(offset=5) == [rec(5), rec(6)]
    finally:
        b.close()


# ---- WAL: write-through ------------------------------------------------------------------
async def test_wal_put_returns_once_the_record_is_in_the_engine(wal_backend, bucket_path):
    for i in range(3):
        await wal_backend.put(rec(i))
        stats = await wal_backend.stats()
        # not waiting in Python for batch_size (4): in the engine's buffer and WAL
        assert stats["pending_count"] == 0 and stats["buffer_count"] == i + 1
    stats = await wal_backend.stats()
    assert stats["wal_enabled"] is True and stats["wal_size"] > 0
    assert stats["persisted_count"] == 0 and stats["backend"] == "persisting"
    assert os.listdir(os.path.join(bucket_path, "wal"))
    assert await wal_backend.get() == [rec(i) for i in range(3)]


async def test_wal_flush_threshold_flush_and_reopen(wal_backend, bucket_path):
    await wal_backend.put_batch([rec(i) for i in range(12)])  # past flush_threshold (10)

    async def flushed():  # the flush at the threshold runs in the background
        stats = await wal_backend.stats()
        return stats["persisted_count"] == 12 and stats
    stats = await eventually(flushed, what="the flush at flush_threshold")
    assert stats["buffer_count"] == 0
    await wal_backend.put(rec(12))
    await wal_backend.flush()
    stats = await wal_backend.stats()
    assert stats["persisted_count"] == 13
    wal_backend.close()
    b = PersistingBackend(0, bucket_path, enable_wal=True)
    try:
        stats = await b.stats()
        assert stats["persisted_count"] == 13 and stats["wal_replayed"] == 0
        assert await b.get(offset=11) == [rec(11), rec(12)]
        await b.put(rec(13))
        assert b.total_count() == 14
    finally:
        b.close()


async def test_wal_put_batch_is_one_call_and_all_or_nothing(wal_backend, monkeypatch):
    real = _native.append_records
    calls = []
    monkeypatch.setattr(_native, "append_records",
                        lambda h, d: (calls.append(len(marshal.loads(d))), real(h, d))[1])
    await wal_backend.put_batch([rec(i) for i in range(7)])
    assert calls == [7]
    with pytest.raises(TypeError):
        await wal_backend.put_batch([rec(7), "not a dict"])
    with pytest.raises(SchemaError):
        await wal_backend.put_batch([rec(7), {"id": "k", "seq": "not an int"}])
    assert wal_backend.total_count() == 7


async def test_wal_failure_fails_the_put_and_keeps_nothing(wal_backend, monkeypatch):
    await wal_backend.put(rec(0))
    def failing(handle, data):
        raise WALError("append: engine: write-ahead log: no space left on device", code=_native.EWAL)

    real = {name: getattr(_native, name) for name in ("append_records", "put_record")}  # put's call: either
    vars(_native).update(dict.fromkeys(real, failing))
    try:
        results = await asyncio.gather(*(wal_backend.put(rec(i)) for i in range(1, 6)),
                                       return_exceptions=True)
    finally:
        vars(_native).update(real)
    assert all(isinstance(r, WALError) and r.code == _native.EWAL for r in results), results
    assert all("no space left" in str(r) for r in results)
    assert wal_backend.total_count() == 1
    assert await wal_backend.get() == [rec(0)]
    await wal_backend.put(rec(1))
    await wal_backend.flush()
    assert await wal_backend.get() == [rec(0), rec(1)]
    assert (await wal_backend.stats())["persisted_count"] == 2


@pytest.mark.parametrize("make", [
    lambda p: LanceBackend(0, p),
    lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=0),
], ids=["lance", "persisting-wal"])
async def test_records_stored_despite_a_failed_flush_are_acknowledged_once(bucket_path, make,
                                                                            monkeypatch, caplog):
    """ENOT_FLUSHED: the engine stored the records but a flush the call waited
    for failed. The put succeeds (with a warning); nothing is stored twice."""
    b = make(bucket_path)
    try:
        def append_then_fail(real):
            def call(handle, data):
                real(handle, data)
                raise FlushError("append: engine: flush 2 rows: disk on fire", code=_native.ENOT_FLUSHED)
            return call

        with monkeypatch.context() as patch:
            for name in ("append_records", "put_record"):  # put's one call: either, by the backend's options
                patch.setattr(_native, name, append_then_fail(getattr(_native, name)))
            with caplog.at_level(logging.WARNING, logger="persisting.queue"):
                await b.put(rec(0))
                await b.put(rec(1))
        assert "disk on fire" in caplog.text
        await b.put(rec(2))
        await b.flush()
        assert await b.get() == [rec(0), rec(1), rec(2)]
        assert (await b.stats())["persisted_count"] == 3
    finally:
        b.close()


async def test_wal_put_arrow_several_batches_are_one_unit_without_copies(wal_backend, monkeypatch):
    n = 300_000
    table = pa.concat_tables([
        pa.table({"id": pa.array([f"a{j}" for j in range(3)]), "seq": pa.array([j] * 3, pa.int64()),
                  "score": pa.array([0.5] * 3), "pad": pa.array(["p"] * 3)})
        for j in range(4)
    ])
    assert table.column("seq").num_chunks == 4
    real = _native.append_stream
    calls = []
    monkeypatch.setattr(_native, "append_stream",
                        lambda h, data: (calls.append(1), real(h, data))[1])
    assert await wal_backend.put_arrow(table) == 12
    assert calls == [1]

    def failing(h, data):
        raise WALError("append: write-ahead log failed", code=_native.EWAL)

    monkeypatch.setattr(_native, "append_stream", failing)
    with pytest.raises(WALError):
        await wal_backend.put_arrow(table)
    assert wal_backend.total_count() == 12  # nothing of the failed unit
    monkeypatch.setattr(_native, "append_stream", real)
    big = pa.table({"id": pa.array(["b"] * n), "seq": pa.array(range(n), pa.int64()),
                    "score": pa.array([0.25] * n), "pad": pa.array(["q"] * n)})
    big = pa.concat_tables([big.slice(0, n // 2), big.slice(n // 2)])
    before = pa.total_allocated_bytes()
    await wal_backend.put_arrow(big)
    assert pa.total_allocated_bytes() - before < big.nbytes // 10
    got = await wal_backend.get_arrow(3, 12 + n - 3)
    assert got.column("seq").to_pylist() == [n - 3, n - 2, n - 1]


async def test_wal_readers_waiting_in_get_stream_receive_new_records(wal_backend):
    async def read():
        return await collect(wal_backend.get_stream(limit=5, offset=0, wait=True, timeout=5))

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(0)  # the reader starts first (it would find the records either way)
    for i in range(5):
        await wal_backend.put(rec(i))
    batches = await asyncio.wait_for(reader, 10)
    assert [r for batch in batches for r in batch] == [rec(i) for i in range(5)]


async def test_wal_without_schema_evolution_keeps_the_first_fields(bucket_path):
    b = PersistingBackend(0, bucket_path, enable_wal=True, wal_sync_interval=0, schema_evolution=False)
    try:
        await b.put({"a": 1, "b": None})  # written at once: b becomes a string column
        await b.put({"a": 2, "b": "text"})
        with pytest.raises(SchemaError, match="'b'"):
            await b.put({"a": 3, "b": 5})
        with pytest.raises(SchemaError, match="'c'"):
            await b.put({"a": 3, "c": 1})
        with pytest.raises(SchemaError, match="'a'.*int64.*float"):
            await b.put({"a": 3.5})
        assert await b.get() == [{"a": 1, "b": None}, {"a": 2, "b": "text"}]
        assert (await b.stats())["schema_evolution"] is False
    finally:
        b.close()


async def test_wal_closed_backend_is_a_clear_error(wal_backend):
    await wal_backend.put(rec(0))
    await wal_backend.aclose()
    for call in (lambda: wal_backend.put(rec(1)), lambda: wal_backend.put_batch([rec(1)]),
                 lambda: wal_backend.get(), lambda: wal_backend.flush(), lambda: wal_backend.stats()):
        with pytest.raises(ClosedError):
            await call()


async def test_constructed_on_a_worker_thread_used_on_the_loop(tmp_path):
    made = {}
    t = threading.Thread(target=lambda: made.setdefault(
        "b", PersistingBackend(bucket_id=2, storage_path=str(tmp_path / "b"), enable_wal=True,
                               enable_metrics=True)))
    t.start()
    t.join()
    b = made["b"]
    try:
        await b.put(rec(0))
        assert await b.get(10, 0) == [rec(0)]
    finally:
        await b.aclose()


def test_wal_error_at_open(tmp_path):
    path = tmp_path / "b"
    path.mkdir()
    (path / "wal").write_text("not a directory")
    with pytest.raises(WALError) as info:
        PersistingBackend(0, str(path), enable_wal=True)
    assert info.value.code == _native.EWAL
    assert isinstance(info.value, StorageError)


# ---- WAL: recovery after a kill ---------------------------------------------------------------
WRITE_AND_DIE = textwrap.dedent("""
    import asyncio, os, signal, sys
    from persisting.queue import PersistingBackend

    def rec(i):
        return {"id": f"k{i}", "seq": i, "score": i / 4, "pad": "x" * (i % 17)}

    async def main(path, n, sync):
        # no auto flush: the test checks that nothing reached Lance before the kill
        b = PersistingBackend(0, path, batch_size=100, enable_wal=True, wal_sync_interval=sync,
                              flush_threshold=10**6, max_flush_delay_sec=0)
        for i in range(n):
            await b.put(rec(i))
        await b.put_batch([rec(i) for i in range(n, n + 5)])
        print("ACKED", b.total_count(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # no flush, no close, no atexit

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
""")


@pytest.mark.parametrize("sync", [0.0, 0.5])
async def test_wal_recovers_everything_after_sigkill_without_flush(tmp_path, sync):
    path = str(tmp_path / "b")
    proc = run_python(WRITE_AND_DIE, path, "40", str(sync))
    assert proc.returncode == -signal.SIGKILL, explain(proc)
    assert "ACKED 45" in proc.stdout, explain(proc)
    assert not os.path.isdir(os.path.join(path, "data.lance", "_versions"))  # never flushed
    b = PersistingBackend(0, path, enable_wal=True, wal_sync_interval=sync)
    try:
        stats = await b.stats()
        assert stats["total_count"] == 45 and stats["persisted_count"] == 0
        assert stats["buffer_count"] == 45 and stats["wal_replayed"] == 41  # 40 puts + 1 batch
        assert await b.get() == [rec(i) for i in range(45)]
        await b.put(rec(45))  # offsets continue after the replayed records
        assert await b.get(2, 44) == [rec(44), rec(45)]
    finally:
        b.close()  # flushes: replayed and new records become one Lance version
    import lance

    table = lance.dataset(os.path.join(path, "data.lance")).to_table()
    assert table.column("seq").to_pylist() == list(range(46))


async def test_opening_without_wal_replays_and_flushes_a_left_over_wal(tmp_path):
    path = str(tmp_path / "b")
    proc = run_python(WRITE_AND_DIE, path, "10", "0")
    assert proc.returncode == -signal.SIGKILL, explain(proc)
    b = PersistingBackend(0, path)  # WAL off now: what it held must not be lost
    try:
        stats = await b.stats()
        assert stats["persisted_count"] == 15 and stats["wal_enabled"] is False
        assert await b.get() == [rec(i) for i in range(15)]
    finally:
        b.close()


# ---- wal_sync_interval: counted fsyncs ----------------------------------------------------------
FSYNC_CHILD = textwrap.dedent("""
    import asyncio, os, sys, time
    from persisting.queue import PersistingBackend

    async def main(path, n, sync, pause):
        # no auto flush: its Lance commit would add fsyncs that are not the WAL's
        b = PersistingBackend(0, path, enable_wal=True, wal_sync_interval=sync, flush_threshold=10**6,
                              max_flush_delay_sec=0)
        await b.put({"seq": -1})  # the schema, before the timed puts
        start = time.monotonic()
        if pause < 0:  # all at once: concurrent puts
            await asyncio.gather(*(b.put({"seq": i}) for i in range(n)))
        for i in range(n if pause >= 0 else 0):
            await b.put({"seq": i})
            await asyncio.sleep(pause)
        print("PUTS", n, "SECONDS", round(time.monotonic() - start, 3), flush=True)
        os._exit(0)  # no flush: count only the WAL's fsyncs

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])))
""")


def count_fsyncs(tmp_path, sync: float, n: int, pause: float) -> tuple[int, float]:
    """(fsync calls, seconds the puts took) of a child making ``n`` WAL puts."""
    strace = shutil.which("strace")
    if strace is None:  # CI installs it; a missing tool must not pass as a skipped check
        pytest.fail("strace is not installed: it counts the WAL's fsync calls "
                    "(apt-get install strace)", pytrace=False)
    out = tmp_path / f"strace-{sync}.txt"
    script = tmp_path / "fsync_child.py"
    script.write_text(FSYNC_CHILD)
    import subprocess
    import sys

    from helpers import child_env

    proc = subprocess.run(
        [strace, "-f", "-qq", "-c", "-o", str(out), "-e", "trace=fsync,fdatasync",
         sys.executable, str(script), str(tmp_path / f"b{sync}"), str(n), str(sync), str(pause)],
        capture_output=True, text=True, timeout=120, env=child_env(),
    )
    assert proc.returncode == 0 and f"PUTS {n}" in proc.stdout, explain(proc)
    calls = 0  # strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall
    for line in out.read_text().splitlines():
        parts = line.split()
        if parts and parts[-1] in ("fsync", "fdatasync"):
            calls += int(parts[3])
    return calls, float(proc.stdout.split("SECONDS")[1])


def test_wal_sync_interval_zero_fsyncs_before_every_put_returns(tmp_path):
    n = 40
    fsyncs, _ = count_fsyncs(tmp_path, 0.0, n, 0.0)
    assert fsyncs >= n


def test_wal_sync_interval_zero_concurrent_puts_share_fsyncs(tmp_path):
    """Group commit in the engine: puts waiting for an fsync at the same time
    (each on a worker thread) share one."""
    n = 200
    fsyncs, _ = count_fsyncs(tmp_path, 0.0, n, -1.0)
    # one each would be n (sequential puts: test above); how many share depends on how the
    # worker threads overlap on this machine, so the claim is only that some do
    assert 1 <= fsyncs < n, fsyncs


def test_wal_sync_interval_positive_fsyncs_in_the_background(tmp_path):
    n, interval = 40, 0.25  # puts over about 1 s: an fsync every 0.25 s, not one per put
    fsyncs, seconds = count_fsyncs(tmp_path, interval, n, 0.025)
    assert fsyncs < n // 2, (fsyncs, seconds)
    assert seconds / interval - 2 <= fsyncs <= seconds / interval + 2, (fsyncs, seconds)


# ---- max_wal_size ---------------------------------------------------------------------------------
async def test_max_wal_size_forces_flushes(bucket_path):
    b = PersistingBackend(0, bucket_path, enable_wal=True, wal_sync_interval=0, max_wal_size=4096,
                          flush_threshold=10**6, enable_metrics=True)
    try:
        for i in range(200):
            await b.put(rec(i))
            assert (await b.stats())["wal_size"] <= 4096 + 2048  # never far past the limit
        stats = await b.stats()
        assert stats["persisted_count"] > 0 and stats["version"] >= 2  # flushed more than once
        # A forced flush counts itself after its version is visible: flush() waits for it to end.
        await b.flush()
        stats = await b.stats()
        assert stats["metrics"]["persisting_flushes_total"] == stats["version"]
        assert await b.get() == [rec(i) for i in range(200)]
    finally:
        b.close()
    big = PersistingBackend(0, bucket_path + "-big", enable_wal=True, flush_threshold=10**6)
    try:
        for i in range(200):
            await big.put(rec(i))
        assert (await big.stats())["persisted_count"] == 0  # the default (100 MiB) is far away
    finally:
        big.close()


# ---- metrics ------------------------------------------------------------------------------------
CONTRACT_METRICS = {
    "persisting_records": "counter",  # persisting_records_total; the parser drops _total
    "persisting_buffer_size": "gauge",
    "persisting_flush_duration_seconds": "histogram",
    "persisting_wal_size_bytes": "gauge",
}


def bucket_samples(text: str, path: str, bucket: str = "0") -> dict:
    """{sample name: value} of one bucket's series, parsed by prometheus_client."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("path") == path and s.labels.get("bucket") == bucket:
                key = s.name
                if "le" in s.labels:
                    key += f"{{le={s.labels['le']}}}"
                if "op" in s.labels:
                    key += f"{{op={s.labels['op']}}}"
                out[key] = s.value
    return out


def family_types(text: str) -> dict:
    return {f.name: f.type for f in text_string_to_metric_families(text)}


async def test_metrics_in_stats_and_get_metrics(bucket_path):
    # no auto flush: the flushes counted are the test's own
    b = PersistingBackend(5, bucket_path, enable_wal=True, wal_sync_interval=0, enable_metrics=True,
                          flush_threshold=10**6, max_flush_delay_sec=0)
    try:
        for i in range(7):
            await b.put(rec(i))
        await b.put_batch([rec(i) for i in range(7, 10)])
        stats = await b.stats()
        m = stats["metrics"]
        assert m["persisting_records_total"] == 10
        assert m["persisting_buffer_size"] == 10
        assert m["persisting_wal_size_bytes"] == stats["wal_size"] > 0
        assert m.get("persisting_flush_duration_seconds", {"count": 0})["count"] == 0
        assert b.get_metrics() == m
        await b.flush()
        m = b.get_metrics()
        assert m["persisting_records_total"] == 10 and m["persisting_buffer_size"] == 0
        assert m["persisting_flush_duration_seconds"]["count"] == 1
        assert m["persisting_flush_duration_seconds"]["sum"] > 0
        assert m["persisting_flushes_total"] == 1 and m["persisting_flushed_records_total"] == 10
        assert m["persisting_wal_size_bytes"] == (await b.stats())["wal_size"]
    finally:
        b.close()
    with pytest.raises(ClosedError):
        b.get_metrics()


async def test_metrics_text_parses_with_prometheus_client(bucket_path):
    # no auto flush: the flushes counted are the test's own
    b = PersistingBackend(7, bucket_path, enable_wal=True, enable_metrics=True, flush_threshold=10**6,
                          max_flush_delay_sec=0)
    plain = PersistingBackend(8, bucket_path + "-plain", enable_wal=True)  # metrics off
    try:
        for i in range(4):
            await b.put(rec(i))
            await plain.put(rec(i))
        await b.flush()
        await b.put(rec(4))
        text = persisting.metrics_text()
        types = family_types(text)
        for name, kind in CONTRACT_METRICS.items():
            assert types.get(name) == kind, (name, types)
        samples = bucket_samples(text, bucket_path, bucket="7")
        assert samples["persisting_records_total"] == 5
        assert samples["persisting_buffer_size"] == 1
        assert samples["persisting_flush_duration_seconds_count"] == 1
        assert samples["persisting_flush_duration_seconds_bucket{le=+Inf}"] == 1
        assert samples["persisting_wal_size_bytes"] == (await b.stats())["wal_size"]
        assert bucket_samples(text, bucket_path + "-plain", bucket="8") == {}
    finally:
        b.close()
        plain.close()
    # a closed bucket's series are dropped
    assert bucket_samples(persisting.metrics_text(), bucket_path, bucket="7") == {}


async def test_metrics_served_over_http_on_a_port_the_system_picks(tmp_path):
    path = str(tmp_path / "b")
    # no auto flush: the 3 records stay buffered until the scrape
    b = PersistingBackend(1, path, enable_wal=True, metrics_address="127.0.0.1:0", flush_threshold=10**6,
                          max_flush_delay_sec=0)
    second = PersistingBackend(2, str(tmp_path / "c"), metrics_address="127.0.0.1:0")
    plain = PersistingBackend(3, str(tmp_path / "d"))
    try:
        stats = await b.stats()
        assert b.enable_metrics and stats["metrics"]
        address = stats["metrics_address"]
        host, _, port = address.rpartition(":")
        assert host == "127.0.0.1" and port.isdigit() and int(port) > 0, address
        assert (await plain.stats())["metrics_address"] is None
        for i in range(3):
            await b.put(rec(i))
        await second.put(rec(0))
        await second.flush()

        def scrape(where: str) -> tuple[str, str]:
            with urllib.request.urlopen(f"http://{where}/metrics", timeout=10) as resp:
                return resp.headers.get("Content-Type", ""), resp.read().decode()

        content_type, text = await asyncio.to_thread(scrape, address)
        assert content_type.startswith("text/plain"), content_type
        for name, kind in CONTRACT_METRICS.items():
            assert family_types(text).get(name) == kind, name
        assert bucket_samples(text, path, "1")["persisting_records_total"] == 3
        assert bucket_samples(text, path, "1")["persisting_buffer_size"] == 3
        _, text = await asyncio.to_thread(scrape, (await second.stats())["metrics_address"])
        other = bucket_samples(text, str(tmp_path / "c"), "2")
        assert other["persisting_flush_duration_seconds_count"] == 1
    finally:
        b.close()
        second.close()
        plain.close()


def test_get_metrics_does_not_wait_for_a_running_flush(bucket_path):
    """get_metrics reads the engine's lock-free metrics: while a long flush runs,
    it still answers at once. (8M rows: the flush must take long enough to tell
    waiting from not waiting, and the writer is fast.)"""
    n = 8_000_000
    table = pa.table({"a": pa.array(range(n), pa.int64()), "s": pa.array(["payload!"] * n)})

    async def fill(b):
        await b.put_arrow(table)

    # no auto flush: the flush timed is the test's, and it writes all n rows
    b = PersistingBackend(0, bucket_path, enable_metrics=True, flush_threshold=10**8, max_flush_delay_sec=0)
    try:
        asyncio.run(fill(b))
        assert b.get_metrics()["persisting_buffer_size"] == n
        done = threading.Event()
        took = {}

        def flush():
            start = time.monotonic()
            _native.flush(b._bucket.handle())
            took["flush"] = time.monotonic() - start
            done.set()

        flusher = threading.Thread(target=flush)
        flusher.start()
        latencies = []
        while not done.is_set():
            start = time.monotonic()
            b.get_metrics()
            latencies.append(time.monotonic() - start)
            time.sleep(0.002)
        flusher.join()
        assert took["flush"] > 0.05, took  # long enough to tell waiting from not waiting
        assert len(latencies) >= 5, (latencies, took)
        assert max(latencies) < took["flush"] / 2, (max(latencies), took)
        after = b.get_metrics()
        assert after["persisting_buffer_size"] == 0 and after["persisting_flushed_records_total"] == n
    finally:
        b.close()


def test_metrics_address_in_use_is_a_value_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ValueError, match=str(port)):
            PersistingBackend(0, str(tmp_path / "b"), metrics_address=f"127.0.0.1:{port}")


# ---- options ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [({"batch_size": 0}, ValueError, "batch_size"), ({"batch_size": "10"}, TypeError, "batch_size"),
     ({"batch_size": 1.5}, TypeError, "batch_size"), ({"flush_threshold": 0}, ValueError, "flush"),
     ({"flush_threshold": None}, TypeError, "flush"), ({"bucket_id": "1"}, TypeError, "bucket_id"),
     ({"bucket_id": -1}, ValueError, "bucket_id"), ({"bucket_id": True}, TypeError, "bucket_id"),
     ({"storage_path": ""}, ValueError, "storage_path"), ({"storage_path": 5}, TypeError, "storage_path"),
     ({"enable_wal": "yes"}, TypeError, "enable_wal"), ({"enable_wal": 1}, TypeError, "enable_wal"),
     ({"enable_metrics": "true"}, TypeError, "enable_metrics"),
     ({"compression": "snappy"}, ValueError, "no snappy"),
     ({"compression": "SNAPPY"}, ValueError, "no snappy"),
     ({"compression": "zstd-9"}, ValueError, "unknown compression 'zstd-9'"),
     ({"compression": "gzip"}, ValueError, "unknown compression 'gzip'"),
     ({"compression": ""}, ValueError, "unknown compression"),
     ({"compression": 3}, TypeError, "compression"),
     ({"wal_sync_interval": -0.5}, ValueError, "wal_sync_interval"),
     ({"wal_sync_interval": math.nan}, ValueError, "wal_sync_interval"),
     ({"wal_sync_interval": math.inf}, ValueError, "wal_sync_interval"),
     ({"wal_sync_interval": "1"}, TypeError, "wal_sync_interval"),
     ({"wal_sync_interval": None}, TypeError, "wal_sync_interval"),
     ({"wal_sync_interval": True}, TypeError, "wal_sync_interval"),
     ({"max_wal_size": 0}, ValueError, "max_wal_size"), ({"max_wal_size": -1}, ValueError, "max_wal_size"),
     ({"max_wal_size": 1.5}, TypeError, "max_wal_size"), ({"max_wal_size": "1MB"}, TypeError, "max_wal_size"),
     ({"metrics_address": 9464}, TypeError, "metrics_address"),
     ({"metrics_address": "localhost"}, ValueError, "metrics_address"),
     ({"metrics_address": "127.0.0.1:http"}, ValueError, "metrics_address"),
     ({"metrics_address": "127.0.0.1:70000"}, ValueError, "metrics_address")],
)
def test_bad_option_values(tmp_path, kwargs, exc, match):
    path = tmp_path / "b"
    args = {"bucket_id": 0, "storage_path": str(path), "enable_wal": True} | kwargs
    with pytest.raises(exc, match=match):
        PersistingBackend(**args)
    assert not path.exists()  # refused before anything was opened or created


def test_good_option_values(tmp_path):
    b = PersistingBackend(0, tmp_path / "b", 10, True, None, True, 0, 1 << 20)  # positional, as declared
    try:
        assert (b.enable_wal, b.compression, b.enable_metrics, b.wal_sync_interval, b.max_wal_size) == (
            True, None, True, 0.0, 1 << 20)
        assert b.batch_size == 10 and b.flush_threshold == 1000
    finally:
        b.close()
    b = PersistingBackend(bucket_id=1, storage_path=str(tmp_path / "c"), wal_sync_interval=2,
                          flush_threshold=5)
    try:
        assert b.wal_sync_interval == 2.0 and b.flush_threshold == 5 and not b.enable_wal
    finally:
        b.close()


@pytest.mark.parametrize("codec", ["zstd", "lz4", "ZSTD"])
async def test_compression_shrinks_data_files_pylance_reads_back(tmp_path, codec):
    import lance

    # each text repeats a random token: the writer's own encodings (dictionary,
    # FSST) gain little on it, an LZ codec finds the repeats
    rng = random.Random(7)
    rows = [{"id": i, "text": f"{rng.getrandbits(128):032x}" * 8, "v": i / 3} for i in range(3000)]

    async def write(path, compression):
        b = PersistingBackend(0, path, compression=compression, enable_wal=True)
        try:
            assert (await b.stats())["compression"] == (compression.lower() if compression else None)
            await b.put_batch(rows)
            await b.flush()
        finally:
            b.close()
        data = os.path.join(path, "data.lance", "data")
        return sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))

    plain = await write(str(tmp_path / "plain"), None)
    packed = await write(str(tmp_path / "packed"), codec)
    assert packed < plain / 2, (packed, plain)
    assert lance.dataset(str(tmp_path / "packed" / "data.lance")).to_table().to_pylist() == rows
    b = PersistingBackend(0, str(tmp_path / "packed"), compression=codec)  # reopen, append more
    try:
        await b.put(rows[0])
        await b.flush()
        assert await b.get() == rows + [rows[0]]
    finally:
        b.close()


def test_unknown_options_are_accepted_and_logged(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="persisting.queue"):
        b = PersistingBackend(bucket_id=1, storage_path=str(tmp_path / "b"), enable_wal=True,
                              topic="t", max_buffer_age=5)
    try:
        assert "PersistingBackend" in caplog.text
        assert "topic" in caplog.text and "max_buffer_age" in caplog.text
        assert "enable_wal" not in caplog.text
        assert b.options == {"topic": "t", "max_buffer_age": 5}
    finally:
        b.close()


def test_create_index_is_on_both_backends():
    """create_index/get_where are real (tests in test_index_and_nested.py), on both."""
    for cls in (PersistingBackend, LanceBackend):
        assert all(callable(getattr(cls, n)) for n in ("create_index", "indices", "get_where"))


def test_register_names_both_backends():
    seen = {}
    names = register(lambda name, cls: seen.__setitem__(name, cls))
    assert names == ["lance", "LanceBackend", "persisting", "PersistingBackend"]
    assert seen == {"lance": LanceBackend, "LanceBackend": LanceBackend,
                    "persisting": PersistingBackend, "PersistingBackend": PersistingBackend}


def test_package_exports():
    assert persisting.PersistingBackend is PersistingBackend
    assert callable(persisting.metrics_text)
    assert issubclass(persisting.WALError, persisting.StorageError)
    assert "PersistingBackend" in persisting.queue.__all__


def test_missing_strace_fails_instead_of_skipping(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no strace on this PATH
    with pytest.raises(pytest.fail.Exception, match="strace is not installed"):
        count_fsyncs(tmp_path, 0.0, 1, 0.0)

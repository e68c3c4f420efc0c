"""A queue that runs for months (issue 13): auto flush, background maintenance
and data retention, through the public API only (backend constructors with
keywords, put/put_batch/flush/get/stats/total_count) and pylance as the oracle.

Waits poll an observable (stats, pylance) with a generous bound that only limits
a failure; a passing test never waits for it.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import lance
import pytest

from helpers import child_env
from persisting.errors import InvalidArgumentError

FAILURE_BOUND = 60.0  # seconds; reached only when the feature is broken


def wait_until(check, what, bound: float = FAILURE_BOUND):
    """Polls check() until it returns a true value, which it returns."""
    deadline = time.monotonic() + bound
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.05)


def dataset_rows(path: Path) -> int | None:
    try:
        return lance.dataset(str(path)).count_rows()
    except Exception:  # not created yet
        return None


PUT_AND_IDLE = r"""
import asyncio, sys
from persisting import LanceBackend

async def main():
    backend = LanceBackend(0, sys.argv[1])
    records = [{"id": i, "text": "quiet"} for i in range(int(sys.argv[2]))]
    if len(records) == 1:
        await backend.put(records[0])
    else:
        await backend.put_batch(records)
    print("put", flush=True)
    await asyncio.Event().wait()  # the event loop idles until the kill

asyncio.run(main())
"""


def put_idle_and_kill(path: Path, n: int) -> float:
    """A child puts n records with default options and idles; once pylance
    sees them (no flush, no close) it is killed with SIGKILL. Returns the
    seconds from the put to pylance seeing the records."""
    child = subprocess.Popen([sys.executable, "-c", PUT_AND_IDLE, str(path), str(n)], env=child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "put", child.stderr.read()
        put_at = time.monotonic()
        wait_until(lambda: dataset_rows(path / "data.lance") == n, "the auto flush")
        took = time.monotonic() - put_at
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    rows = lance.dataset(str(path / "data.lance")).to_table().to_pylist()
    assert rows == [{"id": i, "text": "quiet"} for i in range(n)]
    return took


def test_quiet_batch_is_in_lance_without_flush_and_survives_sigkill(tmp_path):
    """Defaults only: one put_batch of batch_size records, then nothing (an
    idle event loop): the engine writes them to Lance within 10 s, and they
    survive kill -9."""
    assert put_idle_and_kill(tmp_path, 100) <= 10.0


def test_lone_record_is_in_lance_without_flush_and_survives_sigkill(tmp_path):
    """Defaults only: one put, no flush, no close, an idle event loop: the
    record is in Lance within 10 s, and it survives kill -9."""
    assert put_idle_and_kill(tmp_path, 1) <= 10.0


@pytest.mark.parametrize("alias", ["max_flush_delay_sec", "auto_flush_interval_sec"])
def test_flush_delay_option_and_alias(tmp_path, alias):
    """Both names set the delay; 0 turns the auto flush off (nothing but the
    records' own flush writes them)."""
    async def main():
        from persisting import LanceBackend
        backend = LanceBackend(0, str(tmp_path), **{alias: 0.2})
        await backend.put_batch([{"id": i} for i in range(100)])
        # The engine counts a record persisted after its commit is visible, so
        # wait on the engine's count: pylance must then see every record.
        deadline = time.monotonic() + FAILURE_BOUND
        while (stats := await backend.stats())["persisted_count"] < 100:
            assert time.monotonic() < deadline, f"timed out waiting for the auto flush ({stats})"
            await asyncio.sleep(0.05)
        assert stats["persisted_count"] == 100 and stats["total_count"] == 100
        assert dataset_rows(tmp_path / "data.lance") == 100

    asyncio.run(main())


def test_flush_delay_zero_turns_auto_flush_off(tmp_path):
    async def main():
        from persisting import LanceBackend
        batch = [{"id": i} for i in range(100)]
        backend = LanceBackend(0, str(tmp_path), max_flush_delay_sec=0)
        await backend.put_batch(batch)
        on = LanceBackend(1, str(tmp_path / "on"), max_flush_delay_sec=0.1)
        await on.put_batch(batch)
        # The bucket with auto flush wrote its records, after at least two
        # of its ticks; the other one, off, has not written anything.
        wait_until(lambda: dataset_rows(tmp_path / "on" / "data.lance") == 100, "the auto flush")
        assert (await backend.stats())["persisted_count"] == 0
        assert dataset_rows(tmp_path / "data.lance") is None

    asyncio.run(main())


def test_retention_keeps_offsets(tmp_path):
    """retention_rows drops the oldest records; offsets never shift:
    total_count stays the next offset, get below the first retained offset
    fails naming it, stats report it, pylance holds exactly the rest."""
    from persisting import LanceBackend

    async def main():
        backend = LanceBackend(0, str(tmp_path), flush_threshold=100, retention_rows=200,
                               cleanup_interval_sec=0.1)
        for i in range(5):
            await backend.put_batch([{"id": i * 100 + j} for j in range(100)])
        await backend.flush()
        loop = asyncio.get_running_loop()

        async def first_retained():
            return (await backend.stats())["first_retained_offset"]

        async def retained_from(offset: int) -> None:
            deadline = loop.time() + FAILURE_BOUND
            while await first_retained() != offset:
                assert loop.time() < deadline, f"retention did not cut at {offset}"
                await asyncio.sleep(0.05)

        await retained_from(300)
        assert backend.total_count() == 500
        assert [r["id"] for r in await backend.get(10, 300)] == list(range(300, 310))
        with pytest.raises(InvalidArgumentError, match="first retained offset is 300"):
            await backend.get(10, 0)
        await backend.put({"id": 500})  # buffered records are never dropped
        assert backend.total_count() == 501
        assert [r["id"] for r in await backend.get(None, 495)] == list(range(495, 501))
        await backend.flush()
        # 201 persisted records: the next pass (every 0.1 s) drops the oldest
        # one; the engine reports the cut once its version is committed
        await retained_from(301)
        ids = lance.dataset(str(tmp_path / "data.lance")).to_table().column("id").to_pylist()
        assert ids == list(range(301, 501))

    asyncio.run(main())


def dir_usage(root: Path) -> tuple[int, int, int, int]:
    """(fragments, files, bytes of all files, bytes of the data files the
    newest version uses)."""
    files = total = 0
    for p in root.rglob("*"):
        if p.is_file():
            files += 1
            total += p.stat().st_size
    ds = lance.dataset(str(root))
    fragments = ds.get_fragments()
    data = sum((root / "data" / f.path).stat().st_size for frag in fragments for f in frag.data_files())
    return len(fragments), files, total, data


def test_background_maintenance_bounds_files(tmp_path):
    """put_batch(100) x 400 with default compaction: the fragments are merged
    in the background without any call; with versions kept only while in use,
    cleanup leaves few files and little more than the data; every record is
    there once, in order, for the engine and for pylance."""
    from persisting import LanceBackend

    async def main():
        backend = LanceBackend(0, str(tmp_path), version_retention_sec=0, keep_versions=1,
                               cleanup_interval_sec=0.2)
        for i in range(400):
            await backend.put_batch([{"id": i * 100 + j, "text": f"record {i * 100 + j}"} for j in range(100)])
        await backend.flush()
        root = tmp_path / "data.lance"

        state = {}

        def settled():
            state.clear()
            try:
                fragments, files, total, data = dir_usage(root)
            except (FileNotFoundError, ValueError) as exc:
                # Cleanup (every interval, and after each compaction) removed
                # a file or the manifest pylance was opening while it was
                # counted: the dataset is still changing, not settled.
                state.update(changing=repr(exc))
                return False
            state.update(fragments=fragments, files=files, total=total, data=data)
            return fragments < 40 and files <= 300 and total <= 1.3 * data
        wait_until(settled, lambda: f"compaction and cleanup ({state})")
        assert backend.total_count() == 40000
        got = [r["id"] for r in await backend.get(None, 0)]
        assert got == list(range(40000))
        assert lance.dataset(str(root)).to_table().column("id").to_pylist() == list(range(40000))

    asyncio.run(main())


def test_bad_maintenance_options_are_refused(tmp_path):
    from persisting import LanceBackend
    for bad in ({"retention_rows": -1}, {"compaction_fanout": 1}, {"max_flush_delay_sec": -2},
                {"max_flush_delay_sec": 1, "auto_flush_interval_sec": 2}):
        with pytest.raises(ValueError):
            LanceBackend(0, str(tmp_path / "b"), **bad)

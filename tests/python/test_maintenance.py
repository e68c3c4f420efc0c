"""Versions and maintenance (issue #3's Python surface) on both backends,
against the real engine and checked with pylance: compact, cleanup of old
versions, the version list, time travel, and PersistingBackend's
compaction_threshold."""

from __future__ import annotations

import asyncio
import math
import os
import threading
from datetime import datetime, timedelta, timezone

import lance
import pytest

from persisting import ClosedError, InvalidArgumentError, _native
from persisting.queue import LanceBackend, PersistingBackend

# No auto flush: records a test leaves buffered stay out of every version
# however long the test takes (it counts versions and fragments exactly).
BACKENDS = {
    "lance": lambda p, **kw: LanceBackend(0, p, batch_size=10, max_flush_delay_sec=0, **kw),
    "persisting": lambda p, **kw: PersistingBackend(0, p, batch_size=10, max_flush_delay_sec=0, **kw),
    "persisting-wal": lambda p, **kw: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=0,
                                                       max_flush_delay_sec=0, **kw),
}


@pytest.fixture(params=list(BACKENDS))
def make(request):
    return BACKENDS[request.param]


def rec(i: int) -> dict:
    return {"seq": i, "name": f"r{i}", "score": i / 8}


def dataset(path: str, **kw) -> lance.LanceDataset:
    return lance.dataset(os.path.join(path, "data.lance"), **kw)


async def fill(b, flushes: int, rows: int = 10, start: int = 0) -> None:
    """``flushes`` versions of ``rows`` records each (one fragment each), from
    record ``start`` on."""
    for f in range(flushes):
        await b.put_batch([rec(start + f * rows + i) for i in range(rows)])
        await b.flush()


async def test_compact_keeps_offsets_and_pylance_sees_the_new_version(bucket_path, make):
    b = make(bucket_path)
    try:
        await fill(b, 5)
        await b.put_batch([rec(50 + i) for i in range(3)])  # not flushed: not touched
        before = await b.get()
        assert len(dataset(bucket_path).get_fragments()) == 5
        version_before = dataset(bucket_path).version
        result = await b.compact()
        assert result["version_before"] == version_before
        assert result["version"] == version_before + 1
        assert (result["fragments_before"], result["fragments"]) == (5, 1)
        assert await b.get() == before
        assert await b.get(7, 8) == [rec(i) for i in range(8, 15)]  # offsets unchanged
        assert await b.get(2, 51) == [rec(51), rec(52)]
        ds = dataset(bucket_path)
        assert ds.version == result["version"] and len(ds.get_fragments()) == 1
        assert ds.to_table().to_pylist() == before[:50]
        assert [v["version"] for v in ds.versions()] == list(range(1, result["version"] + 1))
        assert (await b.stats())["version"] == result["version"]
        await b.flush()  # appends continue after the compacted fragment
        assert dataset(bucket_path).to_table().to_pylist() == before
    finally:
        b.close()


async def test_compact_with_target_rows(bucket_path, make):
    b = make(bucket_path)
    try:
        await fill(b, 5)
        result = await b.compact(target_rows=20)
        assert result["fragments_before"] == 5 and 1 < result["fragments"] <= 3, result
        assert [f.count_rows() for f in dataset(bucket_path).get_fragments()] == [20, 20, 10]
        assert await b.get() == [rec(i) for i in range(50)]
    finally:
        b.close()


async def test_versions_and_time_travel(bucket_path, make):
    start = datetime.now(timezone.utc)
    b = make(bucket_path)
    try:
        assert await b.versions() == []
        await fill(b, 3)
        versions = await b.versions()
        assert [v["version"] for v in versions] == [1, 2, 3]
        assert [v["version"] for v in dataset(bucket_path).versions()] == [1, 2, 3]
        for v in versions:
            assert set(v) == {"version", "timestamp"}
            assert isinstance(v["timestamp"], datetime) and v["timestamp"].tzinfo is not None
            assert start - timedelta(seconds=5) <= v["timestamp"] <= datetime.now(timezone.utc)
        stamps = [v["timestamp"] for v in versions]
        assert stamps == sorted(stamps)
        # every version reads as it was committed; buffered rows belong to none
        await b.put(rec(30))
        assert await b.get(version=1) == [rec(i) for i in range(10)]
        assert await b.get(version=2) == [rec(i) for i in range(20)]
        assert await b.get(5, 12, version=3) == [rec(i) for i in range(12, 17)]
        assert await b.get(limit=None, offset=28, version=3) == [rec(28), rec(29)]
        assert await b.get(offset=100, version=3) == []
        table = await b.get_arrow(3, 1, version=2)
        assert table.column("seq").to_pylist() == [1, 2, 3]
        assert await b.get() == [rec(i) for i in range(31)]
    finally:
        b.close()


async def test_old_versions_readable_until_cleanup_and_gone_after(bucket_path, make):
    b = make(bucket_path)
    try:
        await fill(b, 3)
        compacted = (await b.compact())["version"]
        assert await b.get(version=1) == [rec(i) for i in range(10)]  # still there after compact
        assert dataset(bucket_path, version=1).to_table().to_pylist() == [rec(i) for i in range(10)]
        kept = await b.cleanup_old_versions(older_than=timedelta(hours=1))  # all are recent
        assert kept["old_versions"] == 0
        assert [v["version"] for v in await b.versions()] == [1, 2, 3, compacted]
        removed = await b.cleanup_old_versions(older_than=0)
        assert removed["old_versions"] == 3 and removed["data_files"] >= 3, removed
        assert [v["version"] for v in await b.versions()] == [compacted]
        with pytest.raises(InvalidArgumentError) as info:
            await b.get(version=1)
        assert "version 1" in str(info.value) and isinstance(info.value, ValueError)
        with pytest.raises(ValueError, match="version 2"):
            await b.get_arrow(version=2)
        assert await b.get(version=compacted) == [rec(i) for i in range(30)]
        assert await b.get() == [rec(i) for i in range(30)]
        ds = dataset(bucket_path)
        assert [v["version"] for v in ds.versions()] == [compacted]
        assert ds.to_table().to_pylist() == [rec(i) for i in range(30)]
        with pytest.raises(Exception):
            dataset(bucket_path, version=1).to_table()
        await b.put(rec(30))
        await b.flush()
        assert dataset(bucket_path).to_table().to_pylist() == [rec(i) for i in range(31)]
    finally:
        b.close()


async def test_cleanup_by_age(bucket_path, make):
    b = make(bucket_path)
    try:
        await fill(b, 2)
        await asyncio.sleep(0.3)
        await fill(b, 1, start=20)
        removed = await b.cleanup_old_versions(timedelta(seconds=0.25))
        assert removed["old_versions"] == 2, removed
        assert [v["version"] for v in await b.versions()] == [3]
        assert await b.get() == [rec(i) for i in range(30)]
    finally:
        b.close()


async def test_compaction_threshold_compacts_after_flushes(bucket_path):
    b = PersistingBackend(0, bucket_path, batch_size=5, compaction_threshold=3)
    try:
        assert (await b.stats())["compaction_threshold"] == 3
        fragments = []
        for f in range(7):
            await b.put_batch([rec(f * 5 + i) for i in range(5)])
            await b.flush()
            fragments.append(len(dataset(bucket_path).get_fragments()))
        assert max(fragments) < 3, fragments  # never left at the threshold
        assert fragments[:3] == [1, 2, 1], fragments  # the third flush compacted
        assert await b.get() == [rec(i) for i in range(35)]
        assert dataset(bucket_path).to_table().to_pylist() == [rec(i) for i in range(35)]
        # flush versions and compaction versions
        assert len(await b.versions()) > 7
    finally:
        b.close()
    off = PersistingBackend(0, bucket_path + "-off", batch_size=5)  # default: off
    try:
        await fill(off, 4, rows=5)
        assert len(dataset(bucket_path + "-off").get_fragments()) == 4
    finally:
        off.close()


async def test_maintenance_runs_off_the_event_loop(bucket_path, make, monkeypatch):
    b = make(bucket_path)
    loop_thread = threading.current_thread()
    seen = {}

    def spy(name):
        real = getattr(_native, name)

        def call(*args):
            seen[name] = threading.current_thread() is not loop_thread
            return real(*args)

        monkeypatch.setattr(_native, name, call)

    for name in ("compact", "cleanup_old_versions", "versions", "read_version"):
        spy(name)
    try:
        await fill(b, 2)
        await b.compact()
        await b.versions()
        await b.get(version=1)
        await b.cleanup_old_versions(0)
        assert seen == {"compact": True, "cleanup_old_versions": True, "versions": True,
                        "read_version": True}
    finally:
        b.close()


@pytest.mark.parametrize("call, exc, match", [
    (lambda b: b.compact(target_rows=0), ValueError, "target_rows"),
    (lambda b: b.compact(target_rows=-5), ValueError, "target_rows"),
    (lambda b: b.compact(target_rows="10"), TypeError, "target_rows"),
    (lambda b: b.compact(target_rows=True), TypeError, "target_rows"),
    (lambda b: b.cleanup_old_versions(-1), ValueError, "older_than"),
    (lambda b: b.cleanup_old_versions(timedelta(seconds=-1)), ValueError, "older_than"),
    (lambda b: b.cleanup_old_versions(math.nan), ValueError, "older_than"),
    (lambda b: b.cleanup_old_versions("1d"), TypeError, "older_than"),
    (lambda b: b.cleanup_old_versions(None), TypeError, "older_than"),
    (lambda b: b.get(version=0), ValueError, "version"),
    (lambda b: b.get(version=-1), ValueError, "version"),
    (lambda b: b.get(version="1"), TypeError, "version"),
    (lambda b: b.get(version=True), TypeError, "version"),
    (lambda b: b.get_arrow(version=1.0), TypeError, "version"),
    (lambda b: b.get(version=99), InvalidArgumentError, "version 99"),
])
async def test_bad_maintenance_arguments(bucket_path, call, exc, match):
    b = PersistingBackend(0, bucket_path)
    try:
        await fill(b, 1)
        with pytest.raises(exc, match=match):
            await call(b)
        assert await b.get() == [rec(i) for i in range(10)]
        assert [v["version"] for v in await b.versions()] == [1]
    finally:
        b.close()


async def test_maintenance_on_an_empty_and_a_closed_backend(bucket_path, make):
    b = make(bucket_path)
    assert await b.versions() == []
    assert (await b.compact())["fragments"] == 0  # nothing to compact
    assert (await b.cleanup_old_versions(0))["old_versions"] == 0
    with pytest.raises(ValueError, match="version 1"):  # an empty bucket has no versions
        await b.get(version=1)
    b.close()
    for call in (b.compact, b.versions, lambda: b.cleanup_old_versions(0),
                 lambda: b.get(version=1)):
        with pytest.raises(ClosedError):
            await call()


async def test_time_travel_across_a_schema_change(bucket_path):
    b = PersistingBackend(0, bucket_path)
    try:
        await b.put({"n": 1})
        await b.flush()
        await b.put({"n": 2.5, "tag": "t"})
        await b.flush()
        assert await b.get(version=1) == [{"n": 1}]
        assert await b.get() == [{"n": 1.0, "tag": None}, {"n": 2.5, "tag": "t"}]
        latest = (await b.versions())[-1]["version"]
        assert await b.get(version=latest) == await b.get()
    finally:
        b.close()

"""One writer per bucket (issue 17): a second writer - another process or
another backend of this process - gets a BusyError naming the path and the
holder, never a share of the bucket; kill -9 of the holder frees the bucket
and nothing it acknowledged is lost; readers may open beside the writer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pyarrow as pa
import pytest

from helpers import child_env, explain
from persisting import _native
from persisting.errors import BusyError, StorageError, UnsupportedError
from persisting.queue import LanceBackend, PersistingBackend

RECORDS = 40

# The holder: opens the bucket, puts RECORDS records (each acknowledged;
# without the WAL they are flushed, which is what acknowledges them there),
# says "ready" and waits to be killed. No auto flush: the WAL's records stay
# unflushed however long the test takes to look (the reader counts them).
HOLDER = r"""
import asyncio, sys
from persisting.queue import PersistingBackend

async def main(path, wal):
    backend = PersistingBackend(bucket_id=0, storage_path=path, enable_wal=wal, wal_sync_interval=0,
                                max_flush_delay_sec=0)
    for i in range(int(sys.argv[3])):
        await backend.put({"i": i, "who": "holder"})
    if not wal:
        await backend.flush()
    print("ready", flush=True)
    sys.stdin.readline()  # until killed

asyncio.run(main(sys.argv[1], sys.argv[2] == "1"))
"""


def start_holder(path: str, wal: bool) -> subprocess.Popen:
    """Spawns the holder and returns once its records are acknowledged."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path, "1" if wal else "0", str(RECORDS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=child_env(),
    )
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"holder did not start: {line!r}\n{out}\n{err}")
    return proc


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "no-wal"])
async def test_second_process_is_refused_until_the_holder_is_killed(bucket_path, wal):
    holder = start_holder(bucket_path, wal)
    try:
        with pytest.raises(BusyError) as busy:
            PersistingBackend(bucket_id=0, storage_path=bucket_path, enable_wal=wal, wal_sync_interval=0)
        message = str(busy.value)
        assert bucket_path in message and f"pid {holder.pid}" in message, message
        assert socket.gethostname() in message, message
        assert isinstance(busy.value, StorageError) and busy.value.code == _native.EBUSY

        # a reader opens beside the writer and sees what is committed
        reader = PersistingBackend(bucket_id=0, storage_path=bucket_path, enable_wal=wal, read_only=True)
        try:
            committed = 0 if wal else RECORDS  # WAL rows are the writer's until flushed
            assert (await reader.stats())["persisted_count"] == committed
            assert reader.total_count() == committed
        finally:
            reader.close()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    assert holder.returncode == -signal.SIGKILL, explain(holder)

    # the kernel released the lock with the process: no manual recovery
    backend = PersistingBackend(bucket_id=0, storage_path=bucket_path, enable_wal=wal, wal_sync_interval=0)
    try:
        rows = await backend.get()
        assert rows == [{"i": i, "who": "holder"} for i in range(RECORDS)]  # all, once each
        await backend.put({"i": RECORDS, "who": "second"})
        assert backend.total_count() == RECORDS + 1
    finally:
        backend.close()


@pytest.mark.parametrize("backend_class", [LanceBackend, PersistingBackend])
async def test_second_handle_in_one_process_is_busy(bucket_path, backend_class):
    first = backend_class(bucket_id=0, storage_path=bucket_path)
    try:
        await first.put({"i": 1})
        for spelling in (bucket_path, bucket_path + os.sep, os.path.join(bucket_path, ".")):
            with pytest.raises(BusyError) as busy:
                backend_class(bucket_id=0, storage_path=spelling)
            assert spelling in str(busy.value) and "this process" in str(busy.value)
        assert await first.get() == [{"i": 1}]  # the refused open touched nothing
    finally:
        first.close()
    second = backend_class(bucket_id=0, storage_path=bucket_path)
    try:
        assert await second.get() == [{"i": 1}]
    finally:
        second.close()


async def test_read_only_open_beside_a_writer_in_one_process(bucket_path):
    writer = LanceBackend(bucket_id=0, storage_path=bucket_path)
    try:
        await writer.put_batch([{"i": i} for i in range(5)])
        await writer.flush()
        reader = LanceBackend(bucket_id=0, storage_path=bucket_path, read_only=True)
        try:
            assert await reader.get() == [{"i": i} for i in range(5)]
            assert (await reader.stats())["read_only"] is True
            with pytest.raises(UnsupportedError, match="read-only"):
                await reader.put({"i": 9})
            with pytest.raises(UnsupportedError, match="read-only"):
                await reader.put_arrow(pa.table({"i": [9]}))
            with pytest.raises(UnsupportedError, match="read-only"):
                await reader.compact()
            assert reader.total_count() == 5  # the refused writes kept nothing
        finally:
            reader.close()
        await writer.put({"i": 5})  # the writer is unaffected
        assert writer.total_count() == 6
    finally:
        writer.close()


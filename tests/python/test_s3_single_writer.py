"""One writer per s3:// bucket (issue 17): a lease object names the writer and
an epoch in every commit fences a writer that was taken over. A second
process gets a BusyError naming the path and the holder; after kill -9 of
the holder, the bucket is taken over once the (short) lease has expired,
with nothing lost that was acknowledged and flushed; readers open beside the
writer, and pylance keeps appending."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import lance
import pyarrow as pa
import pytest

from helpers import child_env
from persisting.errors import BusyError
from persisting.queue import LanceBackend, PersistingBackend
from test_s3 import BUCKET, s3  # noqa: F401  (the MinIO fixture)

# seconds: the holder's lease, short so that its crash frees the bucket soon,
# yet renewed (every third of it) with 2 s to spare: a holder slowed down on a
# loaded machine must not lose its lease while the test still counts on it
LEASE = 3.0

# The holder: opens the bucket with a short lease, puts and flushes
# `flushed` records, puts `unflushed` more (acknowledged: in its local WAL),
# says "ready" and waits to be killed.
HOLDER = r"""
import asyncio, json, sys
from persisting.queue import PersistingBackend

async def main(path, options, wal_path, flushed, unflushed):
    b = PersistingBackend(0, path, enable_wal=True, wal_sync_interval=0, wal_path=wal_path,
                          storage_options=json.loads(options), writer_lease_sec=float(sys.argv[6]),
                          max_flush_delay_sec=0)
    for i in range(flushed):
        await b.put({"i": i})
    await b.flush()
    for i in range(flushed, flushed + unflushed):
        await b.put({"i": i})
    print("ready", flush=True)
    sys.stdin.readline()  # until killed

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
"""


def start_holder(path, s3, wal_path, flushed, unflushed) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, path, json.dumps(s3), wal_path, str(flushed), str(unflushed), str(LEASE)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"holder did not start: {line!r}\n{out}\n{err}")
    return proc


def open_when_free(path, s3, wal_path, deadline_s) -> PersistingBackend:
    """Opens the bucket as soon as the crashed holder's lease has expired
    (every refusal before that is a BusyError)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return PersistingBackend(0, path, enable_wal=True, wal_path=wal_path, storage_options=s3,
                                     writer_lease_sec=LEASE)
        except BusyError:
            assert time.monotonic() < deadline, "the crashed holder's lease never expired"
            time.sleep(0.05)


async def test_second_process_is_refused_then_takes_over_after_kill_9(s3, tmp_path):
    path = f"s3://{BUCKET}/single-writer/bucket_0"
    holder_wal, my_wal = str(tmp_path / "node-a"), str(tmp_path / "node-b")
    holder = start_holder(path, s3, holder_wal, flushed=30, unflushed=5)
    try:
        with pytest.raises(BusyError) as refused:
            PersistingBackend(0, path, enable_wal=True, wal_path=my_wal, storage_options=s3)
        text = str(refused.value)
        assert path in text and f"pid {holder.pid} on host " in text and "writer-lease.json" in text, text

        reader = LanceBackend(0, path, storage_options=s3, read_only=True)  # takes no lease
        assert [r["i"] for r in await reader.get(limit=100)] == list(range(30))
        reader.close()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()

    taker = open_when_free(path, s3, my_wal, deadline_s=60 * LEASE)
    try:
        # everything the holder flushed; its 5 unflushed records are in its own node's WAL
        assert [r["i"] for r in await taker.get(limit=100)] == list(range(30))
    finally:
        taker.close()
    ds = lance.dataset(f"{path}/data.lance", storage_options=s3)
    assert int(ds.config()["persisting.writer_epoch"]) == 2  # the takeover version carries it

    # Back on the holder's node, its WAL gives the 5 acknowledged records back.
    back = PersistingBackend(0, path, enable_wal=True, wal_path=holder_wal, storage_options=s3)
    try:
        assert [r["i"] for r in await back.get(limit=100)] == list(range(35))
        await back.flush()
    finally:
        back.close()


async def test_pylance_appends_beside_the_fence(s3):
    path = f"s3://{BUCKET}/fence-pylance/bucket_0"
    uri = f"{path}/data.lance"
    b = LanceBackend(0, path, storage_options=s3)
    try:
        await b.put_batch([{"i": i} for i in range(3)])
        await b.flush()
        ds = lance.dataset(uri, storage_options=s3)
        assert ds.config()["persisting.writer_epoch"] == "1"
        # pylance knows nothing of the epoch: its append is not refused, and
        # keeps the epoch in the config of the version it commits
        lance.write_dataset(pa.Table.from_pylist([{"i": 3}], schema=ds.schema), uri, mode="append",
                            storage_options=s3)
        assert lance.dataset(uri, storage_options=s3).config()["persisting.writer_epoch"] == "1"
        await b.put({"i": 4})
        await b.flush()
        assert [r["i"] for r in await b.get(limit=10)] == list(range(5))
    finally:
        b.close()
    assert sorted(lance.dataset(uri, storage_options=s3).to_table().column("i").to_pylist()) == list(range(5))

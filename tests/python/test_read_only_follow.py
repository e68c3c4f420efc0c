"""A read-only backend follows a writer in another process: its counts, reads and
``get_stream(wait=True)`` see the writer's later flushes, and the writer's compaction and
cleanup never make it read wrong rows."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from helpers import child_env, explain
from persisting.queue import LanceBackend

# The writer: one command a line on stdin, "ok" on stdout after each.
WRITER = r"""
import asyncio, sys
from persisting.queue import LanceBackend

async def main():
    w = LanceBackend(bucket_id=0, storage_path=sys.argv[1])
    print("ok", flush=True)
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "put":
            first, n = map(int, args)
            await w.put_batch([{"i": i} for i in range(first, first + n)])
            await w.flush()
        elif cmd == "compact":
            await w.compact()
            await w.cleanup_old_versions(0)
        print("ok", flush=True)
    w.close()

asyncio.run(main())
"""


async def test_read_only_backend_follows_a_writer_in_another_process(bucket_path):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, bucket_path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())

    async def tell(cmd: str) -> None:
        if cmd:
            writer.stdin.write(cmd + "\n")
            writer.stdin.flush()
        line = await asyncio.to_thread(writer.stdout.readline)
        assert line.strip() == "ok", explain(subprocess.CompletedProcess(writer.args, writer.poll(), line,
                                                                          writer.stderr.read()))

    try:
        await tell("")  # the writer has opened the bucket
        reader = LanceBackend(bucket_id=0, storage_path=bucket_path, read_only=True)
        try:
            assert reader.total_count() == 0
            received: asyncio.Queue = asyncio.Queue()

            async def follow() -> list:
                out = []
                async for batch in reader.get_stream(6, 0, True, None):  # waits for the writer's rows
                    out += batch
                    received.put_nowait(len(batch))
                return out

            stream = asyncio.ensure_future(follow())
            await tell("put 0 3")
            assert reader.total_count() == 3
            assert await reader.get() == [{"i": i} for i in range(3)]
            assert await asyncio.wait_for(received.get(), 60) == 3  # the waiting stream saw them
            await tell("put 3 3")
            assert await asyncio.wait_for(stream, 60) == [{"i": i} for i in range(6)]
            await tell("put 6 2")
            await tell("compact")  # removes the files of the versions the reader read
            assert (await reader.stats())["total_count"] == 8
            assert await reader.get() == [{"i": i} for i in range(8)]
            assert await reader.get_where("i", eq=7) == [{"i": 7}]  # a lookup follows too (and flushes nothing)
        finally:
            reader.close()
    finally:
        writer.stdin.close()
        assert writer.wait(60) == 0, writer.stderr.read()


# The reader: a pulsing actor system of its own with a read-only bucket; it reads what is
# there, says "open", then waits in read_queue's get(wait=True) for 3 more records.
PULSING_READER = r"""
import asyncio, json, os, sys
import pulsing as pul
from pulsing.streaming import read_queue
from persisting.queue import register

async def main():
    system = await pul.actor_system()
    try:
        register()
        reader = await read_queue(system, "events", num_buckets=1, storage_path=sys.argv[1], backend="lance",
                                  backend_options={"read_only": True})
        first = await reader.get(limit=10)
        print("open", json.dumps(first), flush=True)
        more = await reader.get(limit=3, wait=True, timeout=30)
        print("more", json.dumps(more), flush=True)
    finally:
        await system.shutdown()

asyncio.run(main())
os._exit(0)  # pulsing 0.1.2 crashes in interpreter finalization (see scripts/training_scenario.py)
"""


async def test_pulsing_read_queue_in_another_process_follows_the_writer(tmp_path):
    pytest.importorskip("pulsing.streaming")  # pulsing >= 0.1.1 (tests/python/test_pulsing_e2e.py covers 0.1.0)
    root = tmp_path / "queue"
    writer = LanceBackend(bucket_id=0, storage_path=str(root / "bucket_0"))
    try:
        await writer.put_batch([{"i": i} for i in range(2)])
        await writer.flush()
        reader = subprocess.Popen([sys.executable, "-X", "faulthandler", "-c", PULSING_READER, str(root)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=child_env())
        try:
            line = await asyncio.to_thread(reader.stdout.readline)
            assert line.startswith("open "), line + reader.stderr.read()
            assert json.loads(line[5:]) == [{"i": 0}, {"i": 1}]
            await writer.put_batch([{"i": i} for i in range(2, 5)])  # while it waits
            await writer.flush()
            out, err = await asyncio.to_thread(reader.communicate, None, 120)
            assert reader.returncode == 0, out + err
            assert out.startswith("more ") and json.loads(out[5:]) == [{"i": i} for i in range(2, 5)], out + err
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.communicate()
    finally:
        writer.close()


@pytest.mark.parametrize("how", ["overwrite", "deleted-and-made-again"])
async def test_read_only_backend_reads_a_dataset_pylance_made_again(bucket_path, how):
    """pylance replaces the bucket's dataset (mode="overwrite": a newer version; or deleted and
    written again up to the version the reader holds): the reader reads the new rows, not the old."""
    import os
    import shutil

    import lance
    import pyarrow as pa

    writer = LanceBackend(bucket_id=0, storage_path=bucket_path)
    for i in range(3):
        await writer.put({"i": i})
        await writer.flush()
    writer.close()
    reader = LanceBackend(bucket_id=0, storage_path=bucket_path, read_only=True)
    try:
        assert await reader.get() == [{"i": i} for i in range(3)]
        path = os.path.join(bucket_path, "data.lance")
        if how == "overwrite":
            lance.write_dataset(pa.table({"i": pa.array([7, 8], pa.int64())}), path, mode="overwrite")
            want = [7, 8]
        else:
            shutil.rmtree(path)
            for i in (7, 8, 9):  # versions 1, 2, 3 again
                lance.write_dataset(pa.table({"i": pa.array([i], pa.int64())}), path, mode="create" if i == 7 else "append")
            want = [7, 8, 9]
        assert [r["i"] for r in await reader.get()] == want
        assert reader.total_count() == len(want)
    finally:
        reader.close()

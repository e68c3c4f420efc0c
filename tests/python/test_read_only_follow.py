"""A read-only backend follows a writer in another process: its counts, reads and
``get_stream(wait=True)`` see the writer's later flushes, and the writer's compaction and
cleanup never make it read wrong rows."""

from __future__ import annotations

import asyncio
import subprocess
import sys

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
        finally:
            reader.close()
    finally:
        writer.stdin.close()
        assert writer.wait(60) == 0, writer.stderr.read()

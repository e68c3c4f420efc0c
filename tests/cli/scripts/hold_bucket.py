"""Holds a bucket open for writing (WAL on) until stdin closes.

    python hold_bucket.py PATH

Puts one record, prints "holding", waits for stdin to close, puts another,
flushes and closes: both records must then be in the dataset.
"""

import asyncio
import sys

from persisting.queue import PersistingBackend


def record(j: int) -> dict:
    return {"id": f"held-{j}", "clicks": j, "blob": bytes([j]), "score": float(j)}


async def main(path: str) -> None:
    b = PersistingBackend(bucket_id=0, storage_path=path, enable_wal=True)
    await b.put(record(0))
    print("holding", flush=True)
    sys.stdin.read()
    await b.put(record(1))
    await b.flush()
    b.close()


asyncio.run(main(sys.argv[1]))

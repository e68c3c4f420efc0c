"""Quickstart: a pulsing queue stored as Lance datasets by persisting.

    python examples/quickstart.py [DIRECTORY]

Writes 1000 records through a pulsing queue on the "lance" backend into
DIRECTORY (a fresh temporary directory when omitted), flushes, reads them back
with read_queue, prints the queue's stats, then opens each bucket's dataset with
pylance - proof that what persisting wrote is a real Lance dataset.

Works with pulsing 0.1.0 (``pulsing.queue``) and 0.1.1+ (``pulsing.streaming``).
Needs: pip install ./python pulsing pylance
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile

import pulsing as pul

try:  # pulsing >= 0.1.1
    from pulsing.streaming import read_queue, write_queue
except ImportError:  # pulsing 0.1.0
    from pulsing.queue import read_queue, write_queue

from persisting.queue import register

NUM_RECORDS = 1000
NUM_BUCKETS = 2


async def main(storage_path: str) -> None:
    system = await pul.actor_system()
    try:
        register()  # "lance" (and "LanceBackend") -> persisting.queue.LanceBackend

        writer = await write_queue(
            system, "quickstart", bucket_column="id", num_buckets=NUM_BUCKETS,
            batch_size=100, storage_path=storage_path, backend="lance",
        )
        for i in range(NUM_RECORDS):
            await writer.put({"id": f"user-{i % 37}", "seq": i, "value": i * 0.5,
                              "even": i % 2 == 0, "message": f"hello #{i}"})
        await writer.flush()  # every bucket writes a new Lance version

        reader = await read_queue(system, "quickstart", num_buckets=NUM_BUCKETS,
                                  storage_path=storage_path, backend="lance")
        records = await reader.get(limit=1_000_000)  # a reused directory holds earlier runs too
        print(f"read back {len(records)} records through pulsing; first: {records[0]}")
        assert len(records) >= NUM_RECORDS

        stats = await writer.queue.stats()
        for bucket_id, s in sorted(stats["buckets"].items()):
            print(f"bucket {bucket_id}: total={s['total_count']} persisted={s['persisted_count']} "
                  f"buffered={s['buffer_count']} backend={s['backend']} at {s['storage_path']}")
    finally:
        await system.shutdown()

    import lance  # pylance: the reference implementation of the format

    total = 0
    for bucket_id in range(NUM_BUCKETS):
        path = os.path.join(storage_path, f"bucket_{bucket_id}", "data.lance")
        ds = lance.dataset(path)
        total += ds.count_rows()
        print(f"\npylance opened {path}: version {ds.version}, {ds.count_rows()} rows")
        print(ds.to_table(limit=3).to_pandas().to_string()
              if _has_pandas() else ds.to_table(limit=3).to_pylist())
    assert total == len(records), (total, len(records))
    print(f"\nall {total} records are in real Lance datasets under {storage_path}")


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="persisting-quickstart-")
    asyncio.run(main(os.path.abspath(target)))

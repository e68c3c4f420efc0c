"""Writes a bucket with the PersistingBackend (WAL on) for the CLI tests.

    python make_bucket.py PATH [--flushes N] [--pending] [--index] [--storage-options JSON]
                               [--wal-sync-interval S]

Each flush commits 4 records as a new version; after the flushes a BTREE
index on "clicks" is built (one more version). With --pending one more record
is put and the process ends without closing, so it stays only in the WAL: in
its segment file with the default --wal-sync-interval 0 (the damage tests
change it there), staged in wal/staged-entries with S > 0.
With --storage-options (an s3:// PATH) the bucket has no WAL.
"""

import argparse
import asyncio
import json
import os

from persisting.queue import PersistingBackend


def record(flush: int, j: int) -> dict:
    return {"id": f"u{flush}-{j}", "clicks": flush * 10 + j, "blob": bytes([flush, j]),
            "score": float("nan") if j == 0 else j / 2}


async def main(args: argparse.Namespace) -> None:
    if args.storage_options:
        b = PersistingBackend(bucket_id=0, storage_path=args.path, storage_options=json.loads(args.storage_options))
    else:
        b = PersistingBackend(bucket_id=0, storage_path=args.path, enable_wal=True,
                              wal_sync_interval=args.wal_sync_interval)
    for f in range(args.flushes):
        await b.put_batch([record(f, j) for j in range(4)])
        await b.flush()
    if args.index:
        await b.create_index("clicks")
    if args.pending:
        await b.put(record(99, 1))
        os._exit(0)  # no close: the record stays in the WAL only
    b.close()


parser = argparse.ArgumentParser()
parser.add_argument("path")
parser.add_argument("--flushes", type=int, default=3)
parser.add_argument("--index", action="store_true")
parser.add_argument("--pending", action="store_true")
parser.add_argument("--storage-options")
parser.add_argument("--wal-sync-interval", type=float, default=0.0)
asyncio.run(main(parser.parse_args()))

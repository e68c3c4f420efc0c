"""The differential test's actor-system part: one seeded op sequence through pulsing's
write_queue/read_queue on the memory backend and on ours; every answer compared.

Usage: pulsing_differential.py STORAGE_DIR SEED OPS
Prints ``RESULT ok`` or ``RESULT <the first difference>`` and the op list. Runs with
pulsing 0.1.0 (pulsing.queue) and 0.1.1+ (pulsing.streaming).
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import sys

import pulsing as pul

try:  # pulsing >= 0.1.1
    from pulsing.streaming import read_queue, write_queue
except ImportError:  # pulsing 0.1.0
    from pulsing.queue import read_queue, write_queue

from exact import same  # beside this script
from persisting.queue import register

NUM_BUCKETS = 3
BACKENDS = {  # topic suffix -> (backend, options)
    "memory": ("memory", None),
    "lance": ("lance", {"flush_threshold": 5}),
    "persisting": ("persisting", {"flush_threshold": 5}),
    "wal": ("persisting", {"flush_threshold": 5, "enable_wal": True}),
}
FLOATS = [0.0, -0.0, 1.5, math.nan, math.inf, -math.inf, 5e-324]
STRINGS = ["", "a", "héllo", "日本語", "🙂"]


def record(rng: random.Random, i: int) -> dict:
    pick = lambda values: None if rng.random() < 0.15 else rng.choice(values)  # noqa: E731
    return {"id": f"u{rng.randrange(12)}", "seq": i, "x": pick(FLOATS), "s": pick(STRINGS),
            "b": pick([b"", b"\x00\xff", b"abc"]), "t": pick([True, False]), "n": None,
            "l": pick([[1, 2], [None, 3]]), "d": pick([{"k": 1, "v": "é"}, {"k": -2, "v": ""}])}


def gen_ops(seed: int, n: int) -> list[tuple]:
    rng = random.Random(seed)
    ops, seq = [], 0
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            ops.append(("put", record(rng, seq)))
            seq += 1
        elif r < 0.5:
            k = rng.randrange(1, 6)
            ops.append(("put_list", [record(rng, seq + j) for j in range(k)]))
            seq += k
        elif r < 0.62:
            ops.append(("read", rng.choice(["all", "bucket", "buckets", "rank0", "rank1"]), rng.choice([1, 3, 10, 1000])))
        elif r < 0.75:
            ops.append(("queue_get", rng.choice([None, 0, 1, 2]), rng.choice([0, 1, 4, 100]), rng.choice([0, 1, 2, 50])))
        elif r < 0.85:
            ops.append(("flush",))
        else:
            ops.append(("stats",))
    return ops


READERS = {"all": {}, "bucket": {"bucket_id": 1}, "buckets": {"bucket_ids": [2, 0]},
           "rank0": {"rank": 0, "world_size": 2}, "rank1": {"rank": 1, "world_size": 2}}


async def run(base: str, seed: int, n: int) -> str | None:
    register()
    system = await pul.actor_system()
    try:
        writers, readers, queues = {}, {}, {}
        for name, (backend, options) in BACKENDS.items():
            common = dict(num_buckets=NUM_BUCKETS, storage_path=os.path.join(base, name), backend=backend,
                          backend_options=options)
            writers[name] = await write_queue(system, f"t{seed}_{name}", bucket_column="id", **common)
            queues[name] = writers[name].queue
            for kind, how in READERS.items():
                readers[name, kind] = await read_queue(system, f"t{seed}_{name}", **how, **common)
        for step, op in enumerate(gen_ops(seed, n)):
            answers = {}
            for name in BACKENDS:
                if op[0] == "put":
                    answers[name] = await writers[name].put(op[1])
                elif op[0] == "put_list":
                    answers[name] = await writers[name].put(op[1])
                elif op[0] == "read":
                    answers[name] = await readers[name, op[1]].get(limit=op[2])
                elif op[0] == "queue_get":
                    answers[name] = await queues[name].get(bucket_id=op[1], limit=op[2], offset=op[3])
                elif op[0] == "flush":
                    answers[name] = await writers[name].flush()
                else:
                    stats = await queues[name].stats()
                    answers[name] = {b: s["total_count"] for b, s in stats["buckets"].items()}
            for name in BACKENDS:
                if not same(answers[name], answers["memory"]):
                    return f"op {step} {op!r}: {name} answered\n  {answers[name]!r}\nmemory answered\n  {answers['memory']!r}"
        return None
    finally:
        await system.shutdown()
        await asyncio.sleep(0.1)  # pulsing 0.1.2: see docs/troubleshooting.md


def main() -> None:
    base, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    msg = asyncio.run(run(base, seed, n))
    print("RESULT " + ("ok" if msg is None else f"seed {seed}: {msg}"))
    if msg:
        print("ops:\n" + "\n".join(f"  {op!r}," for op in gen_ops(seed, n)))


if __name__ == "__main__":
    main()

"""The writer process of the crash harness (``run.py``); it is meant to be killed.

Usage: child.py CONFIG_JSON

It opens one bucket with ``PersistingBackend(enable_wal=True,
wal_sync_interval=...)`` (0, or 1 s: entries then go through the WAL's
memory-mapped staging file, which a kill must not lose either; schema evolution on: records add a field and widen
another along the way) and first reports what it recovered:

    R {"count": n, "seqs": [[first, last], ...], "persisted": p, "bad": null | "...", ...}

after checking every record: its payload is the one derived from its seq, no
seq is there twice, and each writer's records are in the order it wrote them
(concurrent puts may reach the engine in any order: with wal_sync_interval 0
they run on worker threads). ``seqs`` lists the seqs found, as ranges.
With ``"resend": [seq, ...]`` (the harness's --resend mode: puts an earlier
child started but never saw acknowledged) it then re-sends, one by one, those
it did not find - what a client must do after a restart, since an
unacknowledged put may or may not be stored (docs/wal.md).
Then ``writers`` concurrent tasks append numbered records from ``next_seq``
(or past the highest seq found) on, with ``put`` or ``put_batch``, while
another task flushes now and then. Around every append it prints,
line-buffered, one line each:

    S <first> <n>    before the call: seqs first..first+n-1 may now be stored
    A <first> <n>    after it returned: they are acknowledged (durable)

A parent that SIGKILLs this process at any moment can therefore tell what was
acknowledged (must survive) and what was at most in flight (may survive).
With ``"verify_only": true`` it reports and exits without writing.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time

from persisting.queue import PersistingBackend


def payload(seq: int) -> str:
    """Deterministic, of varying length, so WAL entries differ in size."""
    return f"{seq:x}-" + "abcdefghij"[seq % 10] * (seq % 37)


def value(seq: int) -> int | float:
    """An int at first; from seq 40 on every fifth is a float, which widens the
    field (a schema change the engine commits) somewhere in the run."""
    return seq + 0.5 if seq >= 40 and seq % 5 == 0 else seq


def late(seq: int) -> str | None:
    """A field that appears only at seq 23 (added to the schema then; earlier
    rows read null) and then on every 50th record."""
    return f"late-{seq}" if seq >= 23 and seq % 50 == 23 else None


def record(seq: int, writer: int) -> dict:
    r = {"seq": seq, "w": writer, "pad": payload(seq), "v": value(seq)}
    if late(seq) is not None:
        r["late"] = late(seq)
    return r


def out(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write per line; stdout is line-buffered


#: the writer id of re-sent records (their original writer's order is not theirs)
RESENT = -1


def ranges(seqs: list[int]) -> list[list[int]]:
    """Sorted seqs as [first, last] ranges, to keep the report line short."""
    out: list[list[int]] = []
    for s in sorted(seqs):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


async def recover(b: PersistingBackend) -> tuple[dict, set[int]]:
    rows = await b.get()
    stats = await b.stats()
    bad = None
    seen: set[int] = set()
    last_of_writer: dict[int, int] = {}
    for k, row in enumerate(rows):
        seq, w = row.get("seq"), row.get("w")
        if (not isinstance(seq, int) or row.get("pad") != payload(seq) or row.get("v") != value(seq)
                or row.get("late") != late(seq)):
            bad = f"offset {k} holds {row!r}, not a record this harness writes"
        elif seq in seen:
            bad = f"offset {k}: seq {seq} is there twice"
        elif w != RESENT and last_of_writer.get(w, -1) >= seq:
            bad = f"offset {k}: writer {w}'s seq {seq} after its seq {last_of_writer[w]}"
        if bad:
            break
        seen.add(seq)
        if w != RESENT:
            last_of_writer[w] = seq
    return {
        "count": len(rows),
        "seqs": ranges(list(seen)),
        "total": b.total_count(),
        "persisted": stats["persisted_count"],
        "buffered": stats["buffer_count"],
        "version": stats.get("version"),
        "wal_replayed": stats.get("wal_replayed"),
        "wal_size": stats.get("wal_size"),
        "bad": bad,
    }, seen


async def main(cfg: dict) -> None:
    b = PersistingBackend(
        bucket_id=0,
        storage_path=cfg["path"],
        batch_size=cfg["batch_size"],
        enable_wal=True,
        wal_sync_interval=cfg.get("wal_sync_interval", 0),
        max_wal_size=cfg["max_wal_size"],
        flush_threshold=cfg["flush_threshold"],
    )
    report, seen = await recover(b)
    out("R " + json.dumps(report))
    if cfg.get("verify_only") or report["bad"]:
        os._exit(0)  # no close(): leave the bucket exactly as found
    for seq in cfg.get("resend", []):
        if seq not in seen:  # not stored: send it again (a stored one must not be)
            out(f"X {seq}")
            out(f"S {seq} 1")
            await b.put(record(seq, RESENT))
            out(f"A {seq} 1")
    rng = random.Random(cfg["seed"])
    state = {"next": max([cfg.get("next_seq", 0), *[s + 1 for s in seen]])}
    deadline = time.monotonic() + cfg["max_seconds"]

    async def writer(w: int) -> None:
        while time.monotonic() < deadline:
            n = 1 if rng.random() >= cfg["batch_prob"] else rng.randint(2, cfg["max_batch"])
            first = state["next"]
            state["next"] += n  # no await between numbering and the put
            out(f"S {first} {n}")
            if n == 1:
                await b.put(record(first, w))
            else:
                await b.put_batch([record(first + i, w) for i in range(n)])
            out(f"A {first} {n}")
            if rng.random() < cfg["yield_prob"]:
                await asyncio.sleep(0)

    async def flusher() -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(rng.uniform(0, cfg["flush_every"]))
            await b.flush()
            out("F")

    tasks = [writer(w) for w in range(cfg["writers"])]
    if cfg["flush_every"] > 0:
        tasks.append(flusher())
    await asyncio.gather(*tasks)
    out("T")  # ran out of time without being killed
    os._exit(0)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    asyncio.run(main(json.loads(sys.argv[1])))

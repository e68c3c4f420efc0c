"""One pulsing node for the cluster tests, driven by lines on stdin.

Usage: node.py SEED_ADDR|- STORAGE_PATH

Starts an actor system on a port of 127.0.0.1 the system picks (joining
SEED_ADDR unless "-"), registers persisting's backends, starts its storage
manager and prints "READY <addr>" with the address it listens on. Then, for each stdin line, prints one JSON line:

  members               -> {"members": n}
  ready N               -> {"ready": bool}: N members alive, every storage manager resolvable
  buckets               -> {"buckets": [bucket ids this node owns]}
  write TOPIC FIRST N   -> writes records FIRST..FIRST+N-1, flushes: {"written": N}
  read TOPIC            -> reads every record of TOPIC: {"values": [...]}
  quit                  -> shuts the system down and exits
"""

from __future__ import annotations

import asyncio
import json
import sys

import pulsing as pul

try:  # pulsing >= 0.1.1
    from pulsing.streaming import get_storage_manager, read_queue, write_queue
    from pulsing.streaming.manager import STORAGE_MANAGER_NAME, StorageManager
except ImportError:  # pulsing 0.1.0
    from pulsing.queue import get_storage_manager, read_queue, write_queue
    from pulsing.queue.manager import STORAGE_MANAGER_NAME, StorageManager

from persisting.queue import register

NUM_BUCKETS = 6


async def cluster_ready(system, n: int) -> bool:
    """Whether ``system`` sees ``n`` members, all alive, and resolves the
    storage manager of each (so a bucket request can be redirected to any)."""
    members = await system.members()
    if len(members) < n or any((m.get("state") or m.get("status")) != "Alive" for m in members):
        return False
    for m in members:
        try:
            await StorageManager.resolve(STORAGE_MANAGER_NAME, system=system, node_id=int(m["node_id"]))
        except Exception:  # not (yet) known on this node
            return False
    return True


def say(obj) -> None:
    print(json.dumps(obj), flush=True)


async def main(seed: str, storage: str) -> None:
    register()
    # port 0: a port picked beforehand could be taken by the time it is bound
    system = await pul.actor_system(addr="127.0.0.1:0", seeds=None if seed == "-" else [seed])
    manager = await get_storage_manager(system)
    print(f"READY {system.addr}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        cmd = line[0]
        if cmd == "members":
            say({"members": len(await system.members())})
        elif cmd == "ready":
            say({"ready": await cluster_ready(system, int(line[1]))})
        elif cmd == "buckets":
            say({"buckets": sorted(b["bucket_id"] for b in await manager.list_buckets())})
        elif cmd == "write":
            topic, first, n = line[1], int(line[2]), int(line[3])
            w = await write_queue(system, topic, storage_path=storage, backend="lance", num_buckets=NUM_BUCKETS)
            for i in range(first, first + n):
                await w.put({"id": f"r{i}", "value": i})
            await w.flush()
            say({"written": n})
        elif cmd == "read":
            r = await read_queue(system, line[1], storage_path=storage, backend="lance", num_buckets=NUM_BUCKETS)
            got = await r.get(limit=1_000_000)
            say({"values": [rec["value"] for rec in got]})
        else:
            say({"error": f"unknown command {cmd}"})
    await system.shutdown()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))

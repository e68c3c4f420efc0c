"""Several pulsing nodes on the Lance backend (issue #7): buckets land on
different nodes, writers on one node and readers on another see every record
once, and after every node restarts the data is still there.

Both in one process (three actor systems) and in three processes on loopback
ports. Storage paths are absolute: a bucket that moves to another node after
a restart must find its dataset at the same path.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pulsing as pul

try:  # pulsing >= 0.1.1
    from pulsing.streaming import get_storage_manager, read_queue, write_queue
except ImportError:  # pulsing 0.1.0
    from pulsing.queue import get_storage_manager, read_queue, write_queue

from node import cluster_ready

import lance

from persisting.queue import register

HERE = Path(__file__).resolve().parent
NUM_BUCKETS = 6


async def start_cluster(n: int):
    first = await pul.actor_system(addr="127.0.0.1:0")
    systems = [first] + [await pul.actor_system(addr="127.0.0.1:0", seeds=[first.addr]) for _ in range(n - 1)]
    managers = [await get_storage_manager(s) for s in systems]
    # wait for the state, not for a time: every node sees n members alive and
    # resolves every node's storage manager (the deadline only guards a hang)
    deadline = time.monotonic() + 60
    while not all([await cluster_ready(s, n) for s in systems]):
        assert time.monotonic() < deadline, "the nodes did not join"
        await asyncio.sleep(0.05)
    return systems, managers


def rows_on_disk(storage: Path) -> int:
    return sum(lance.dataset(str(p / "data.lance")).count_rows() for p in storage.glob("bucket_*"))


async def test_three_nodes_in_one_process(tmp_path):
    register()
    storage = tmp_path / "queue"
    systems, managers = await start_cluster(3)
    try:
        w = await write_queue(systems[0], "events", storage_path=str(storage), backend="lance", num_buckets=NUM_BUCKETS)
        for i in range(120):
            await w.put({"id": f"r{i}", "value": i})
        await w.flush()

        owners = {s.addr: sorted(b["bucket_id"] for b in await m.list_buckets()) for s, m in zip(systems, managers)}
        assert sorted(sum(owners.values(), [])) == list(range(NUM_BUCKETS)), owners
        assert sum(1 for ids in owners.values() if ids) >= 2, f"all buckets on one node: {owners}"

        r = await read_queue(systems[2], "events", storage_path=str(storage), backend="lance", num_buckets=NUM_BUCKETS)
        values = [rec["value"] for rec in await r.get(limit=10_000)]
        assert sorted(values) == list(range(120))  # every record, once
    finally:
        for s in reversed(systems):
            await s.shutdown()
    assert rows_on_disk(storage) == 120

    systems, _ = await start_cluster(3)  # every node restarted
    try:
        r = await read_queue(systems[1], "events", storage_path=str(storage), backend="lance", num_buckets=NUM_BUCKETS)
        assert sorted(rec["value"] for rec in await r.get(limit=10_000)) == list(range(120))
    finally:
        for s in reversed(systems):
            await s.shutdown()


class Node:
    """A node process (spawned, never forked) driven by node.py's line protocol."""

    def __init__(self, storage: Path, seed: str | None):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "node.py"), seed or "-", str(storage)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        line = self.proc.stdout.readline()
        assert line.startswith("READY "), f"node (seed {seed}) did not start: {line!r}"
        self.addr = line.split()[1]

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"node {self.addr} died on {command!r}"
        return json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)


def start_process_cluster(storage: Path, n: int) -> list[Node]:
    nodes = [Node(storage, None)]
    nodes += [Node(storage, nodes[0].addr) for _ in range(n - 1)]
    deadline = time.monotonic() + 60  # the state, not a time: see start_cluster
    while not all([node.ask(f"ready {n}")["ready"] for node in nodes]):
        assert time.monotonic() < deadline, "the node processes did not join"
        time.sleep(0.05)
    return nodes


def test_three_node_processes(tmp_path):
    storage = tmp_path / "queue"
    nodes = start_process_cluster(storage, 3)
    try:
        assert nodes[0].ask("write events 0 90") == {"written": 90}
        owned = [node.ask("buckets")["buckets"] for node in nodes]
        assert sorted(sum(owned, [])) == list(range(NUM_BUCKETS)), owned
        assert sum(1 for ids in owned if ids) >= 2, f"all buckets in one process: {owned}"
        assert sorted(nodes[2].ask("read events")["values"]) == list(range(90))
        assert nodes[1].ask("write events 90 30") == {"written": 30}
        assert sorted(nodes[0].ask("read events")["values"]) == list(range(120))
    finally:
        for node in nodes:
            node.stop()
    assert rows_on_disk(storage) == 120

    nodes = start_process_cluster(storage, 3)  # every process restarted, on new ports
    try:
        assert sorted(nodes[1].ask("read events")["values"]) == list(range(120))
    finally:
        for node in nodes:
            node.stop()

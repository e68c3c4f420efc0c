"""pulsing's training-data API through a real pulsing 0.1.2 actor system.

Usage: training_scenario.py first|second|rows STORAGE_PATH BACKEND [kill]

- first: starts a system, gets the bucket's actor with pulsing's
  ``get_bucket_ref``, and calls the BucketStorage methods: get_meta before
  anything is stored (an empty batch), put_tensor (numpy
  tensors), get_meta for task "train" (default order) and "eval" (a sampler),
  get_data, mark_consumed, clear. Prints one ``RESULT {json}`` line. With
  ``kill`` it then waits, the system running and nothing closed, for the
  test's SIGKILL; else it shuts the system down.
- second: a new process and system on the same path: get_meta hands out only
  what the first process did not, get_data returns the tensors, a cleared
  index is skipped (also by get), reset_consumption starts the task over.

- rows: put_tensor of rows without tensors (Decimal, aware datetimes, a set)
  and put, on BACKEND "memory" too: the test compares what get returns; then
  (not on memory) a dict of such columns.

BACKEND is "persisting" (PersistingBackend with the WAL) or "lance". The JSON
object in PERSISTING_SCENARIO_BACKEND_OPTIONS is added to the backend options
(storage_options and wal_path for an s3:// STORAGE_PATH).

Both phases end with ``os._exit(0)`` after the system's shutdown: pulsing
0.1.2 itself crashes in interpreter finalization (a script that only starts
and shuts down an actor system exits with SIGSEGV or SIGABRT in most runs),
which would hide this scenario's result. Nothing of ours runs at exit that
the scenario needs: the WAL and the flush already made everything durable.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import os
import sys

import numpy as np
import pulsing as pul
from pulsing.streaming import get_bucket_ref

from persisting.queue import register

TOPIC = "training"
N = 10


class LastFirst:
    """A pulsing-style sampler: the newest ready indexes first; marks them."""

    def sample(self, ready, batch_size, **kwargs):
        picked = sorted(ready, reverse=True)[:batch_size]
        return picked, picked


def options(backend: str) -> dict:
    # An s3:// storage path: the test passes the storage options (and, for
    # the WAL, a local wal_path) in the environment.
    extra = json.loads(os.environ.get("PERSISTING_SCENARIO_BACKEND_OPTIONS", "{}"))
    if backend == "persisting":
        return {"enable_wal": True, "wal_sync_interval": 0.0, "flush_threshold": 100_000, **extra}
    extra.pop("wal_path", None)
    return {"flush_threshold": 100_000, **extra}


def rows_summary(rows: list[dict]) -> list[dict]:
    return [{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in row.items()}
            | {"_shape": list(row["obs"].shape) if "obs" in row else None,
               "_dtype": str(row["obs"].dtype) if "obs" in row else None}
            for row in rows]


async def bucket(system, path: str, backend: str):
    return await get_bucket_ref(system, TOPIC, 0, storage_path=path, backend=backend,
                                backend_options=options(backend))


async def refusals(ref, obs) -> dict:
    """put_tensor of obs in another shape of as many values, and in another dtype:
    each error's message (None: accepted), and the count after them."""
    out = {}
    for name, bad in {"shape": obs[:2].reshape(2, 3, 2), "dtype": obs[:2].astype(np.float64)}.items():
        try:
            await ref.put_tensor({"obs": bad, "step": [0, 1]})
            out[name] = None
        except Exception as exc:  # pulsing's PulsingActorError, carrying the engine's message
            out[name] = str(exc)
    out["count"] = (await ref.stats())["total_count"]
    return out


async def first(path: str, backend: str, kill: bool) -> None:
    system = await pul.actor_system()
    register()
    ref = await bucket(system, path, backend)
    before = await ref.get_meta(["obs", "step"], 4, "train")  # a consumer polling before the producer
    obs = np.arange(N * 6, dtype=np.float32).reshape(N, 2, 3)
    put = await ref.put_tensor({"obs": obs, "step": list(range(N))}, partition_id="p0")
    refused = await refusals(ref, obs)
    read = rows_summary(await ref.get(2, 0)) + [  # what read_queue's readers get
        row for batch in [b async for b in ref.get_stream(1, 2, False, None)] for row in rows_summary(batch)]
    train = await ref.get_meta(["obs", "step"], 4, "train")
    data = await ref.get_data(train, ["obs"])
    evals = await ref.get_meta(["step"], 3, "eval", LastFirst())
    await ref.mark_consumed("train", [6])
    await ref.clear([5])
    if backend == "lance":
        await ref.flush()  # LanceBackend: consumption is fsynced at the flush
    out = {"before": before, "put": put, "train": train["global_indexes"], "train_fields": train["samples"][0]["fields"],
           "data": rows_summary(data), "eval": evals["global_indexes"], "refused": refused, "read": read}
    print("RESULT " + json.dumps(out), flush=True)
    if kill:
        await asyncio.sleep(3600)
    await system.shutdown()


async def second(path: str, backend: str) -> None:
    system = await pul.actor_system()
    register()
    ref = await bucket(system, path, backend)
    refused = await refusals(ref, np.zeros((N, 2, 3), np.float32))
    train = await ref.get_meta(["obs"], 100, "train")
    evals = await ref.get_meta(["step"], 100, "eval")
    data = await ref.get_data({"global_indexes": [9, 5, 0]}, ["obs", "step"])
    await ref.reset_consumption("train")
    again = await ref.get_meta(["obs"], 100, "train")
    out = {"train": train["global_indexes"], "eval": evals["global_indexes"],
           "data": rows_summary(data), "after_reset": again["global_indexes"],
           "count": (await ref.stats())["total_count"], "refused": refused,
           "get": [r["step"] for r in await ref.get(4, 3)]}
    print("RESULT " + json.dumps(out), flush=True)
    await system.shutdown()


def plain(value):
    """A value as JSON, equal for equal values (an aware datetime as its instant)."""
    if isinstance(value, datetime.datetime):
        return ["datetime", value.timestamp()]
    if isinstance(value, decimal.Decimal):
        return ["Decimal", str(value)]
    return sorted(value) if isinstance(value, set) else value


async def rows(path: str, backend: str) -> None:
    """put_tensor of rows without tensors, then put, as pulsing's MemoryBackend takes them
    (records): what get returns, and how a set (no order to keep) is answered."""
    system = await pul.actor_system()
    register()
    ref = await get_bucket_ref(system, TOPIC, 0, storage_path=path, backend=backend)
    plus_one = datetime.timezone(datetime.timedelta(hours=1))
    await ref.put_tensor([{"v": decimal.Decimal("1.5"), "when": datetime.datetime(2024, 1, 1, tzinfo=plus_one)}])
    await ref.put({"v": decimal.Decimal("12345.5"), "when": datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc)})
    await ref.put_tensor({"v": decimal.Decimal("-2.5"), "when": None})  # a dict holding no column: one row
    try:
        await ref.put_tensor([{"v": None, "when": None, "tags": {"a", "b"}}])
        refused = None
    except Exception as exc:  # pulsing's PulsingActorError, carrying the engine's message
        refused = str(exc)
    columns = None
    if backend != "memory":  # MemoryBackend stores a dict as one record, not as columns
        try:
            await ref.put_tensor({"v": [None], "when": [None], "tags": [{"a", "b"}]})
        except Exception as exc:
            columns = str(exc)
        await ref.put_tensor({"v": [decimal.Decimal("7.5"), None], "when": [None, None]})
    got = [{k: plain(v) for k, v in row.items()} for row in await ref.get(10, 0)]
    count, tensors = (await ref.stats())["total_count"], None
    if backend == "persisting":  # evolving: a record adding a field keeps the tensor field's type
        await ref.put_tensor({"obs": np.zeros((1, 2, 3), np.float32)})
        await ref.put({"extra": 1})
        tensors = str(await ref.put_tensor({"obs": np.ones((1, 2, 3), np.float32)}))
        # the record's row holds no tensor (null): the others still come as arrays of their shape
        tensors = [tensors] + [None if r["obs"] is None else [str(r["obs"].dtype), *r["obs"].shape]
                               for r in await ref.get(3, count)]
    print("RESULT " + json.dumps({"rows": got, "set": refused, "columns_set": columns, "count": count,
                                  "tensors_after_a_record": tensors}), flush=True)
    await system.shutdown()


if __name__ == "__main__":
    phase, path, backend = sys.argv[1:4]
    if phase == "first":
        asyncio.run(first(path, backend, kill=len(sys.argv) > 4 and sys.argv[4] == "kill"))
    elif phase == "rows":
        asyncio.run(rows(path, backend))
    else:
        asyncio.run(second(path, backend))
    sys.stdout.flush()
    os._exit(0)

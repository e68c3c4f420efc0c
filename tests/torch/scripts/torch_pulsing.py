"""Real torch tensors and a real TensorDict through a real pulsing 0.1.2 actor system.

Usage: torch_pulsing.py STORAGE_PATH BACKEND ("persisting" or "lance")

Gets the bucket's actor with pulsing's ``get_bucket_ref`` and calls
BucketStorage's ``put_tensor`` (a dict of torch tensors, then a TensorDict),
``get_meta``, ``get_data`` and ``flush``; prints one ``RESULT {json}`` line
with each returned value's type, dtype, shape and values. Ends with
``os._exit(0)`` after the shutdown, as tests/python/scripts/training_scenario.py
does (pulsing 0.1.2 crashes in interpreter finalization).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import torch
from tensordict import TensorDict

ROWS = 4


def inputs():
    """The two puts (the test imports this to know what must come back)."""
    n = ROWS
    first = {"obs": torch.arange(n * 6, dtype=torch.float16).reshape(n, 2, 3),
             "action": torch.arange(n, dtype=torch.int32),
             "logp": torch.arange(n * 3, dtype=torch.float32).reshape(n, 3).requires_grad_() * 2}
    second = TensorDict({"obs": torch.arange(n * 6, 2 * n * 6, dtype=torch.float16).reshape(3, 2, n).permute(2, 1, 0),
                         "action": torch.arange(10, 10 + 2 * n, dtype=torch.int32)[::2],
                         "logp": -torch.arange(n * 3, dtype=torch.float32).reshape(3, n).t()}, batch_size=[n])
    return first, second


def described(value):
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return {"type": type(value).__name__, "dtype": str(value.dtype), "shape": list(value.shape),
                "value": value.tolist()}
    return {"type": type(value).__name__, "value": value}


async def main(path: str, backend: str) -> None:
    import pulsing as pul
    from pulsing.streaming import get_bucket_ref

    from persisting.queue import register

    system = await pul.actor_system()
    register()
    options = {"enable_wal": True, "flush_threshold": 100_000} if backend == "persisting" else {}
    ref = await get_bucket_ref(system, "torch", 0, storage_path=path, backend=backend, backend_options=options)
    first, second = inputs()
    puts = [await ref.put_tensor(first, partition_id="p0"), await ref.put_tensor(second, partition_id="p0")]
    meta = await ref.get_meta(["obs", "logp"], 2 * ROWS - 1, "train")
    data = await ref.get_data(meta, ["obs", "action", "logp"])
    rest = await ref.get_meta(["obs"], 10, "train")
    await ref.flush()
    out = {"puts": puts, "train": meta["global_indexes"], "fields": meta["samples"][0]["fields"],
           "data": [{k: described(v) for k, v in row.items()} for row in data], "rest": rest["global_indexes"]}
    print("RESULT " + json.dumps(out), flush=True)
    await system.shutdown()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:3]))
    sys.stdout.flush()
    os._exit(0)

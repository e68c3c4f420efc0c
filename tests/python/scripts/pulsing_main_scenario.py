"""pulsing main's BucketStorage (not yet released) over our backends, hosted by pulsing 0.1.2.

Usage: pulsing_main_scenario.py MAIN_STREAMING_DIR STORAGE_PATH BACKEND

MAIN_STREAMING_DIR holds ``backend.py`` and ``storage.py`` of pulsing main's
``python/pulsing/streaming`` (the test copies them out of a snapshot). They
load as the package ``pulsing_main_streaming`` on the installed pulsing's
``pulsing.core``; our backends are registered in main's own registry with
``register(main.register_backend)``, and one BucketStorage actor is started on
a real actor system. main decides once, at ``on_start``, whether the backend
is a ``TensorBackend`` and a ``ConsumptionBackend`` (runtime-checkable
protocols) and then calls the training methods the way it does here. Prints
one ``RESULT {json}`` line; ends with ``os._exit(0)`` (see training_scenario.py).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import types

import numpy as np
import pulsing as pul

from persisting.queue import LanceBackend, PersistingBackend, register

PACKAGE = "pulsing_main_streaming"
N = 10


def load_main(directory: str) -> tuple[types.ModuleType, types.ModuleType]:
    package = types.ModuleType(PACKAGE)
    package.__path__ = [directory]
    sys.modules[PACKAGE] = package
    loaded = []
    for name in ("backend", "storage"):
        spec = importlib.util.spec_from_file_location(f"{PACKAGE}.{name}", os.path.join(directory, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        loaded.append(module)
    return loaded[0], loaded[1]


class LastFirst:
    def sample(self, ready, batch_size, **kwargs):
        picked = sorted(ready, reverse=True)[:batch_size]
        return picked, picked


async def main(directory: str, path: str, backend: str) -> dict:
    protocols, storage = load_main(directory)
    registered = register(protocols.register_backend)
    kinds = {}
    for cls in (LanceBackend, PersistingBackend):
        with cls(0, os.path.join(path, f"probe-{cls.__name__}")) as probe:
            kinds[cls.__name__] = [isinstance(probe, p) for p in (
                protocols.StorageBackend, protocols.TensorBackend, protocols.ConsumptionBackend)]
    system = await pul.actor_system()
    options = {"enable_wal": True, "wal_sync_interval": 0.0} if backend == "persisting" else {}
    ref = await storage.BucketStorage.local(system, bucket_id=0, storage_path=os.path.join(path, "bucket_0"),
                                            backend=backend, backend_options=options)
    before = await ref.get_meta(["obs", "step"], 4, "train")  # a consumer polling before the producer
    before_data = await ref.get_data(before, ["obs"])
    obs = np.arange(N * 6, dtype=np.float32).reshape(N, 2, 3)
    put = await ref.put_tensor({"obs": obs, "step": list(range(N))}, partition_id="p0")
    train = await ref.get_meta(["obs", "step"], 4, "train", partition_id="p0")
    data = await ref.get_data(train, ["obs"])
    evals = await ref.get_meta(["step"], 3, "eval", LastFirst())
    await ref.mark_consumed("train", [6])
    await ref.clear([5])
    rest = await ref.get_meta(["step"], 100, "train")
    by_index = await ref.get_data({"global_indexes": [9, 5, 0]}, ["step"])
    await ref.reset_consumption("eval")
    eval_again = await ref.get_meta(["step"], 100, "eval")
    stats = await ref.stats()
    await system.shutdown()
    return {
        "registered": registered, "protocols": kinds,
        "before": before, "before_data": before_data, "put": put,
        "train_type": type(train).__name__, "train": train["global_indexes"],
        "train_partition": train["samples"][0]["partition_id"], "train_fields": train["samples"][0]["fields"],
        "data": [[list(r["obs"].shape), str(r["obs"].dtype), r["obs"].tolist()] for r in data],
        "eval": evals["global_indexes"], "rest": rest["global_indexes"],
        "by_index": [r["step"] for r in by_index], "eval_again": eval_again["global_indexes"],
        "count": stats["total_count"], "backend": stats["backend"],
    }


if __name__ == "__main__":
    result = asyncio.run(main(*sys.argv[1:4]))
    print("RESULT " + json.dumps(result), flush=True)
    os._exit(0)

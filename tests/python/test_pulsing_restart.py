"""A bucket's actor stopped and created again in the same process, with real pulsing 0.1.0 and 0.1.2:
a system shut down while a reader waits in ``get(wait=True)`` and started again. pulsing's
``BucketStorage.on_stop`` does not close its backend, and the waiting stream kept the old backend (and
so the bucket) alive: the new system's bucket actor failed with BusyError ("Actor mailbox closed")."""

from __future__ import annotations

import json

import pytest

from helpers import child_env, explain, run_python

SCENARIO = r"""
import asyncio, gc, json, os, sys
import lance
import pulsing as pul
try:
    from pulsing.streaming import read_queue, write_queue
except ImportError:
    from pulsing.queue import read_queue, write_queue
from persisting.queue import LanceBackend, register

PATH = sys.argv[1]
OPTS = dict(backend="lance", storage_path=PATH, num_buckets=1)

async def main():
    register()
    first = await pul.actor_system()
    writer = await write_queue(first, "events", **OPTS)
    await writer.put({"id": "a", "n": 0})  # not flushed
    reader = await read_queue(first, "events", **OPTS)
    waiting = asyncio.ensure_future(reader.get(limit=2, wait=True))  # has "a", waits for a second record
    backend = next(o for o in gc.get_objects() if isinstance(o, LanceBackend))
    while not backend._waiters:  # the reader waits inside the bucket's backend
        await asyncio.sleep(0.01)
    await first.shutdown()
    out = {"closed": backend.closed, "on_disk": lance.dataset(f"{PATH}/bucket_0/data.lance").count_rows()
           if os.path.isdir(f"{PATH}/bucket_0/data.lance") else 0}
    waiting.cancel()
    second = await pul.actor_system()
    try:
        writer = await write_queue(second, "events", **OPTS)
        await writer.put({"id": "b", "n": 1})
        await writer.flush()
        reader = await read_queue(second, "events", **OPTS)
        out["again"] = sorted(r["n"] for r in await reader.get(limit=10))
    except Exception as exc:
        out["again"] = f"{type(exc).__name__}: {exc}"
    await second.shutdown()
    print("RESULT " + json.dumps(out), flush=True)

asyncio.run(main())
os._exit(0)  # pulsing 0.1.2 may crash in interpreter finalization (docs/troubleshooting.md)
"""


@pytest.mark.parametrize("version", ["0.1.0", "0.1.2"])
def test_system_started_again_while_a_reader_waited(version, tmp_path):
    from test_pulsing_e2e import ensure_venv

    proc = run_python(SCENARIO, str(tmp_path / "q"), python=str(ensure_venv(version)), env=child_env(),
                      timeout=300)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, explain(proc)
    result = json.loads(line[len("RESULT "):])
    assert result["closed"] and result["on_disk"] == 1, result  # shutdown flushed and released the bucket
    assert result["again"] == [0, 1], result  # the bucket's new actor opened it: nothing lost

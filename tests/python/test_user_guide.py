"""The user guide's code (``/work/shared/seed/user-guide.md``), run as written
against real pulsing actor systems, 0.1.0 and 0.1.2.

The guide registers only ``"lance"`` and then passes the class itself,
``write_queue(system, "topic", backend=LanceBackend)``; pulsing turns a class
into its ``__name__`` and looks that up in the bucket owner's registry, so
``persisting.queue`` registers the class names when it is imported. The guide
imports ``pulsing.queue``, which exists only in 0.1.0; 0.1.1+ moved it to
``pulsing.streaming`` (docs/troubleshooting.md), the one change made here.
"""

from __future__ import annotations

import json
import sys

import pytest

from helpers import child_env, explain, run_python
from test_pulsing_e2e import ensure_venv

GUIDE = """
import asyncio, json, os
import pulsing as pul

async def main():
    # "Backend Registration", as the guide writes it
    from pulsing.queue import register_backend
    from persisting.queue import LanceBackend

    register_backend("lance", LanceBackend)

    # "Backend Selection"
    from pulsing.queue import write_queue, read_queue
    system = await pul.actor_system()
    seen = {}
    try:
        # By name (must be registered)
        writer = await write_queue(system, "topic", backend="lance")
        await writer.put({"id": "a", "v": 1})
        await writer.flush()
        # By class directly
        by_class = await write_queue(system, "topic_by_class", backend=LanceBackend)
        await by_class.put({"id": "b", "v": 2})
        await by_class.flush()
        for topic in ("topic", "topic_by_class"):
            reader = await read_queue(system, topic, backend="lance")
            seen[topic] = await reader.get(limit=10)
    finally:
        await system.shutdown()
        await asyncio.sleep(0.2)
    import lance
    on_disk = {}
    for topic in ("topic", "topic_by_class"):
        root = os.path.join("queue_storage", topic)   # pulsing's default storage_path
        datasets = [os.path.join(root, b, "data.lance") for b in sorted(os.listdir(root))]
        on_disk[topic] = sum(lance.dataset(d).count_rows() for d in datasets if os.path.isdir(d))
    print("RESULT " + json.dumps({"seen": seen, "on_disk": on_disk}))

asyncio.run(main())
"""


@pytest.mark.parametrize("version", ["0.1.0", "0.1.2"])
def test_user_guide_code_runs(version, tmp_path):
    if version == "0.1.0":
        python, code = str(ensure_venv(version)), GUIDE
    else:
        import pulsing
        assert pulsing.__version__ == version, pulsing.__version__  # what this interpreter has
        python, code = sys.executable, GUIDE.replace("pulsing.queue", "pulsing.streaming")
    proc = run_python(code, python=python, cwd=tmp_path, timeout=180, env=child_env(RUST_LOG="error"))
    assert proc.returncode == 0, explain(proc)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, explain(proc)
    result = json.loads(line[len("RESULT "):])
    assert result["seen"] == {"topic": [{"id": "a", "v": 1}], "topic_by_class": [{"id": "b", "v": 2}]}
    assert result["on_disk"] == {"topic": 1, "topic_by_class": 1}


def test_import_registers_the_class_names_pulsing_looks_up():
    proc = run_python("""
from pulsing.streaming import get_backend_class
import persisting.queue as q
assert get_backend_class("LanceBackend") is q.LanceBackend
assert get_backend_class("PersistingBackend") is q.PersistingBackend
""")
    assert proc.returncode == 0, explain(proc)

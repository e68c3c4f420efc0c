"""storage_path problems: each a clear StorageError, and nothing already accepted lost.

Tests run as root here, and chmod does not stop root, so "not writable" is made
real with a read-only mount inside a private mount namespace (``unshare -m``):
nothing leaks into the host's mounts even if a test dies.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys

import pytest

from helpers import child_env, explain
from persisting import StorageError
from persisting.queue import LanceBackend


def rec(i: int) -> dict:
    return {"id": f"k{i}", "seq": i}


def run_in_private_mounts(shell: str, timeout: float = 120) -> subprocess.CompletedProcess:
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed for the read-only mount tests"
    return subprocess.run(
        [unshare, "-m", "--propagation", "private", "sh", "-euc", shell],
        capture_output=True, text=True, timeout=timeout, env=child_env(),
    )


def test_storage_path_is_a_regular_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("not a directory")
    with pytest.raises(StorageError, match="file"):
        LanceBackend(0, str(f))
    assert f.read_text() == "not a directory"


def test_storage_path_under_a_regular_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StorageError):
        LanceBackend(0, str(f / "queue" / "bucket_0"))


def test_data_lance_is_a_regular_file(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "data.lance").write_text("garbage")
    with pytest.raises(StorageError):
        b = LanceBackend(0, str(tmp_path / "b"))
        try:
            asyncio.run(b.put(rec(0)))
            asyncio.run(b.flush())
        finally:
            try:
                b.close()
            except StorageError:
                pass


SCRIPT_NEW_BUCKET_ON_READONLY = """
import sys
from persisting import StorageError
from persisting.queue import LanceBackend
try:
    LanceBackend(0, sys.argv[1])
except StorageError as e:
    print("StorageError:", e)
else:
    import asyncio
    b = LanceBackend(0, sys.argv[1])
    asyncio.run(b.put({"a": 1}))
    try:
        asyncio.run(b.flush())
    except StorageError as e:
        print("StorageError at flush:", e)
    print("readable:", asyncio.run(b.get()))
"""


def test_new_bucket_on_a_read_only_file_system(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    script = tmp_path / "script.py"
    script.write_text(SCRIPT_NEW_BUCKET_ON_READONLY)
    proc = run_in_private_mounts(
        f"mount -t tmpfs -o ro,size=1m tmpfs {ro} && {sys.executable} {script} {ro}/bucket_0"
    )
    assert proc.returncode == 0, explain(proc)
    assert "StorageError" in proc.stdout, explain(proc)


SCRIPT_EXISTING_BUCKET_READONLY = """
import asyncio, sys
from persisting import StorageError
from persisting.queue import LanceBackend

async def main():
    try:
        b = LanceBackend(0, sys.argv[1], batch_size=2)
    except StorageError as e:  # refused up front: fine, as long as it says why
        print("open StorageError:", e)
        return
    before = await b.get()
    print("recovered", len(before))
    for i in range(3, 6):
        await b.put({"id": f"k{i}", "seq": i})
    try:
        await b.flush()
    except StorageError as e:
        print("flush StorageError:", type(e).__name__, e)
    else:
        print("flush succeeded on a read-only mount")
    rows = await b.get()
    print("readable", [r["seq"] for r in rows])
    try:
        b.close()
    except StorageError as e:
        print("close StorageError:", e)

asyncio.run(main())
"""


async def test_flush_to_a_read_only_bucket_fails_clearly_and_keeps_records(tmp_path):
    path = tmp_path / "bucket_0"
    b = LanceBackend(0, str(path))
    for i in range(3):
        await b.put(rec(i))
    await b.flush()
    b.close()
    script = tmp_path / "script.py"
    script.write_text(SCRIPT_EXISTING_BUCKET_READONLY)
    proc = run_in_private_mounts(
        f"mount --bind {path} {path} && mount -o remount,bind,ro {path} && {sys.executable} {script} {path}"
    )
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout
    if "open StorageError" in out:  # the engine checks writability when it opens
        assert "writable" in out or "read-only" in out, explain(proc)
    else:  # or when it writes: the records stay readable
        assert "recovered 3" in out, explain(proc)
        assert "flush StorageError" in out, explain(proc)
        assert "readable [0, 1, 2, 3, 4, 5]" in out, explain(proc)
    # the bucket on disk is untouched
    b = LanceBackend(0, str(path))
    try:
        assert await b.get() == [rec(i) for i in range(3)]
    finally:
        b.close()


SCRIPT_CLOSE_ON_A_FULL_DISK = """
import asyncio, os, sys
import lance
from persisting import StorageError
from persisting.queue import LanceBackend

mnt = sys.argv[1]

def fill():
    st = os.statvfs(mnt)
    with open(os.path.join(mnt, "ballast"), "wb") as f:
        try:
            f.write(bytes(st.f_bavail * st.f_frsize))
        except OSError:
            pass

async def main():
    path = os.path.join(mnt, "bucket_0")
    b = LanceBackend(0, path, flush_threshold=100_000)
    await b.put_batch([{"id": f"k{i}", "seq": i} for i in range(500)])
    fill()
    try:
        b.close()
    except StorageError as e:
        print("close failed:", e)
    print("closed after the failure:", b.closed)
    print("get:", [r["seq"] for r in await b.get()] == list(range(500)))
    await b.put({"id": "k500", "seq": 500})
    os.remove(os.path.join(mnt, "ballast"))
    await b.aclose()
    print("closed once space is back:", b.closed)
    seqs = lance.dataset(os.path.join(path, "data.lance")).to_table().column("seq").to_pylist()
    print("pylance:", seqs == list(range(501)))
    # left open at exit on a full disk: the finalizer logs, neither hangs nor raises
    left = LanceBackend(1, os.path.join(mnt, "bucket_1"))
    await left.put({"id": "x", "seq": 0})
    fill()

asyncio.run(main())
"""


def test_close_on_a_full_disk_keeps_the_records_until_space_is_back(tmp_path):
    """A bucket without the WAL whose close cannot flush (ENOSPC) stays open with its records:
    the close raises naming the path, get() returns every record, a close after space is back
    stores them all (pylance reads each once). Left open at exit, it is logged."""
    mnt, script = tmp_path / "mnt", tmp_path / "script.py"
    mnt.mkdir()
    script.write_text(SCRIPT_CLOSE_ON_A_FULL_DISK)
    proc = run_in_private_mounts(f"mount -t tmpfs -o size=2m tmpfs {mnt} && {sys.executable} {script} {mnt}")
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout
    assert "close failed:" in out and "no space left on device" in out and f"{mnt}/bucket_0/data.lance" in out, \
        explain(proc)
    for line in ("closed after the failure: False", "get: True", "closed once space is back: True",
                 "pylance: True"):
        assert line in out, explain(proc)
    assert "bucket_1 failed; records no WAL holds are lost" in proc.stderr, explain(proc)
    assert "stays open with its 1 unflushed rows" in proc.stderr, explain(proc)

"""Zero copies, proven (issue #6), with the boundary ledger of the test build.

The ledger (``stats()["boundary"]``) is compiled only into
``build/testhooks/libpersisting.so`` (``./build.sh testhooks``); one process
loads one Go library, so the cases (``scripts/zero_copy_cases.py``) run in a
spawned pytest with ``PERSISTING_LIB`` naming that build. The shipped library
must not report the ledger.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, SCRIPTS, child_env, explain, run_python

HERE = Path(__file__).resolve().parent


def hooks_library() -> Path:
    lib = Path(os.environ.get("PERSISTING_TESTHOOKS_LIB") or REPO / "build" / "testhooks" / "libpersisting.so")
    if not lib.is_file():  # a missing build must not pass as a skipped proof
        pytest.fail(f"{lib} is missing: build it with `./build.sh testhooks` (or `make lib-testhooks`)",
                    pytrace=False)
    return lib


def test_zero_copy_cases_with_the_test_hooks_library(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-c", str(HERE / "pytest.ini"), "--rootdir", str(HERE),
         "--basetemp", str(tmp_path / "cases"), str(SCRIPTS / "zero_copy_cases.py")],
        capture_output=True, text=True, timeout=900, cwd=HERE,
        env=child_env(PERSISTING_LIB=str(hooks_library())),
    )
    assert proc.returncode == 0 and " passed" in proc.stdout, explain(proc)


def test_the_shipped_library_has_no_boundary_ledger(tmp_path):
    proc = run_python(f"""
import asyncio
import pyarrow as pa
from persisting.queue import LanceBackend
b = LanceBackend(0, {str(tmp_path / "b")!r})
asyncio.run(b.put_arrow(pa.table({{"x": [1, 2]}})))
print("BOUNDARY" if "boundary" in asyncio.run(b.stats()) else "NO LEDGER")
b.close()
""")
    assert proc.returncode == 0 and "NO LEDGER" in proc.stdout, explain(proc)
